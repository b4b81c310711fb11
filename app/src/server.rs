//! Serving connections: our own accept loop over hyper's HTTP/1 server, with the limits that
//! `axum::serve` leaves off (it installs no timer, so hyper's header timeout never fires), and
//! the graceful drain.
//!
//! Three limits protect the service from clients that hold connections without using them:
//! - **Header read timeout** (`HEADER_READ_TIMEOUT_SECS`, 10 s): from a request's first byte (a
//!   new connection's first request: from the accept) to the end of its headers. A client that
//!   trickles its headers (slowloris) is disconnected, without an answer, when it runs out.
//! - **Keep-alive timeout** (`KEEP_ALIVE_TIMEOUT_SECS`, 75 s): an idle keep-alive connection is
//!   closed after this. It must be LONGER than the load balancer's idle timeout (the ALB's is
//!   60 s, `alb_idle_timeout` in Terraform): the ALB reuses idle connections to its targets, and
//!   if the target closes one first, the ALB may send a request into a connection that is
//!   closing and answer the client 502. hyper's own `header_read_timeout` runs from the end of
//!   one response to the end of the next request's headers, so it is this timeout; the header
//!   read timeout above is ours ([`GuardedIo`]).
//! - **Connection cap** (`MAX_CONNECTIONS`, 1024): at the cap the server stops accepting until
//!   a connection closes; further clients wait in the kernel's accept queue.
//!
//! Requests hyper rejects before the service sees them (a malformed request line or header,
//! headers over [`MAX_HEADER_BYTES`]) are answered by hyper itself: a bare status line (400,
//! 414 or 431) with `connection: close`, `content-length: 0` and `date`, then the connection
//! closes. They carry no
//! JSON body and no security headers; hyper has no hook to shape them (docs/PERFORMANCE.md).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tower::ServiceExt;
use tower::util::Oneshot;

use crate::{AppService, AppState, Config};

/// Request line and headers together may be at most this long; longer gets 431 from hyper.
/// The same as the ALB's own limit for a request's headers (64 KiB).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How [`serve`] treats connections and shutdown.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// After the shutdown signal, keep serving (with `/ready` at 503) this long.
    pub drain: Duration,
    /// After the drain, in-flight requests get this long to finish.
    pub grace: Duration,
    /// From a request's first byte to the end of its headers.
    pub header_read_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            drain: config.shutdown_drain(),
            grace: config.request_timeout() + Duration::from_secs(1),
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            keep_alive_timeout: Duration::from_secs(config.keep_alive_timeout_secs),
            max_connections: config.max_connections as usize,
        }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then drain:
/// 1. `/ready` turns 503 at once and the listener keeps serving for `limits.drain`, so the load
///    balancer deregisters this target without a single refused connection;
/// 2. the listener closes, idle connections close, and in-flight requests finish, bounded by
///    `limits.grace`.
pub async fn serve(
    listener: TcpListener,
    app: impl AppService,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> io::Result<()> {
    let ready = state.ready.clone();
    let drain = limits.drain;
    let mut signal = pin!(async move {
        shutdown.await;
        ready.store(false, Ordering::Release);
        tracing::info!(
            drain_secs = drain.as_secs_f64(),
            "shutdown requested: /ready is 503, still serving while the load balancer drains"
        );
        tokio::time::sleep(drain).await;
        tracing::info!("drain over: closing the listener, finishing in-flight requests");
    });

    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.keep_alive_timeout).max_header_size(MAX_HEADER_BYTES);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        // At the cap, wait for a connection to close before accepting the next one.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(io::Error::other)?,
            () = &mut signal => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let phase = Arc::new(Phase::default());
        let io = TokioIo::new(GuardedIo::new(stream, phase.clone(), limits.header_read_timeout));
        let conn = http.serve_connection(io, ConnService { app: app.clone(), peer, phase });
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            grace_secs = limits.grace.as_secs_f64(),
            "in-flight requests still running after the grace period; exiting anyway"
        );
    }
    Ok(())
}

/// As axum's `serve` does: errors about one connection are that client's problem; anything else
/// (out of file descriptors) is logged and retried after a pause rather than spun on.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Where a connection is in its request cycle; shared by its [`GuardedIo`] and [`ConnService`].
#[derive(Debug)]
struct Phase(AtomicU8);

/// Reading a request's headers: the header read timeout runs.
const HEAD: u8 = 0;
/// The headers are in; the service is answering.
const BUSY: u8 = 1;
/// The answer is out; waiting for the next request (hyper's keep-alive timeout runs).
const IDLE: u8 = 2;

impl Default for Phase {
    /// A new connection starts reading its first request's headers at once.
    fn default() -> Self {
        Self(AtomicU8::new(HEAD))
    }
}

impl Phase {
    fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, phase: u8) {
        self.0.store(phase, Ordering::Relaxed);
    }
}

/// The connection's socket, closed with an error when a request's headers take longer than the
/// header read timeout.
///
/// The timer is armed only when a read during [`HEAD`] finds no data (the headers are
/// incomplete and the client is slow). A request whose headers arrive in one read, as every
/// normal client's do, never touches the runtime's timer wheel.
#[derive(Debug)]
pub struct GuardedIo {
    stream: TcpStream,
    phase: Arc<Phase>,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
    /// The deadline is set for the current request's headers.
    armed: bool,
}

impl GuardedIo {
    fn new(stream: TcpStream, phase: Arc<Phase>, timeout: Duration) -> Self {
        Self { stream, phase, timeout, deadline: None, armed: false }
    }

    fn timed_out(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("request headers not complete within {} s (HEADER_READ_TIMEOUT_SECS)", self.timeout.as_secs()),
        )
    }

    /// Arm the deadline for the current headers (once), and poll it.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.armed {
            self.armed = true;
            let at = tokio::time::Instant::now() + self.timeout;
            match &mut self.deadline {
                Some(sleep) => sleep.as_mut().reset(at),
                None => self.deadline = Some(Box::pin(tokio::time::sleep_until(at))),
            }
        }
        match &mut self.deadline {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let phase = this.phase.get();
                if phase == IDLE && buf.filled().len() > before {
                    // The first bytes of the next request.
                    this.phase.set(HEAD);
                    this.armed = false;
                } else if phase == HEAD && this.armed && this.deadline.as_ref().is_some_and(|d| d.is_elapsed()) {
                    // A client that keeps a byte in flight at every read still runs out of time.
                    return Poll::Ready(Err(this.timed_out()));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.phase.get() == HEAD => {
                ready!(this.poll_deadline(cx));
                tracing::debug!(
                    timeout_secs = this.timeout.as_secs(),
                    "closing a connection whose request headers are too slow"
                );
                Poll::Ready(Err(this.timed_out()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The app as one connection's hyper service: adds the peer address (axum's `ConnectInfo`) and
/// moves the connection's [`Phase`] to [`BUSY`] while a request is answered.
#[derive(Debug, Clone)]
struct ConnService<S> {
    app: S,
    peer: SocketAddr,
    phase: Arc<Phase>,
}

impl<S: AppService> hyper::service::Service<Request<Incoming>> for ConnService<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = Answering<Oneshot<S, Request<Body>>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.phase.set(BUSY);
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        Answering { inner: self.app.clone().oneshot(req), phase: self.phase.clone() }
    }
}

pin_project_lite::pin_project! {
    /// The service's answer; the connection is [`IDLE`] once it is ready.
    struct Answering<F> {
        #[pin]
        inner: F,
        phase: Arc<Phase>,
    }
}

impl<F: Future> Future for Answering<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        this.phase.set(IDLE);
        Poll::Ready(out)
    }
}
