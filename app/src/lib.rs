//! The service as a library: [`router`] builds the complete axum app (routes + middleware) from a
//! [`Config`], [`serve`] runs it with graceful shutdown. `main.rs` only parses config and calls these.

pub mod client_ip;
pub mod config;
pub mod error;
pub mod healthcheck;
pub mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::middleware::{from_fn, map_response};
use axum::response::Response;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use config::{Cli, Command, Config, LogFormat};

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub version: Arc<str>,
    pub started: Instant,
    /// False from the moment shutdown begins; `/ready` answers 503 then.
    pub ready: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(version: &str) -> Self {
        Self { version: version.into(), started: Instant::now(), ready: Arc::new(AtomicBool::new(true)) }
    }
}

/// Headers on every response, errors included. Nothing here names the server software.
const SECURITY_HEADERS: [(&str, &str); 8] = [
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("permissions-policy", "accelerometer=(), camera=(), geolocation=(), microphone=(), payment=(), usb=()"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

async fn security_headers<B>(mut res: Response<B>) -> Response<B> {
    let headers = res.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    res
}

fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    (!origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, HeaderName::from_static("x-request-id")])
            .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
            .max_age(Duration::from_secs(600))
    })
}

/// The service's routes, without middleware. Tests add their own routes (a slow or panicking
/// handler) to it and wrap the result with [`with_middleware`], so they exercise the real stack.
pub fn routes(config: &Config, state: AppState) -> Router {
    let limiter = GovernorConfigBuilder::default()
        .key_extractor(client_ip::ClientIpKey { trusted_hops: usize::from(config.trusted_proxy_hops) })
        .period(Duration::from_secs(1) / config.rate_limit_rps.get())
        .burst_size(config.rate_limit_burst.get())
        .use_headers()
        .finish()
        .expect("rate and burst are non-zero");
    let limiter = Arc::new(limiter);
    // Forget idle clients once a minute so the per-client table cannot grow without bound.
    let table = Arc::downgrade(limiter.limiter());
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(table) = table.upgrade() else { break };
                table.retain_recent();
            }
        });
    }

    // Probes must never be throttled: the load balancer would mark healthy targets unhealthy.
    let probes = Router::new().route("/health", get(routes::health)).route("/ready", get(routes::ready));
    let throttled = Router::new()
        .route("/", get(routes::hello))
        .route("/openapi.json", get(routes::openapi))
        .fallback(routes::not_found)
        .layer(GovernorLayer::new(limiter));
    probes.merge(throttled).with_state(state)
}

/// Wrap any router in the production middleware stack.
pub fn with_middleware(router: Router, config: &Config) -> Router {
    // Innermost: shape errors, catch panics, bound bodies and time.
    let inner = ServiceBuilder::new()
        .layer(from_fn(error::json_errors))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, config.request_timeout()));
    let mut router = router.layer(inner);
    // CORS sits outside the error shaping so error responses carry CORS headers too. With no
    // allowed origins there is no CORS layer at all (a preflight is then just an OPTIONS: 405).
    if let Some(cors) = cors(&config.allowed_origins) {
        router = router.layer(cors);
    }
    // Outermost: request id (set, logged, echoed) and security headers on every response.
    let request_id = HeaderName::from_static("x-request-id");
    let outer = ServiceBuilder::new()
        .layer(map_response(security_headers))
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span as fn(&Request<axum::body::Body>) -> tracing::Span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Micros))
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(request_id));
    router.layer(outer)
}

/// The span every log line of a request is recorded in: method, matched route, request id.
fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let path = req.extensions().get::<axum::extract::MatchedPath>().map_or("<unmatched>", |p| p.as_str());
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!("request", method = %req.method(), path = %path, request_id = %request_id)
}

/// The complete application for `config`.
pub fn app(config: &Config, state: AppState) -> Router {
    with_middleware(routes(config, state), config)
}

/// Serve `app` on `listener` until `shutdown` resolves, then drain:
/// 1. `/ready` turns 503 at once and the listener keeps serving for `drain`, so the load balancer
///    deregisters this target without a single refused connection;
/// 2. the listener closes and in-flight requests finish, bounded by `grace` (request timeout + 1 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
    grace: Duration,
) -> std::io::Result<()> {
    let ready = state.ready.clone();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        ready.store(false, Ordering::Release);
        tracing::info!(
            drain_secs = drain.as_secs_f64(),
            "shutdown requested: /ready is 503, still serving while the load balancer drains"
        );
        tokio::time::sleep(drain).await;
        tracing::info!("drain over: closing the listener, finishing in-flight requests");
        let _ = closed_tx.send(());
    };
    let server =
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(signal);
    let deadline = async move {
        if closed_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        res = server.into_future() => res,
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "in-flight requests still running after the grace period; exiting anyway");
            Ok(())
        }
    }
}

/// Install the global subscriber; the returned guard flushes the non-blocking writer on drop.
pub fn init_logging(format: LogFormat, filter: &str) -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::EnvFilter;
    // A background thread writes stdout, so a slow log consumer never blocks request handling.
    let (writer, guard) = tracing_appender::non_blocking(std::io::stdout());
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
        LogFormat::Pretty => builder.pretty().init(),
    }
    guard
}
