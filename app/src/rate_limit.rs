//! The per-client rate limiter: a thin tower layer over `governor`'s keyed GCRA limiter.
//!
//! - Clients are keyed by [`client_ip`](crate::client_ip::client_ip) (the socket peer, or the
//!   address our trusted proxies vouch for in `X-Forwarded-For`).
//! - A throttled request gets 429 with `Retry-After`: the wait in whole seconds, rounded UP (a
//!   client told "0" retries at once and is throttled again). Its JSON body is added by
//!   [`json_errors`](crate::error::json_errors).
//! - Two limiters, each a [`RateLimit`]: every request counts against the read quota
//!   (`RATE_LIMIT_RPS`/`_BURST`); a write (any method but GET, HEAD and OPTIONS) counts against
//!   the much stricter write quota too (`WRITE_RATE_LIMIT_PER_MINUTE`/`_BURST`,
//!   [`RateLimit::writes_only`]): a client may read freely, but cannot fill the storage.
//! - The key table holds one entry per client seen. A thread forgets the clients whose budget
//!   is full again and gives the table's memory back ([`RateLimit::prune`]), every
//!   [`PRUNE_EVERY`]; it runs whether or not the router is built inside a tokio runtime, and
//!   stops once the limiter is dropped.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use tower::{Layer, Service};

use crate::client_ip::client_ip;
use crate::error::ApiError;

/// How often idle clients are forgotten.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

type Limiter<C> = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The quota for `rps` requests per second sustained and bursts of `burst`.
///
/// `rps` above 10^9 would make the interval between two requests shorter than governor's
/// 1 ns resolution; it is clamped to that (the configuration refuses such values already).
pub fn quota(rps: NonZeroU32, burst: NonZeroU32) -> Quota {
    let nanos = (1_000_000_000 / u64::from(rps.get())).max(1);
    // Quota::with_period is None only for a zero period, excluded by the max(1) above.
    Quota::with_period(Duration::from_nanos(nanos)).map_or_else(|| Quota::per_second(rps), |q| q.allow_burst(burst))
}

/// The write quota: `per_minute` writes per minute sustained, bursts of `burst`.
pub fn write_quota(per_minute: NonZeroU32, burst: NonZeroU32) -> Quota {
    Quota::per_minute(per_minute).allow_burst(burst)
}

/// The rate limiter, shared by every clone of its layer.
#[derive(Debug)]
pub struct RateLimit<C: Clock = DefaultClock> {
    limiter: Arc<Limiter<C>>,
    trusted_hops: usize,
    /// Count only writes (not GET, HEAD or OPTIONS); the others pass untouched.
    writes_only: bool,
}

impl<C: Clock> Clone for RateLimit<C> {
    fn clone(&self) -> Self {
        Self { limiter: self.limiter.clone(), trusted_hops: self.trusted_hops, writes_only: self.writes_only }
    }
}

impl<C: Clock> RateLimit<C> {
    /// This limiter counts writes only: GET, HEAD and OPTIONS pass without touching its budget.
    #[must_use]
    pub fn writes_only(mut self) -> Self {
        self.writes_only = true;
        self
    }
}

/// Whether `method` writes (counts against the write quota).
pub fn is_write(method: &axum::http::Method) -> bool {
    use axum::http::Method;
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl RateLimit<DefaultClock> {
    /// The production limiter (the system's monotonic clock), pruned every [`PRUNE_EVERY`].
    pub fn new(quota: Quota, trusted_hops: usize) -> Self {
        Self::with_clock(quota, trusted_hops, DefaultClock::default(), PRUNE_EVERY)
    }
}

impl<C> RateLimit<C>
where
    C: Clock + Send + Sync + 'static,
{
    /// A limiter reading `clock` (tests pass governor's `FakeRelativeClock`), pruned every
    /// `prune_every` by its own thread.
    pub fn with_clock(quota: Quota, trusted_hops: usize, clock: C, prune_every: Duration) -> Self {
        let limiter = Arc::new(RateLimiter::dashmap_with_clock(quota, clock));
        spawn_pruner(Arc::downgrade(&limiter), prune_every);
        Self { limiter, trusted_hops, writes_only: false }
    }

    /// Count a request from `client`: `Ok`, or how long until it would be allowed.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.limiter.check_key(&client).map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Clients in the key table.
    pub fn clients(&self) -> usize {
        self.limiter.len()
    }

    /// Forget every client whose budget is full again (its entry is the same as a new
    /// client's), then shrink the table so its memory goes back to the allocator.
    pub fn prune(&self) {
        prune(&self.limiter);
    }
}

fn prune<C: Clock>(limiter: &Limiter<C>) {
    limiter.retain_recent();
    limiter.shrink_to_fit();
}

/// A thread, not a tokio task: it runs whoever builds the limiter, inside a runtime or not.
/// It holds the limiter weakly and ends at the first tick after the limiter is dropped.
fn spawn_pruner<C>(limiter: Weak<Limiter<C>>, every: Duration)
where
    C: Clock + Send + Sync + 'static,
{
    let pruner = std::thread::Builder::new().name("rate-limit-prune".into()).spawn(move || {
        loop {
            std::thread::sleep(every);
            let Some(limiter) = limiter.upgrade() else { return };
            prune(&limiter);
        }
    });
    if let Err(e) = pruner {
        tracing::error!(error = %e, "cannot start the rate limiter's pruning thread: its key table will only grow");
    }
}

/// Whole seconds to wait, rounded up and at least 1 (`Retry-After` has a resolution of seconds).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The 429 for a client that must wait `wait`.
pub fn too_many_requests(wait: Duration) -> Response {
    let mut res = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests; retry after the Retry-After delay",
    )
    .into_response();
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
    res
}

impl<S, C: Clock> Layer<S> for RateLimit<C> {
    type Service = RateLimited<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited { inner, limit: self.clone() }
    }
}

/// The service [`RateLimit`] wraps a route in.
#[derive(Debug)]
pub struct RateLimited<S, C: Clock = DefaultClock> {
    inner: S,
    limit: RateLimit<C>,
}

impl<S: Clone, C: Clock> Clone for RateLimited<S, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), limit: self.limit.clone() }
    }
}

impl<S, B, C> Service<Request<B>> for RateLimited<S, C>
where
    S: Service<Request<B>, Response = Response>,
    C: Clock + Send + Sync + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RateLimitedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.limit.writes_only && !is_write(req.method()) {
            return RateLimitedFuture::Allowed { inner: self.inner.call(req) };
        }
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        // Without a peer address (never the case behind `serve`), share one bucket rather than fail.
        let client =
            client_ip(req.headers(), peer, self.limit.trusted_hops).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        match self.limit.check(client) {
            Ok(()) => RateLimitedFuture::Allowed { inner: self.inner.call(req) },
            Err(wait) => RateLimitedFuture::Limited { response: Some(too_many_requests(wait)) },
        }
    }
}

pin_project_lite::pin_project! {
    /// The route's own future, or the 429 ready at once.
    #[project = Proj]
    pub enum RateLimitedFuture<F> {
        Allowed { #[pin] inner: F },
        Limited { response: Option<Response> },
    }
}

impl<F, E> Future for RateLimitedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Proj::Allowed { inner } => inner.poll(cx),
            Proj::Limited { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_else(|| too_many_requests(Duration::ZERO))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    const HOUR: Duration = Duration::from_secs(3600);

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_0() {
        for (wait_ms, secs) in
            [(0, 1), (1, 1), (250, 1), (999, 1), (1000, 1), (1001, 2), (1500, 2), (2000, 2), (2001, 3)]
        {
            assert_eq!(retry_after_secs(Duration::from_millis(wait_ms)), secs, "{wait_ms} ms");
        }
        assert_eq!(retry_after_secs(Duration::from_nanos(1)), 1);
    }

    #[test]
    fn the_429_says_how_many_seconds_to_wait() {
        let res = too_many_requests(Duration::from_millis(1500));
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
        assert_eq!(res.extensions().get::<ApiError>().map(|e| e.code), Some("rate_limited"));
    }

    #[test]
    fn quota_of_any_rate_is_valid() {
        for rps in [1, 3, 50, 1_000_000_000, 2_000_000_000, u32::MAX] {
            let q = quota(nz(rps), nz(7));
            assert!(q.replenish_interval() >= Duration::from_nanos(1), "{rps}");
            assert_eq!(q.burst_size().get(), 7);
        }
        assert_eq!(quota(nz(4), nz(1)).replenish_interval(), Duration::from_millis(250));
    }

    #[test]
    fn burst_then_the_exact_wait_for_the_next_request() {
        let clock = FakeRelativeClock::default();
        let limit = RateLimit::with_clock(quota(nz(4), nz(3)), 0, clock.clone(), HOUR);
        for _ in 0..3 {
            assert_eq!(limit.check(ip(1)), Ok(()));
        }
        assert_eq!(limit.check(ip(1)), Err(Duration::from_millis(250)));
        assert_eq!(limit.check(ip(2)), Ok(()), "another client has its own budget");
        clock.advance(Duration::from_millis(100));
        assert_eq!(limit.check(ip(1)), Err(Duration::from_millis(150)));
        clock.advance(Duration::from_millis(150));
        assert_eq!(limit.check(ip(1)), Ok(()));
        assert_eq!(limit.check(ip(1)), Err(Duration::from_millis(250)));
    }

    #[test]
    fn prune_forgets_clients_whose_budget_is_full_again_and_keeps_the_others() {
        let clock = FakeRelativeClock::default();
        let limit = RateLimit::with_clock(quota(nz(1), nz(2)), 0, clock.clone(), HOUR);
        for n in 0..1000 {
            limit.check(ip(n)).unwrap();
        }
        assert_eq!(limit.clients(), 1000);
        limit.prune();
        assert_eq!(limit.clients(), 1000, "every budget is still in use");
        clock.advance(Duration::from_secs(5));
        limit.check(ip(7)).unwrap();
        limit.prune();
        assert_eq!(limit.clients(), 1, "only the client seen since is kept");
    }

    #[test]
    fn the_pruning_thread_runs_outside_any_runtime_and_stops_with_the_limiter() {
        assert!(tokio::runtime::Handle::try_current().is_err(), "this test must run outside a runtime");
        let clock = FakeRelativeClock::default();
        let limit = RateLimit::with_clock(quota(nz(1), nz(1)), 0, clock.clone(), Duration::from_millis(5));
        for n in 0..500 {
            limit.check(ip(n)).unwrap();
        }
        clock.advance(Duration::from_secs(10));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while limit.clients() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the pruning thread never pruned: {} clients",
                limit.clients()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let weak = Arc::downgrade(&limit.limiter);
        drop(limit);
        assert!(weak.upgrade().is_none(), "the thread holds the limiter only weakly");
    }
}
