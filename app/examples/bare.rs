//! Bench-only baseline: a bare axum hello-world (no middleware) serving the same JSON bodies as
//! the app, so `cargo xtask bench` can report the full stack's throughput as a ratio of this.
//! Listens on 127.0.0.1:$PORT.

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

async fn hello() -> Json<Value> {
    Json(json!({ "message": "Hello from rdeploy!" }))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": "bare", "uptime_seconds": 0 }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(5001);
    let app = Router::new().route("/", get(hello)).route("/health", get(health));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
