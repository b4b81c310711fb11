//! What guards `/api` from clients that hold its resources (issue #26, "slow bodies" and load
//! shedding), applied to the API's routes only:
//!
//! - **In-flight cap** (`API_MAX_IN_FLIGHT`): at most that many API requests at once per task;
//!   one more is answered 503 `overloaded` with `Retry-After: 1` at once, instead of queueing for
//!   a pool connection until the acquire timeout. Keep it a small multiple of `DB_POOL_SIZE`: a
//!   request that gets a permit then waits for a connection only briefly.
//! - **Body read deadline** (`BODY_READ_TIMEOUT_SECS`): the whole request body (at most
//!   `MAX_BODY_BYTES`) must arrive within it, or the answer is 408 `body_timeout`. A client that
//!   trickles its body holds a permit and a connection for that long, not for the request timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The guard's settings and its permits; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ApiGuard {
    permits: Arc<Semaphore>,
    body_deadline: Duration,
}

impl ApiGuard {
    pub fn new(max_in_flight: usize, body_deadline: Duration) -> Self {
        Self { permits: Arc::new(Semaphore::new(max_in_flight.max(1))), body_deadline }
    }

    /// Permits free right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// The 503 for a request over the in-flight cap.
pub fn overloaded() -> Response {
    let mut res = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "too many requests in flight; retry after the Retry-After delay",
    )
    .into_response();
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn guard(State(guard): State<ApiGuard>, req: Request, next: Next) -> Response {
    let Ok(_permit) = guard.permits.clone().try_acquire_owned() else {
        return overloaded();
    };
    let (parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout(guard.body_deadline, axum::body::to_bytes(body, usize::MAX)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_length_limit(&e) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        Ok(Err(_)) => {
            return ApiError::new(StatusCode::BAD_REQUEST, "bad_body", "the request body could not be read")
                .into_response();
        }
        Err(_) => {
            let msg = format!(
                "the request body did not arrive within {} s (BODY_READ_TIMEOUT_SECS)",
                guard.body_deadline.as_secs_f64()
            );
            let mut res = ApiError::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", msg).into_response();
            res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return res;
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Whether reading failed because the body is over `MAX_BODY_BYTES` (tower-http's limit).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt;

    fn router(guard: ApiGuard, gate: Arc<tokio::sync::Notify>) -> Router {
        let handler = move |body: axum::body::Bytes| {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                body.len().to_string()
            }
        };
        Router::new().route("/api/x", post(handler)).layer(axum::middleware::from_fn_with_state(guard, self::guard))
    }

    fn req() -> Request {
        Request::post("/api/x").body(Body::from("hello")).unwrap()
    }

    #[tokio::test]
    async fn one_over_the_cap_is_shed_at_once_with_retry_after_and_a_freed_permit_serves_again() {
        let guard = ApiGuard::new(2, Duration::from_secs(3));
        let gate = Arc::new(tokio::sync::Notify::new());
        let app = router(guard.clone(), gate.clone());
        let held: Vec<_> = (0..2).map(|_| tokio::spawn(app.clone().oneshot(req()))).collect();
        while guard.available() > 0 {
            tokio::task::yield_now().await;
        }
        let shed = app.clone().oneshot(req()).await.unwrap();
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
        assert_eq!(shed.extensions().get::<ApiError>().map(|e| e.code), Some("overloaded"));
        gate.notify_waiters();
        for h in held {
            let res = h.await.unwrap().unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let body = axum::body::to_bytes(res.into_body(), 100).await.unwrap();
            assert_eq!(&body[..], b"5", "the buffered body reaches the handler whole");
        }
        assert_eq!(guard.available(), 2, "permits come back");
        gate.notify_one();
        assert_eq!(app.oneshot(req()).await.unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_body_slower_than_the_deadline_is_408_and_frees_its_permit() {
        let guard = ApiGuard::new(1, Duration::from_millis(300));
        let app = router(guard.clone(), Arc::new(tokio::sync::Notify::new()));
        // A body that sends one chunk, then never finishes.
        let started = std::time::Instant::now();
        let res = app.oneshot(Request::post("/api/x").body(Body::new(Stuck(false))).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(res.extensions().get::<ApiError>().map(|e| e.code), Some("body_timeout"));
        // A timer never fires early; the body never ends, so the answer is the deadline's.
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
        assert_eq!(guard.available(), 1, "the permit is free again");
    }

    /// Two bytes, then nothing, ever.
    struct Stuck(bool);

    impl hyper::body::Body for Stuck {
        type Data = axum::body::Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
            if self.0 {
                return std::task::Poll::Pending;
            }
            self.0 = true;
            std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data("he".into()))))
        }
    }
}
