//! The service as a library: [`app`] builds the complete service (routes + middleware) from a
//! [`Config`], [`serve`] runs it with graceful shutdown. `main.rs` only parses config and calls these.

pub mod access_log;
pub mod client_ip;
pub mod config;
pub mod error;
pub mod healthcheck;
pub mod logging;
pub mod routes;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

pub use config::{AccessLog, Cli, Command, Config, LogFormat};

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

/// The request id's header: set on every request (kept if the caller sent one), echoed on every
/// response, logged, and quoted in error bodies.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id in `headers`, if there is one and it is text.
pub fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(X_REQUEST_ID).and_then(|v| v.to_str().ok())
}

/// Headers on every response, errors included. Nothing here names the server software. Built at
/// compile time: each response only clones them (no allocation, no re-validation).
static SECURITY_HEADERS: [(HeaderName, HeaderValue); 8] = [
    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
    (header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains")),
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    (
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("accelerometer=(), camera=(), geolocation=(), microphone=(), payment=(), usb=()"),
    ),
    (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin")),
];

fn security_headers<B>(mut res: Response<B>) -> Response<B> {
    let headers = res.headers_mut();
    for (name, value) in &SECURITY_HEADERS {
        headers.insert(name.clone(), value.clone());
    }
    res
}

fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    (!origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, X_REQUEST_ID])
            .expose_headers([X_REQUEST_ID, header::RETRY_AFTER])
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

/// The application as one tower service: what [`serve`] runs, and what tests drive with
/// `tower::ServiceExt::oneshot`.
pub trait AppService:
    tower::Service<Request<Body>, Response = Response, Error = Infallible, Future: Send> + Clone + Send + Sync + 'static
{
}

impl<S> AppService for S where
    S: tower::Service<Request<Body>, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Wrap any router in the production middleware stack.
///
/// The stack wraps the router as one service (served as it is, not put back into a `Router`),
/// rather than being added with `Router::layer`, which wraps every route in it and clones and
/// boxes each layer per request. So the layers run before routing, and the access log names the
/// request's path rather than its route.
pub fn with_middleware(router: Router, config: &Config) -> impl AppService + use<> {
    ServiceBuilder::new()
        // Outermost, so that every response has passed every layer below: the JSON error body
        // (with the request id the response carries by then) and the security headers.
        .map_response(|res: Response<_>| security_headers(error::json_errors(res)))
        // The request id: set (or kept from the caller), logged, echoed.
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, RandomRequestId))
        .layer(access_log::AccessLogLayer(config.access_log))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        // With no allowed origins there is no CORS layer at all (a preflight is then just an
        // OPTIONS: 405).
        .option_layer(cors(&config.allowed_origins))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        // tower's timeout polls the request first and arms its timer only if the request is
        // still pending, so the common answered-at-once request never touches the runtime's
        // timer wheel (tower-http's timeout registers a timer for every request: a lock, and
        // often a thread wake-up, each time).
        .layer(HandleErrorLayer::new(timeout_as_504))
        .layer(tower::timeout::TimeoutLayer::new(config.request_timeout()))
        .service(router)
}

/// The timeout's error becomes a bare 504 (shaped into the JSON error body by `json_errors`).
async fn timeout_as_504(err: tower::BoxError) -> StatusCode {
    if err.is::<tower::timeout::error::Elapsed>() {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Request ids are random (v4) UUIDs, like tower-http's `MakeRequestUuid` makes, but drawn from
/// the thread-local CSPRNG rather than a `getrandom` system call per request.
#[derive(Debug, Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut text = uuid::Uuid::encode_buffer();
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)).ok().map(RequestId::new)
    }
}

/// The complete application for `config`.
pub fn app(config: &Config, state: AppState) -> impl AppService + use<> {
    with_middleware(routes(config, state), config)
}

/// Serve `app` on `listener` until `shutdown` resolves, then drain:
/// 1. `/ready` turns 503 at once and the listener keeps serving for `drain`, so the load balancer
///    deregisters this target without a single refused connection;
/// 2. the listener closes and in-flight requests finish, bounded by `grace` (request timeout + 1 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: impl AppService,
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
    let app = axum::ServiceExt::<Request<Body>>::into_make_service_with_connect_info::<SocketAddr>(app);
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
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
