//! The access log: one line per logged response, with everything about the request in its own
//! fields (method, path, status, latency in microseconds, request id), so a line needs no span.
//!
//! `ACCESS_LOG` picks which responses are logged: `errors` (the default: 4xx, 5xx, and any
//! response slower than [`SLOW_RESPONSE`]), `all`, or `off`.
//!
//! Throttled (429) and unavailable (503) answers get no line each, in any mode but `off`: they
//! are counted and summarised once per interval ([`crate::log_summary`]), so a flood of cheap
//! refusals cannot flood the log.
//!
//! Each request also runs in a `request` span (method, path, request id) at DEBUG level, as
//! tower-http's `TraceLayer` makes it by default: with `RUST_LOG=debug` (or `app=debug`) every
//! line a handler logs carries the request's context. At the default `info` the span is never
//! built, which is most of what logging used to cost per request (docs/PERFORMANCE.md).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::http::{Method, Request, Response, Uri};
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::instrument::Instrumented;

use crate::AccessLog;
use crate::log_summary::Summaries;

/// A response at least this slow is logged even when only errors are (`ACCESS_LOG=errors`).
pub const SLOW_RESPONSE: Duration = Duration::from_secs(1);

/// Logs responses as `ACCESS_LOG` says. Put it inside the layer that sets the request id and
/// outside the one that copies it to the response: the line reads the id from the response.
#[derive(Debug, Clone)]
pub struct AccessLogLayer {
    mode: AccessLog,
    summaries: Summaries,
}

impl AccessLogLayer {
    /// Lines as `mode` says; 429s and 503s counted into `summaries`.
    pub fn new(mode: AccessLog, summaries: Summaries) -> Self {
        Self { mode, summaries }
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLogService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLogService { inner, mode: self.mode, summaries: self.summaries.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct AccessLogService<S> {
    inner: S,
    mode: AccessLog,
    summaries: Summaries,
}

/// What the log line needs from the request, kept until the response.
#[derive(Debug)]
struct Requested {
    method: Method,
    uri: Uri,
    start: Instant,
}

impl<S, B, ResBody> Service<Request<B>> for AccessLogService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = AccessLogFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let request_id = crate::request_id(req.headers()).unwrap_or("");
        let span = tracing::debug_span!("request", method = req.method().as_str(), path = req.uri().path(), request_id);
        let requested = (self.mode != AccessLog::Off).then(|| Requested {
            method: req.method().clone(),
            uri: req.uri().clone(),
            start: Instant::now(),
        });
        let inner = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        let summaries = requested.as_ref().map(|_| self.summaries.clone());
        AccessLogFuture { inner: inner.instrument(span), requested, mode: self.mode, summaries }
    }
}

pin_project_lite::pin_project! {
    /// The inner response future, in the request's span; logs when it completes.
    pub struct AccessLogFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        requested: Option<Requested>,
        mode: AccessLog,
        summaries: Option<Summaries>,
    }
}

impl<F, ResBody, E> Future for AccessLogFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Ok(res), Some(req)) = (&result, this.requested.take()) {
            let summarised = this.summaries.take().is_some_and(|s| s.record(res.status()));
            if !summarised {
                log(*this.mode, &req, res);
            }
        }
        Poll::Ready(result)
    }
}

/// Whether `mode` logs a response with this status and latency.
pub fn logged(mode: AccessLog, status: axum::http::StatusCode, latency: Duration) -> bool {
    match mode {
        AccessLog::All => true,
        AccessLog::Errors => status.is_client_error() || status.is_server_error() || latency >= SLOW_RESPONSE,
        AccessLog::Off => false,
    }
}

fn log<B>(mode: AccessLog, req: &Requested, res: &Response<B>) {
    let latency = req.start.elapsed();
    if !logged(mode, res.status(), latency) {
        return;
    }
    let request_id = crate::request_id(res.headers()).unwrap_or("");
    tracing::info!(
        method = req.method.as_str(),
        path = req.uri.path(),
        status = res.status().as_u16(),
        latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        request_id,
        "response"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn modes_choose_the_logged_responses() {
        let fast = Duration::from_millis(2);
        let slow = SLOW_RESPONSE;
        for (mode, status, latency, expected) in [
            (AccessLog::All, StatusCode::OK, fast, true),
            (AccessLog::Errors, StatusCode::OK, fast, false),
            (AccessLog::Errors, StatusCode::OK, slow, true),
            (AccessLog::Errors, StatusCode::NOT_FOUND, fast, true),
            (AccessLog::Errors, StatusCode::TOO_MANY_REQUESTS, fast, true),
            (AccessLog::Errors, StatusCode::GATEWAY_TIMEOUT, fast, true),
            (AccessLog::Errors, StatusCode::PERMANENT_REDIRECT, fast, false),
            (AccessLog::Off, StatusCode::INTERNAL_SERVER_ERROR, slow, false),
        ] {
            assert_eq!(logged(mode, status, latency), expected, "{mode:?} {status} {latency:?}");
        }
    }
}
