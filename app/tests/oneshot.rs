//! Router-level tests with `tower::ServiceExt::oneshot` (no socket).

use std::net::SocketAddr;

use app::{AppState, Config};
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};

/// The tests of this file take turns. tracing caches each callsite's interest process-wide, and
/// the log-capture test installs a scoped subscriber: a request served at the same moment on
/// another test thread (the runner runs a binary's tests on parallel threads) can leave the
/// DEBUG request span disabled for it.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    TURN.lock().await
}

fn app() -> impl app::AppService {
    let config = Config::defaults();
    MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000)))
        .layer(app::app(&config, AppState::new("1.2.3", app::db::Db::sqlite_memory())))
}

async fn get(path: &str) -> (StatusCode, serde_json::Value) {
    let res = app().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn health_reports_version_and_uptime() {
    let _turn = turn().await;
    let (status, body) = get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], "1.2.3");
    assert_eq!(body["uptime_seconds"], 0);
}

#[tokio::test]
async fn ready_flips_to_503_when_shutdown_begins() {
    let _turn = turn().await;
    let state = AppState::new("1.2.3", app::db::Db::sqlite_memory());
    let router =
        MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))).layer(app::app(&Config::defaults(), state.clone()));
    let req = || Request::get("/ready").body(Body::empty()).unwrap();
    assert_eq!(router.clone().oneshot(req()).await.unwrap().status(), StatusCode::OK);
    // A probe flood reads the cached state: the database is asked once (the first probe), not
    // once per request (app::readiness).
    for _ in 0..100 {
        assert_eq!(router.clone().oneshot(req()).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(state.db_health.checks(), 1);
    state.ready.store(false, std::sync::atomic::Ordering::Release);
    assert_eq!(router.oneshot(req()).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn unknown_path_has_the_error_shape() {
    let _turn = turn().await;
    let (status, body) = get("/does/not/exist").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["request_id"].is_string(), "a generated id is reported: {body}");
}

#[tokio::test]
async fn generated_request_ids_are_distinct_v4_uuids() {
    let _turn = turn().await;
    let svc = app();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let res = svc.clone().oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let uuid = uuid::Uuid::parse_str(&id).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(uuid.get_version_num(), 4, "{id}");
        assert_eq!(uuid.hyphenated().to_string(), id, "lower-case hyphenated form");
        assert!(seen.insert(id), "ids repeat");
    }
}

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn boom() -> &'static str {
    panic!("test panic")
}

/// Lines logged (as JSON, at `filter`) while one request to `path` runs through the full stack.
async fn logs_of(filter: &str, path: &str, id: &str) -> Vec<serde_json::Value> {
    let sink = Sink::default();
    let (writer, guard) = app::logging::buffered(sink.clone(), std::time::Duration::from_secs(3600));
    let subscriber = json_subscriber::fmt().with_env_filter(filter).with_writer(writer).finish();
    let _default = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    let config = Config::defaults();
    let routes = app::routes(&config, AppState::new("1.2.3", app::db::Db::sqlite_memory()))
        .merge(axum::Router::new().route("/panic", axum::routing::get(boom)));
    let svc = MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))).layer(app::with_middleware(routes, &config));
    svc.oneshot(Request::get(path).header("x-request-id", id).body(Body::empty()).unwrap()).await.unwrap();
    drop(guard);
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn lines_logged_inside_a_request_carry_its_span_at_debug_only() {
    let _turn = turn().await;
    let line = |logs: &[serde_json::Value]| {
        logs.iter()
            .find(|l| l["fields"]["message"].as_str().is_some_and(|m| m.starts_with("handler panicked")))
            .cloned()
    };
    let debug = logs_of("info,app=debug", "/panic", "p-1").await;
    let panicked = line(&debug).expect("the panic is logged");
    assert_eq!(panicked["span"]["request_id"], "p-1", "{panicked}");
    assert_eq!(panicked["span"]["path"], "/panic");

    // At the default level no span is built; the access line carries the request by itself.
    let info = logs_of("info", "/panic", "p-2").await;
    assert!(line(&info).expect("the panic is logged").get("span").is_none(), "{info:?}");
    let access = info.iter().find(|l| l["fields"]["message"] == "response").expect("the 500 is logged");
    assert_eq!(access["fields"]["request_id"], "p-2");
    assert_eq!(access["fields"]["status"], 500);
}

/// A 429 storm is one summary line with its count, not a line per request (app::log_summary).
#[tokio::test]
async fn throttled_requests_are_one_summary_line_with_their_count() {
    let _turn = turn().await;
    let sink = Sink::default();
    let (writer, guard) = app::logging::buffered(sink.clone(), std::time::Duration::from_secs(3600));
    let subscriber = json_subscriber::fmt().with_env_filter("info").with_writer(writer).finish();
    let _default = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    let config =
        app::Cli::parse_without_env(["app", "--rate-limit-rps", "1", "--rate-limit-burst", "1"]).unwrap().config;
    let routes = app::routes(&config, AppState::new("1.2.3", app::db::Db::sqlite_memory()));
    let svc = MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))).layer(app::with_middleware(routes, &config));
    const N: u64 = 200;
    let mut throttled = 0;
    for _ in 0..=N {
        let res = svc.clone().oneshot(Request::get("/does-not-exist").body(Body::empty()).unwrap()).await.unwrap();
        throttled += u64::from(res.status() == StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(throttled, N, "the burst of 1 passes, every other request is throttled");
    drop(svc); // the app's counts are flushed when it goes (as at shutdown)
    drop(guard);
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summaries: Vec<_> = lines.iter().filter(|l| l["fields"]["message"] == "responses summarised").collect();
    assert_eq!(summaries.len(), 1, "{lines:?}");
    assert_eq!(summaries[0]["fields"]["count"], N);
    assert_eq!(summaries[0]["fields"]["kind"], "rate_limited");
    assert_eq!(summaries[0]["fields"]["status"], 429);
    // No access line per 429; the one 404 that got through keeps its own line.
    let access: Vec<_> = lines.iter().filter(|l| l["fields"]["message"] == "response").collect();
    assert_eq!(access.len(), 1, "{access:?}");
    assert_eq!(access[0]["fields"]["status"], 404);
}
