//! Runtime configuration: every setting is a CLI flag with an environment fallback, named
//! exactly as the deployment (ECS task definition, `.env`, README) names it.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Default version: crate version plus the git commit captured by build.rs.
pub const BUILD_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("APP_GIT_COMMIT"));

#[derive(Debug, Parser)]
#[command(name = "app", version = BUILD_VERSION, about = "The HTTP service: hello, health and readiness endpoints behind a load balancer.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// GET /health on the local port; exit 0 on 200, else 1 with the reason on stderr.
    /// Used by the container HEALTHCHECK and the ECS container healthCheck (no shell, no curl).
    Healthcheck {
        /// URL to check (default: http://127.0.0.1:$PORT/health).
        #[arg(long)]
        url: Option<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
        timeout_secs: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log shippers; the default).
    Json,
    /// Human-readable, coloured on a terminal.
    Pretty,
}

/// Which responses get an access-log line (method, path, request id, status, latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessLog {
    /// Every response.
    All,
    /// Responses with a 4xx or 5xx status, and any response slower than 1 s (the default).
    Errors,
    /// None.
    Off,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// TCP port to listen on.
    #[arg(long, env = "PORT", value_name = "PORT", default_value_t = 5000, global = true)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, env = "BIND", value_name = "BIND", default_value = "0.0.0.0", global = true)]
    pub bind: IpAddr,
    /// Version reported by /health (default: crate version + git commit at build time).
    #[arg(long, env = "APP_VERSION", value_name = "APP_VERSION", default_value = BUILD_VERSION, value_parser = non_empty, global = true)]
    pub app_version: String,
    /// Comma-separated exact origins allowed by CORS, e.g. `https://app.example.com`.
    /// Empty means no CORS headers at all.
    #[arg(long, env = "ALLOWED_ORIGINS", value_name = "ALLOWED_ORIGINS", value_delimiter = ',', value_parser = origin, global = true)]
    pub allowed_origins: Vec<HeaderValue>,
    /// Sustained requests per second allowed per client.
    #[arg(long, env = "RATE_LIMIT_RPS", value_name = "RATE_LIMIT_RPS", default_value = "50", global = true)]
    pub rate_limit_rps: NonZeroU32,
    /// Requests a client may send in a burst before being limited.
    #[arg(long, env = "RATE_LIMIT_BURST", value_name = "RATE_LIMIT_BURST", default_value = "100", global = true)]
    pub rate_limit_burst: NonZeroU32,
    /// Number of proxies in front of the service that append to X-Forwarded-For (1 behind an ALB).
    /// 0 uses the socket peer address.
    #[arg(long, env = "TRUSTED_PROXY_HOPS", value_name = "TRUSTED_PROXY_HOPS", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=10), global = true)]
    pub trusted_proxy_hops: u8,
    /// A request that takes longer gets 504.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", value_name = "REQUEST_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub request_timeout_secs: u64,
    /// Larger request bodies get 413.
    #[arg(long, env = "MAX_BODY_BYTES", value_name = "MAX_BODY_BYTES", default_value_t = 64 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// After SIGTERM, keep serving (with /ready at 503) this long so the load balancer deregisters us.
    #[arg(long, env = "SHUTDOWN_DRAIN_SECS", value_name = "SHUTDOWN_DRAIN_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=3600), global = true)]
    pub shutdown_drain_secs: u64,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_name = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json, global = true)]
    pub log_format: LogFormat,
    /// Which responses are logged. Every success is a line per request; at high traffic the load
    /// balancer's own access logs are the cheaper record of those (docs/PERFORMANCE.md).
    #[arg(long, env = "ACCESS_LOG", value_name = "ACCESS_LOG", value_enum, default_value_t = AccessLog::Errors, global = true)]
    pub access_log: AccessLog,
    /// Log filter, tracing-subscriber EnvFilter syntax (e.g. `info,tower_http=debug`).
    #[arg(long, env = "RUST_LOG", value_name = "RUST_LOG", default_value = "info", value_parser = log_filter, global = true)]
    pub rust_log: String,
}

impl Config {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub fn shutdown_drain(&self) -> Duration {
        Duration::from_secs(self.shutdown_drain_secs)
    }

    /// A configuration with defaults and no environment, for tests and embedding.
    pub fn defaults() -> Self {
        Cli::try_parse_from(["app"]).expect("defaults parse").config
    }
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() { Err("must not be empty".into()) } else { Ok(s.to_owned()) }
}

/// An origin is `scheme://host[:port]` with nothing after it; CORS compares it byte for byte.
fn origin(s: &str) -> Result<HeaderValue, String> {
    let s = s.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("'{s}' is not an origin: it must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '*']) {
        return Err(format!("'{s}' is not an origin: expected scheme://host[:port] with no path or wildcard"));
    }
    HeaderValue::from_str(s).map_err(|_| format!("'{s}' contains characters not allowed in a header"))
}

fn log_filter(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s).map(|_| s.to_owned()).map_err(|e| e.to_string())
}

/// Turns a clap error into the one line we print: which variable (or flag) and what is wrong.
pub fn one_line_error(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let first = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("error: invalid configuration");
    first.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = Config::defaults();
        assert_eq!(c.port, 5000);
        assert_eq!(c.bind.to_string(), "0.0.0.0");
        assert_eq!(c.trusted_proxy_hops, 0);
        assert!(c.allowed_origins.is_empty());
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.access_log, AccessLog::Errors);
        assert!(c.app_version.starts_with(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn origins_are_validated() {
        assert!(origin("https://a.example.com").is_ok());
        assert!(origin("http://localhost:3000").is_ok());
        for bad in ["a.example.com", "https://", "https://x.com/path", "https://*.x.com", "ftp://x"] {
            assert!(origin(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn invalid_values_name_the_variable_in_one_line() {
        let err = Cli::try_parse_from(["app", "--port", "seventy"]).unwrap_err();
        let line = one_line_error(&err);
        assert!(line.contains("PORT"), "{line}");
        assert!(!line.contains('\n'));
        let err = Cli::try_parse_from(["app", "--rust-log", "info,[[["]).unwrap_err();
        assert!(one_line_error(&err).contains("RUST_LOG"));
    }
}
