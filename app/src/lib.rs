//! The service as a library, organised by resource (the launchbadge/realworld-axum-sqlx shape):
//!
//! - one module per resource, each with its own `router()`: [`meta`] (`/`, `/health`, `/ready`,
//!   `/openapi.json`), [`messages`] (the guestbook API, `/api/messages`), [`web`] (the guestbook
//!   page, `/guestbook`, and its `/assets/...`);
//! - [`db`]: the storage, behind one module (pool, migrations, queries);
//! - [`routes`]: the one place where those routers are merged (and the rate limiter applied);
//! - [`middleware`]: the stack around every request, assembled apart from routing;
//! - [`state`]: what handlers share; [`readiness`]: the cached database state `/ready` reports; [`openapi`]: the document listing every resource's paths.
//!
//! [`app`] builds the complete service from a [`Config`], [`serve`] runs it with connection
//! limits and graceful shutdown. `main.rs` only parses config and calls these.

pub mod access_log;
pub mod api_guard;
pub mod client_ip;
pub mod config;
pub mod db;
pub mod error;
pub mod healthcheck;
pub mod log_summary;
pub mod logging;
pub mod messages;
pub mod meta;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
pub mod readiness;
pub mod retention;
pub mod routes;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod web;

pub use config::{AccessLog, Cli, Command, Config, LogFormat};
pub use middleware::{
    AppService, MAX_REQUEST_ID_LEN, NO_STORE, X_REQUEST_ID, is_safe_request_id, request_id, with_middleware,
};
pub use routes::{routes, routes_with_limit};
pub use server::{Limits, serve};
pub use state::AppState;

/// The complete application for `config`.
pub fn app(config: &Config, state: AppState) -> impl AppService + use<> {
    with_middleware(routes(config, state), config)
}
