//! One error shape for every error response: `{"error":{"code","message","request_id"}}`.
//!
//! Errors come from many places (the router's 404/405, tower-http's 413 and timeout, the rate
//! limiter's 429, the panic catcher's 500, our own handlers). Rather than teach each of them the
//! shape, [`json_errors`] rewrites any 4xx/5xx on the way out, in one place, with the request id.

use axum::body::{Body, HttpBody};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `rate_limited`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The request's `x-request-id`, for finding its log lines.
    pub request_id: Option<String>,
}

/// An error a handler returns; [`json_errors`] turns it into the JSON body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// The code and message used when a layer produced a bare status.
    fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
            StatusCode::NOT_FOUND => ("not_found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed for this resource"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body exceeds the size limit"),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests; retry after the Retry-After delay"),
            StatusCode::GATEWAY_TIMEOUT => ("timeout", "the request took longer than the server's time limit"),
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "the service is unavailable"),
            s if s.is_server_error() => ("internal", "internal server error"),
            _ => ("client_error", "the request was rejected"),
        };
        Self::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// Gives every 4xx/5xx response the JSON error shape, with the request id the response carries
/// (`x-request-id`, set by the request-id layers inside this one). A plain function of the
/// response, so the middleware is a `tower` `map_response`: no boxed future per request.
pub fn json_errors<B>(res: Response<B>) -> Response
where
    B: HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res.map(Body::new);
    }
    let (mut parts, _) = res.into_parts();
    let err = parts.extensions.remove::<ApiError>().unwrap_or_else(|| ApiError::for_status(status));
    let request_id = crate::request_id(&parts.headers).map(str::to_owned);
    let body = ErrorBody { error: ErrorDetail { code: err.code, message: err.message, request_id } };
    let bytes = serde_json::to_vec(&body).expect("error body serialises");
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // An error is about this request at this moment: never to be replayed from a cache.
    parts.headers.insert(header::CACHE_CONTROL, crate::NO_STORE.clone());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// CatchPanicLayer's handler: log the panic, answer 500 (the body is filled in by [`json_errors`]).
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %detail, "handler panicked; answered 500 and kept serving");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}
