//! THE one place where the resources' routers are merged. Each resource module owns its paths
//! (`pub fn router() -> Router<AppState>`); adding a resource is one `.merge(...)` line here.
//! Middleware is not assembled here (see `middleware.rs`), except the rate limiter, which is part
//! of routing because it must skip the probes.

use axum::Router;
use axum::http::StatusCode;

use std::time::Duration;

use crate::api_guard::{self, ApiGuard};
use crate::{AppState, Config, messages, meta, openapi, rate_limit, web};

/// The service's routes, without middleware. Tests add their own routes (a slow or panicking
/// handler) to it and wrap the result with [`crate::with_middleware`], so they exercise the real
/// stack.
pub fn routes(config: &Config, state: AppState) -> Router {
    let hops = usize::from(config.trusted_proxy_hops);
    let reads = rate_limit::quota(config.rate_limit_rps, config.rate_limit_burst);
    let writes = rate_limit::write_quota(config.write_rate_limit_per_minute, config.write_rate_limit_burst);
    routes_with_limit(
        rate_limit::RateLimit::new(reads, hops),
        rate_limit::RateLimit::new(writes, hops).writes_only(),
        api_guard(config),
        state,
    )
}

/// The in-flight cap and body deadline of `/api` ([`crate::api_guard`]) as `config` sets them.
pub fn api_guard(config: &Config) -> ApiGuard {
    ApiGuard::new(config.api_max_in_flight as usize, Duration::from_secs(config.body_read_timeout_secs))
}

/// [`routes`] with given rate limiters: `limit` for every request, `writes` (built with
/// [`rate_limit::RateLimit::writes_only`]) on top for writes, and `api` around `/api`. Tests pass
/// limiters reading a fake clock.
pub fn routes_with_limit<C>(
    limit: rate_limit::RateLimit<C>,
    writes: rate_limit::RateLimit<C>,
    api: ApiGuard,
    state: AppState,
) -> Router
where
    C: governor::clock::Clock + Send + Sync + 'static,
{
    // Probes must never be throttled: the load balancer would mark healthy targets unhealthy.
    let probes = meta::probes();
    let throttled = Router::new()
        .merge(meta::router())
        .merge(openapi::router())
        .merge(messages::router().layer(axum::middleware::from_fn_with_state(api, api_guard::guard)))
        .merge(web::router())
        .fallback(not_found)
        // Inner: a write the read quota already refused does not spend write budget.
        .layer(writes)
        .layer(limit);
    probes.merge(throttled).with_state(state)
}

/// Fallback for unknown paths (the JSON body is added by the error middleware).
pub async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}
