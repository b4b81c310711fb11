//! Runtime configuration: every setting is a CLI flag with an environment fallback, named
//! exactly as the deployment (ECS task definition, `.env`, README) names it.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

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
    /// Apply the embedded database migrations to the configured database, then exit: 0 when the
    /// schema is current, 1 with one line saying why not. The deploy runs this as a one-off task
    /// before the rollout (docs/database.md).
    Migrate,
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
    /// Comma-separated origins allowed by CORS, e.g. `https://app.example.com`, compared
    /// without regard to case (a default port, :443 or :80, may be left out). Empty (the
    /// default) means no CORS headers at all.
    #[arg(long, env = "ALLOWED_ORIGINS", value_name = "ALLOWED_ORIGINS", default_value = "", hide_default_value = true, value_parser = origins, global = true)]
    pub allowed_origins: Origins,
    /// Sustained requests per second allowed per client (1 to 1000000000).
    #[arg(long, env = "RATE_LIMIT_RPS", value_name = "RATE_LIMIT_RPS", default_value = "50", value_parser = rate, global = true)]
    pub rate_limit_rps: NonZeroU32,
    /// Requests a client may send in a burst before being limited.
    #[arg(long, env = "RATE_LIMIT_BURST", value_name = "RATE_LIMIT_BURST", default_value = "100", global = true)]
    pub rate_limit_burst: NonZeroU32,
    /// Writes (POST and every method but GET, HEAD and OPTIONS) per MINUTE sustained allowed per
    /// client, on top of RATE_LIMIT_RPS (1 to 1000000). Per task: behind the ALB a client can
    /// write this times the number of tasks.
    #[arg(long, env = "WRITE_RATE_LIMIT_PER_MINUTE", value_name = "WRITE_RATE_LIMIT_PER_MINUTE", default_value = "6", value_parser = write_rate, global = true)]
    pub write_rate_limit_per_minute: NonZeroU32,
    /// Writes a client may send in a burst before the write quota applies (1 to 1000000).
    #[arg(long, env = "WRITE_RATE_LIMIT_BURST", value_name = "WRITE_RATE_LIMIT_BURST", default_value = "5", value_parser = write_rate, global = true)]
    pub write_rate_limit_burst: NonZeroU32,
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
    /// A request body must arrive completely within this many seconds, or the answer is 408
    /// (a client trickling its body cannot hold a slot for the whole request timeout).
    #[arg(long, env = "BODY_READ_TIMEOUT_SECS", value_name = "BODY_READ_TIMEOUT_SECS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub body_read_timeout_secs: u64,
    /// API requests (`/api/...`) answered at once per task; one more gets 503 `overloaded` with
    /// Retry-After at once, rather than waiting for a database connection. Keep it a small
    /// multiple of DB_POOL_SIZE.
    #[arg(long, env = "API_MAX_IN_FLIGHT", value_name = "API_MAX_IN_FLIGHT", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000), global = true)]
    pub api_max_in_flight: u32,
    /// The storage guard: the app keeps at most this many messages, deleting the oldest beyond
    /// it once a minute (an anonymous write flood cannot fill the database).
    #[arg(long, env = "RETENTION_MAX_ROWS", value_name = "RETENTION_MAX_ROWS", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000), global = true)]
    pub retention_max_rows: u64,
    /// The storage guard by age: when set, the app also deletes messages older than this many
    /// days, once a minute. Unset (the default): messages are kept until RETENTION_MAX_ROWS
    /// pushes them out.
    #[arg(long, env = "RETENTION_MAX_AGE_DAYS", value_name = "RETENTION_MAX_AGE_DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500), global = true)]
    pub retention_max_age_days: Option<u32>,
    /// A connection that takes longer than this from a request's first byte to the end of its
    /// headers is closed (slow clients; the first request counts from the connection's start).
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", value_name = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub header_read_timeout_secs: u64,
    /// An idle keep-alive connection is closed after this. Keep it LONGER than the load
    /// balancer's idle timeout (the ALB's: 60 s), or the ALB may reuse a connection the app is
    /// closing and answer 502.
    #[arg(long, env = "KEEP_ALIVE_TIMEOUT_SECS", value_name = "KEEP_ALIVE_TIMEOUT_SECS", default_value_t = 75, value_parser = clap::value_parser!(u64).range(1..=4000), global = true)]
    pub keep_alive_timeout_secs: u64,
    /// Connections served at once; at the cap, new ones wait in the accept queue.
    #[arg(long, env = "MAX_CONNECTIONS", value_name = "MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_connections: u32,
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
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Log filter, tracing-subscriber EnvFilter syntax (e.g. `info,tower_http=debug`).
    #[arg(long, env = "RUST_LOG", value_name = "RUST_LOG", default_value = "info", value_parser = log_filter, global = true)]
    pub rust_log: String,
}

/// Where the data lives (docs/database.md): `DATABASE_URL` if set; else PostgreSQL from the
/// `DB_*` variables if `DB_HOST` is set; else SQLite in `target/app-data/guestbook.db`.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// `sqlite:PATH`, `sqlite::memory:` (per process, gone on exit) or `postgres://...`. Takes
    /// precedence over the DB_* variables.
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<Secret>,
    /// PostgreSQL host; setting it selects PostgreSQL (unless DATABASE_URL is set).
    #[arg(long, env = "DB_HOST", value_name = "DB_HOST", global = true)]
    pub db_host: Option<String>,
    /// PostgreSQL port.
    #[arg(long, env = "DB_PORT", value_name = "DB_PORT", default_value_t = 5432, global = true)]
    pub db_port: u16,
    /// PostgreSQL database name (default: the user name, as libpq does).
    #[arg(long, env = "DB_NAME", value_name = "DB_NAME", global = true)]
    pub db_name: Option<String>,
    /// PostgreSQL user (in ECS: the app role, DB_APP_ROLE's default, for the serving tasks; the RDS
    /// master user, from its secret, for the migration task).
    #[arg(long, env = "DB_USERNAME", value_name = "DB_USERNAME", global = true)]
    pub db_username: Option<String>,
    /// How the app logs in to PostgreSQL: `password` (DB_PASSWORD, or DB_PASSWORD_FILE) or `iam`
    /// (an RDS IAM auth token signed with the task role's AWS credentials, renewed every 5 minutes
    /// and at once when a login is refused; needs AWS_REGION and DB_SSLMODE require or stricter).
    #[arg(long, env = "DB_AUTH", value_name = "DB_AUTH", value_enum, default_value_t = DbAuth::Password, global = true)]
    pub db_auth: DbAuth,
    /// PostgreSQL password, fixed for the life of the process: a rotated password needs a restart
    /// (local development; in ECS only the migration task has one, from the RDS master secret).
    #[arg(long, env = "DB_PASSWORD", value_name = "DB_PASSWORD", hide_env_values = true, global = true)]
    pub db_password: Option<Secret>,
    /// A file holding the PostgreSQL password (instead of DB_PASSWORD; one trailing newline is
    /// ignored). Read again when a login is refused and every 10 s for new connections, so a
    /// rotated password is picked up without a restart.
    #[arg(long, env = "DB_PASSWORD_FILE", value_name = "DB_PASSWORD_FILE", global = true)]
    pub db_password_file: Option<std::path::PathBuf>,
    /// The database's AWS region, for DB_AUTH=iam's token signature.
    #[arg(long, env = "AWS_REGION", value_name = "AWS_REGION", global = true)]
    pub aws_region: Option<String>,
    /// `app migrate` on PostgreSQL: the least-privileged role the serving tasks log in as. The
    /// migration creates it (LOGIN, no password; GRANT rds_iam where that role exists, i.e. on
    /// RDS) and grants it SELECT/INSERT/UPDATE/DELETE on the app's tables and nothing more.
    #[arg(long, env = "DB_APP_ROLE", value_name = "DB_APP_ROLE", default_value = "guestbook_app", value_parser = role_name, global = true)]
    pub db_app_role: String,
    /// TLS to PostgreSQL: `require` encrypts without checking the certificate; `verify-full`
    /// checks that it chains to DB_SSLROOTCERT (unset: the RDS CA bundle built into the app) and
    /// names DB_HOST; `verify-ca` checks the chain (with sqlx 0.8.6 the name too). In AWS the
    /// infra sets verify-full.
    #[arg(long, env = "DB_SSLMODE", value_name = "DB_SSLMODE", value_enum, default_value_t = SslMode::Require, global = true)]
    pub db_sslmode: SslMode,
    /// CA bundle (PEM) for `verify-ca` / `verify-full`, instead of the built-in RDS bundle
    /// (app/certs/rds-global-bundle.pem, every region's RDS roots).
    #[arg(long, env = "DB_SSLROOTCERT", value_name = "DB_SSLROOTCERT", global = true)]
    pub db_sslrootcert: Option<std::path::PathBuf>,
    /// Connections to PostgreSQL per process (docs/database.md explains the default).
    #[arg(long, env = "DB_POOL_SIZE", value_name = "DB_POOL_SIZE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub db_pool_size: u32,
    /// How long a request waits for a database connection before it gets 503. Must be shorter
    /// than REQUEST_TIMEOUT_SECS, so the caller sees 503 + Retry-After rather than a 504.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECS", value_name = "DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub db_acquire_timeout_secs: u64,
    /// PostgreSQL's `statement_timeout` for serving queries. Default and maximum:
    /// REQUEST_TIMEOUT_SECS - DB_ACQUIRE_TIMEOUT_SECS, so a request that waited the whole acquire
    /// timeout still has its query cancelled before the request times out (no query outlives its
    /// 504). Checked at start.
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_SECS", value_name = "DB_STATEMENT_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub db_statement_timeout_secs: Option<u64>,
    /// `app migrate` on PostgreSQL: the migration session's `statement_timeout` (long: an index
    /// build may take minutes, but never unbounded).
    #[arg(long, env = "DB_MIGRATION_STATEMENT_TIMEOUT_SECS", value_name = "DB_MIGRATION_STATEMENT_TIMEOUT_SECS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=86400), global = true)]
    pub db_migration_statement_timeout_secs: u64,
    /// `app migrate` on PostgreSQL: the session's `lock_timeout`. Short, so a migration waiting
    /// for a table lock gives up before the serving queries queued behind it stall.
    #[arg(long, env = "DB_MIGRATION_LOCK_TIMEOUT_MS", value_name = "DB_MIGRATION_LOCK_TIMEOUT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=600_000), global = true)]
    pub db_migration_lock_timeout_ms: u64,
    /// `app migrate`: how many times a migration that hit the lock timeout is tried again
    /// (backoff 1, 2, 4, ... s, at most 30).
    #[arg(long, env = "DB_MIGRATION_LOCK_RETRIES", value_name = "DB_MIGRATION_LOCK_RETRIES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100), global = true)]
    pub db_migration_lock_retries: u32,
    /// `app migrate`: how long a second migrator waits for the first one's lock, then exits 1.
    #[arg(long, env = "DB_MIGRATION_WAIT_SECS", value_name = "DB_MIGRATION_WAIT_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=86400), global = true)]
    pub db_migration_wait_secs: u64,
}

impl DatabaseConfig {
    pub fn migrate_settings(&self) -> crate::db::migrations::MigrateSettings {
        crate::db::migrations::MigrateSettings {
            statement_timeout: Duration::from_secs(self.db_migration_statement_timeout_secs),
            lock_timeout: Duration::from_millis(self.db_migration_lock_timeout_ms),
            lock_retries: self.db_migration_lock_retries,
            wait_for_other_migrator: Duration::from_secs(self.db_migration_wait_secs),
        }
    }
}

/// How the app authenticates to PostgreSQL (docs/database.md, "Credentials").
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DbAuth {
    /// DB_PASSWORD (fixed) or DB_PASSWORD_FILE (re-read).
    Password,
    /// An RDS IAM auth token per login, signed with the task role's credentials.
    Iam,
}

/// A PostgreSQL role name the migration may create and name in GRANTs: lower case letters,
/// digits and `_`, starting with a letter or `_`, at most 63 bytes (PostgreSQL's limit), so it
/// needs no quoting anywhere.
fn role_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
        && !s.starts_with("pg_")
        && !s.starts_with("rds");
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "'{s}' is not a role name: lower case letters, digits and _, not starting with a digit, pg_ or rds, at most 63"
        ))
    }
}

/// TLS modes for PostgreSQL, as libpq names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A value that must not appear in logs or `Debug` output (passwords, URLs with passwords).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
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
        Cli::parse_without_env(["app"]).expect("defaults parse").config
    }
}

impl Cli {
    /// Parse `args` as the binary does, but without reading any environment variable: what a
    /// test configures is all there is, whatever the host's shell has set (`PORT`, ...).
    pub fn parse_without_env<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command = Self::command().mut_args(|arg| arg.env(None::<&str>));
        let matches = command.try_get_matches_from(args)?;
        <Self as clap::FromArgMatches>::from_arg_matches(&matches)
    }

    /// Every environment variable the app reads (for scrubbing a child's environment).
    pub fn env_vars() -> Vec<String> {
        Self::command().get_arguments().filter_map(|a| a.get_env()).map(|v| v.to_string_lossy().into_owned()).collect()
    }
}

/// The CORS origins, normalised (see [`origin`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(pub Vec<HeaderValue>);

impl std::ops::Deref for Origins {
    type Target = [HeaderValue];

    fn deref(&self) -> &[HeaderValue] {
        &self.0
    }
}

/// A comma-separated list of origins; blank entries are ignored, so "" is no origins.
fn origins(s: &str) -> Result<Origins, String> {
    s.split(',').filter(|o| !o.trim().is_empty()).map(origin).collect::<Result<_, _>>().map(Origins)
}

/// The largest rate: one request per nanosecond, the rate limiter's resolution.
const MAX_RATE: u32 = 1_000_000_000;

fn rate(s: &str) -> Result<NonZeroU32, String> {
    let n: u64 = s.trim().parse().map_err(|_| format!("'{s}' is not a whole number"))?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_RATE)
        .and_then(NonZeroU32::new)
        .ok_or_else(|| format!("{n} is not in 1..={MAX_RATE}"))
}

/// The largest write quota or burst: far above any sensible write rate, far below overflow.
const MAX_WRITE_RATE: u32 = 1_000_000;

fn write_rate(s: &str) -> Result<NonZeroU32, String> {
    let n: u64 = s.trim().parse().map_err(|_| format!("'{s}' is not a whole number"))?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_WRITE_RATE)
        .and_then(NonZeroU32::new)
        .ok_or_else(|| format!("{n} is not in 1..={MAX_WRITE_RATE}"))
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() { Err("must not be empty".into()) } else { Ok(s.to_owned()) }
}

/// An origin is `scheme://host[:port]` with nothing after it. Scheme and host are
/// case-insensitive and browsers send them in lower case without the scheme's default port,
/// so the origin is stored that way: `HTTPS://App.Example.com:443` is `https://app.example.com`.
fn origin(s: &str) -> Result<HeaderValue, String> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let (scheme, rest, default_port) = if let Some(rest) = lower.strip_prefix("https://") {
        ("https", rest, ":443")
    } else if let Some(rest) = lower.strip_prefix("http://") {
        ("http", rest, ":80")
    } else {
        return Err(format!("'{s}' is not an origin: it must start with https:// or http://"));
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '*', '@']) {
        return Err(format!("'{s}' is not an origin: expected scheme://host[:port] with no path or wildcard"));
    }
    let host = rest.strip_suffix(default_port).unwrap_or(rest);
    HeaderValue::from_str(&format!("{scheme}://{host}"))
        .map_err(|_| format!("'{s}' contains characters not allowed in a header"))
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
        assert_eq!(c.rate_limit_rps.get(), 50);
        assert_eq!(c.rate_limit_burst.get(), 100);
        assert_eq!(c.write_rate_limit_per_minute.get(), 6);
        assert_eq!(c.write_rate_limit_burst.get(), 5);
        assert_eq!(c.header_read_timeout_secs, 10);
        assert_eq!(c.keep_alive_timeout_secs, 75);
        assert_eq!(c.max_connections, 1024);
        assert_eq!(c.body_read_timeout_secs, 3);
        assert_eq!(c.api_max_in_flight, 20);
        assert_eq!(c.retention_max_rows, 1_000_000);
        assert_eq!(c.retention_max_age_days, None);
        assert!(c.app_version.starts_with(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn origins_are_validated() {
        assert!(origin("https://a.example.com").is_ok());
        assert!(origin("http://localhost:3000").is_ok());
        for bad in ["a.example.com", "https://", "https://x.com/path", "https://*.x.com", "ftp://x", "https://u@x.com"]
        {
            assert!(origin(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn origins_are_stored_in_the_form_browsers_send() {
        for (configured, stored) in [
            ("HTTPS://App.Example.COM", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://app.example.com:80", "http://app.example.com"),
            ("https://app.example.com:8443", "https://app.example.com:8443"),
            (" http://LOCALHOST:3000 ", "http://localhost:3000"),
        ] {
            assert_eq!(origin(configured).unwrap(), stored, "{configured}");
        }
    }

    #[test]
    fn an_empty_origin_list_means_no_cors() {
        for empty in ["", " ", ",", " , "] {
            assert_eq!(origins(empty), Ok(Origins::default()), "{empty:?}");
        }
        let two = origins("https://a.example, HTTPS://B.example,").unwrap();
        assert_eq!(two.0, ["https://a.example", "https://b.example"]);
        assert!(origins("https://a.example,evil").is_err());
    }

    #[test]
    fn rates_beyond_one_per_nanosecond_are_refused_not_a_panic() {
        assert_eq!(rate("1").unwrap().get(), 1);
        assert_eq!(rate("1000000000").unwrap().get(), 1_000_000_000);
        for bad in ["0", "2000000000", "4294967296", "99999999999999999999", "-1", "1.5", "fifty"] {
            assert!(rate(bad).is_err(), "{bad} accepted");
        }
        let err = Cli::parse_without_env(["app", "--rate-limit-rps", "2000000000"]).unwrap_err();
        let line = one_line_error(&err);
        assert!(line.contains("RATE_LIMIT_RPS") && line.contains("1..=1000000000"), "{line}");
    }

    #[test]
    fn a_bad_write_quota_names_its_variable() {
        for (flag, var) in [
            ("--write-rate-limit-per-minute", "WRITE_RATE_LIMIT_PER_MINUTE"),
            ("--write-rate-limit-burst", "WRITE_RATE_LIMIT_BURST"),
        ] {
            for bad in ["0", "1000001", "-1", "often"] {
                let err = Cli::parse_without_env(["app".to_owned(), format!("{flag}={bad}")]).unwrap_err();
                let line = one_line_error(&err);
                assert!(line.contains(var), "{line}");
            }
        }
    }

    #[test]
    fn the_database_login_settings_default_and_name_their_variables() {
        let c = Config::defaults().database;
        assert_eq!((c.db_auth, c.db_app_role.as_str()), (DbAuth::Password, "guestbook_app"));
        for bad in ["", "Guestbook", "1app", "pg_app", "rds_iam", "a-b", "a\"b", "x;drop", &"a".repeat(64)] {
            assert!(role_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(role_name(&"a".repeat(63)).is_ok());
        for (flag, var) in [("--db-app-role=x;drop", "DB_APP_ROLE"), ("--db-auth=kerberos", "DB_AUTH")] {
            let line = one_line_error(&Cli::parse_without_env(["app", flag]).unwrap_err());
            assert!(line.contains(var), "{line}");
        }
    }

    #[test]
    fn the_list_of_variables_is_complete() {
        let vars = Cli::env_vars();
        for var in [
            "PORT",
            "ALLOWED_ORIGINS",
            "RATE_LIMIT_RPS",
            "WRITE_RATE_LIMIT_PER_MINUTE",
            "WRITE_RATE_LIMIT_BURST",
            "HEADER_READ_TIMEOUT_SECS",
            "KEEP_ALIVE_TIMEOUT_SECS",
            "MAX_CONNECTIONS",
            "RUST_LOG",
        ] {
            assert!(vars.iter().any(|v| v == var), "{var} missing from {vars:?}");
        }
    }

    /// The tests above parse without the environment; this one proves it, by running
    /// `defaults_match_the_documented_ones` again in a child process whose environment sets
    /// every variable to a value the defaults test would reject.
    #[test]
    fn config_tests_ignore_the_hosts_environment() {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", "config::tests::defaults_match_the_documented_ones", "--test-threads", "1"]);
        for var in Cli::env_vars() {
            child.env(var, "1");
        }
        let out = child.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("1 passed"), "the defaults test did not run: {stdout}");
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
