//! The service's own endpoints: the greeting (`/`) and the probes (`/health`, `/ready`). The
//! OpenAPI document (`/openapi.json`) lives in `openapi.rs`, which lists these handlers: this
//! module does not import it back.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Serialize, ToSchema)]
pub struct Greeting {
    pub message: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process can answer.
    pub status: &'static str,
    /// The running version (APP_VERSION).
    pub version: String,
    /// Seconds since the process started.
    pub uptime_seconds: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    pub status: &'static str,
    /// `ok`, `unavailable` (cannot reach it within 1 s) or `schema_behind` (run `app migrate`),
    /// as the background check last found it (every 2 s; `/ready` itself never queries the
    /// database). Informational: readiness does not fail on it (docs/database.md, "Outages").
    pub database: &'static str,
}

/// A greeting.
#[utoipa::path(get, path = "/", responses(
    (status = 200, description = "Greeting", body = Greeting),
    (status = 429, description = "Rate limited", body = ErrorBody),
))]
pub async fn hello() -> Json<Greeting> {
    Json(Greeting { message: "Hello from rdeploy!" })
}

/// Liveness: answers whenever the process can serve; touches no dependency. Never rate limited.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "Alive", body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health { status: "ok", version: state.version.to_string(), uptime_seconds: state.started.elapsed().as_secs() })
}

/// Readiness: 200 while serving, 503 from the moment shutdown begins. Never rate limited. The
/// database's state is reported, not judged: every task shares the one database, so failing
/// readiness on it would take the whole service (and the endpoints that do not need it) out of
/// the load balancer at once, while the app recovers by itself when the database returns.
/// The database state is the one cached by the background check ([`crate::readiness`]).
#[utoipa::path(get, path = "/ready", responses(
    (status = 200, description = "Ready for traffic", body = Ready),
    (status = 503, description = "Shutting down", body = ErrorBody),
))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    if state.ready.load(Ordering::Acquire) {
        // The cached state (crate::readiness): a probe flood takes no pool connection.
        let database = state.db_health.current(&state.db).await.as_str();
        Ok(Json(Ready { status: "ready", database }))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the service is draining; send traffic elsewhere",
        ))
    }
}

/// The probes. The caller must not rate limit them: the load balancer would mark healthy
/// targets unhealthy.
pub fn probes() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready))
}

/// The greeting.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(hello))
}
