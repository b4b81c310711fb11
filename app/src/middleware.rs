//! The middleware stack every request passes, assembled in one place and kept apart from
//! routing (`routes.rs` decides which handler answers; this decides what wraps every answer):
//! request ids, access log, CORS, panic catching, body limit, timeout, the JSON error shape and
//! the security headers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

use crate::{Config, access_log, error};

/// The request id's header: set on every request (kept if the caller sent a safe one, see
/// [`is_safe_request_id`]), echoed on every response, logged, and quoted in error bodies.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id accepted from a caller.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// The request id in `headers`, if there is one and it is text.
pub fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(X_REQUEST_ID).and_then(|v| v.to_str().ok())
}

/// Whether a caller's request id is kept: 1 to 64 characters from `[A-Za-z0-9._-]` (UUIDs,
/// ULIDs, hex trace ids). Anything else (too long, spaces, control or non-ASCII bytes, quotes,
/// slashes) is replaced by a generated id, so what is echoed and logged is short and inert.
pub fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Drops a caller's request id unless it is the one safe id; the layer after this one then
/// generates a new id.
fn drop_unsafe_request_id<B>(mut req: Request<B>) -> Request<B> {
    let mut ids = req.headers().get_all(X_REQUEST_ID).iter();
    let keep = match (ids.next(), ids.next()) {
        (None, _) => return req,
        (Some(id), None) => is_safe_request_id(id.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        req.headers_mut().remove(X_REQUEST_ID);
    }
    req
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

/// API responses are per request and may be personal: no cache (browser, proxy, CDN) may keep
/// them. A handler that serves something cacheable sets its own `Cache-Control`; error
/// responses always get this one (see [`error::json_errors`]).
pub static NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// The security headers, overwriting whatever a handler set, except the Content-Security-Policy:
/// a handler that serves a document sets its own (the guestbook page, [`crate::web::PAGE_CSP`]);
/// every other response gets the API's `default-src 'none'`.
fn security_headers<B>(mut res: Response<B>) -> Response<B> {
    let headers = res.headers_mut();
    for (name, value) in &SECURITY_HEADERS {
        if name == header::CONTENT_SECURITY_POLICY {
            headers.entry(name.clone()).or_insert_with(|| value.clone());
        } else {
            headers.insert(name.clone(), value.clone());
        }
    }
    headers.entry(header::CACHE_CONTROL).or_insert_with(|| NO_STORE.clone());
    res
}

/// Origins are compared without regard to ASCII case (scheme and host are case-insensitive;
/// the configured ones are stored in lower case, see `config::origin`). The allowed origin
/// echoed back is the request's own, byte for byte, as the browser's check requires.
fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    (!origins.is_empty()).then(|| {
        let allowed: Arc<[HeaderValue]> = origins.into();
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin, _| {
                allowed.iter().any(|o| o.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
            }))
            .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, X_REQUEST_ID])
            .expose_headers([X_REQUEST_ID, header::RETRY_AFTER])
            .max_age(Duration::from_secs(600))
    })
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
        // The request id: set (or kept from the caller if it is safe), logged, echoed.
        .map_request(drop_unsafe_request_id)
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, RandomRequestId))
        .layer(access_log::AccessLogLayer::new(config.access_log, crate::log_summary::Summaries::default()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_safe() {
        for ok in [&b"a"[..], b"trace-abc-123", b"0f8fad5b-d9cb-469f-a165-70867728950e", b"A.b_C-9", &[b'x'; 64]] {
            assert!(is_safe_request_id(ok), "{ok:?}");
        }
        let ten_kb = vec![b'a'; 10 * 1024];
        for bad in [
            &b""[..],
            &[b'x'; 65],
            &ten_kb,
            b"a\x01b",
            b"nul\x00",
            b"\x1b[31mred",
            b"tab\there",
            b"line\r\nx-injected: 1",
            b"\xff\xfe",
            b"space here",
            b"../etc",
            b"{\"json\":1}",
        ] {
            assert!(!is_safe_request_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn unsafe_or_repeated_ids_are_dropped_safe_ones_kept() {
        let with = |ids: &[&[u8]]| {
            let mut req = Request::new(());
            for id in ids {
                req.headers_mut().append(X_REQUEST_ID, HeaderValue::from_bytes(id).unwrap());
            }
            drop_unsafe_request_id(req).headers().get_all(X_REQUEST_ID).iter().count()
        };
        assert_eq!(with(&[b"ok-1"]), 1);
        assert_eq!(with(&[b"bad id"]), 0);
        assert_eq!(with(&[b"\xff"]), 0);
        assert_eq!(with(&[b"ok-1", b"ok-2"]), 0, "two ids: which one would the logs mean?");
        assert_eq!(with(&[]), 0);
    }
}
