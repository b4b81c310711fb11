//! Router-level tests with `tower::ServiceExt::oneshot` (no socket).

use std::net::SocketAddr;

use app::{AppState, Config};
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn app() -> axum::Router {
    let config = Config::defaults();
    app::app(&config, AppState::new("1.2.3")).layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))))
}

async fn get(path: &str) -> (StatusCode, serde_json::Value) {
    let res = app().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn health_reports_version_and_uptime() {
    let (status, body) = get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], "1.2.3");
    assert_eq!(body["uptime_seconds"], 0);
}

#[tokio::test]
async fn ready_flips_to_503_when_shutdown_begins() {
    let state = AppState::new("1.2.3");
    let router =
        app::app(&Config::defaults(), state.clone()).layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
    let req = || Request::get("/ready").body(Body::empty()).unwrap();
    assert_eq!(router.clone().oneshot(req()).await.unwrap().status(), StatusCode::OK);
    state.ready.store(false, std::sync::atomic::Ordering::Release);
    assert_eq!(router.oneshot(req()).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn unknown_path_has_the_error_shape() {
    let (status, body) = get("/does/not/exist").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["request_id"].is_string(), "a generated id is reported: {body}");
}
