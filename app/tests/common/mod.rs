//! A real server on 127.0.0.1:0 with the production middleware stack, plus two test-only routes
//! (`/slow`, `/panic`) so timeouts, panics and drains can be provoked.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use app::{AppState, Config};
use axum::Router;
use axum::routing::get;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    pub handle: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Begin graceful shutdown (as SIGTERM would).
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Parse a configuration the way the binary does, from flags (and never from the host's
/// environment).
pub fn config(args: &[&str]) -> Config {
    let mut argv = vec!["app"];
    argv.extend_from_slice(args);
    app::Cli::parse_without_env(argv).expect("test config parses").config
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    "done"
}

async fn boom() -> &'static str {
    panic!("deliberate test panic")
}

/// A private in-memory SQLite database with the schema applied.
pub async fn memory_db() -> app::db::Db {
    let db = app::db::Db::sqlite_memory();
    db.migrate().await.expect("migrations apply to a fresh SQLite database");
    db
}

pub async fn start(config: Config) -> TestServer {
    start_with_db(config, memory_db().await).await
}

/// [`start`] on a given database (PostgreSQL tests pass theirs).
pub async fn start_with_db(config: Config, db: app::db::Db) -> TestServer {
    let state = AppState::new("9.9.9-test", db);
    let routes = app::routes(&config, state.clone());
    serve(config, state, routes).await
}

/// [`start`] with a rate limiter that reads `clock`: the test decides when time passes.
pub async fn start_with_clock(config: Config, clock: governor::clock::FakeRelativeClock) -> TestServer {
    let state = AppState::new("9.9.9-test", memory_db().await);
    let hops = usize::from(config.trusted_proxy_hops);
    let quota = app::rate_limit::quota(config.rate_limit_rps, config.rate_limit_burst);
    let limit = app::rate_limit::RateLimit::with_clock(quota, hops, clock.clone(), Duration::from_secs(3600));
    let writes = app::rate_limit::write_quota(config.write_rate_limit_per_minute, config.write_rate_limit_burst);
    let writes = app::rate_limit::RateLimit::with_clock(writes, hops, clock, Duration::from_secs(3600)).writes_only();
    let routes = app::routes_with_limit(limit, writes, app::routes::api_guard(&config), state.clone());
    serve(config, state, routes).await
}

async fn serve(config: Config, state: AppState, routes: Router) -> TestServer {
    let routes = routes.merge(Router::new().route("/slow", get(slow)).route("/panic", get(boom)));
    let app = app::with_middleware(routes, &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    };
    let limits = app::Limits::from_config(&config);
    let st = state.clone();
    let handle = tokio::spawn(async move { app::serve(listener, app, &st, shutdown, limits).await });
    TestServer { addr, state, stop: Some(tx), handle }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

pub const SECURITY_HEADERS: [(&str, &str); 8] = [
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("permissions-policy", "accelerometer=(), camera=(), geolocation=(), microphone=(), payment=(), usb=()"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// The app binary with none of the app's variables set (the list comes from the app's own
/// command line definition, so a new setting cannot be forgotten here), so the host's settings
/// never leak into a test. The rest stays, e.g. LLVM_PROFILE_FILE for coverage.
pub fn app_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_app"));
    for var in app::Cli::env_vars() {
        cmd.env_remove(var);
    }
    cmd.env_remove("GIT_COMMIT");
    // Never the default file under the working directory (app/target/...): a private database
    // per process.
    cmd.env("DATABASE_URL", "sqlite::memory:");
    cmd
}

pub mod pg;
