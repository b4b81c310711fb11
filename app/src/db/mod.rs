//! Storage, behind this one module: the connection pool (PostgreSQL or the embedded SQLite),
//! the embedded migrations ([`migrations`]), the queries ([`messages`]) and what a database
//! failure means for a caller ([`DbError`]). Handlers never see sqlx.
//!
//! Which database: `DATABASE_URL`, else PostgreSQL from `DB_*` when `DB_HOST` is set, else SQLite
//! in `target/app-data/guestbook.db` (docs/database.md).

pub mod credentials;
pub mod iam;
pub mod messages;
pub mod migrations;
pub mod rds_ca;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::config::{DatabaseConfig, DbAuth, SslMode};
use credentials::CredentialSource;

/// The embedded default's file, relative to the working directory (the repository root under
/// `cargo run`): under `target/`, so `cargo clean` is the way to start over.
pub const DEFAULT_SQLITE_PATH: &str = "target/app-data/guestbook.db";

/// The database the app talks to. Cheap to clone (the pools are reference counted).
#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Which database a configuration selects, before any connection is made. PostgreSQL's
/// options carry the credential as it is at start; [`Db::keep_credentials_fresh`] renews it
/// when the source can change.
#[derive(Debug, Clone)]
pub enum Target {
    Postgres(Box<PgConnectOptions>, CredentialSource),
    Sqlite { path: PathBuf },
    SqliteMemory,
}

/// Pool settings (docs/database.md, "Pool").
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// PostgreSQL connections per process.
    pub size: u32,
    /// How long a request waits for a connection (or for a new one to be established) before
    /// it fails with [`DbError::Unavailable`]: shorter than the request timeout, so the caller
    /// gets 503 + Retry-After rather than 504.
    pub acquire_timeout: Duration,
    /// PostgreSQL's `statement_timeout`: a query never holds a connection past the request.
    pub statement_timeout: Duration,
}

impl Target {
    /// The target the configuration selects; `Err` is one line naming the setting.
    pub fn from_config(c: &DatabaseConfig) -> Result<Self, String> {
        // One crypto provider for sqlx's TLS: ring (already the process default, or another
        // one installed first: either way nothing to do).
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Some(url) = &c.database_url {
            if c.db_auth == DbAuth::Iam {
                return Err("DB_AUTH=iam takes the database from DB_HOST, DB_PORT, DB_NAME and DB_USERNAME: unset \
                            DATABASE_URL"
                    .into());
            }
            return Self::from_url(url.expose());
        }
        let Some(host) = c.db_host.as_deref().filter(|h| !h.trim().is_empty()) else {
            return Ok(Self::Sqlite { path: DEFAULT_SQLITE_PATH.into() });
        };
        let user = c.db_username.as_deref().filter(|u| !u.is_empty()).ok_or("DB_HOST is set but DB_USERNAME is not")?;
        let mut options = PgConnectOptions::new_without_pgpass()
            .host(host)
            .port(c.db_port)
            .username(user)
            .database(c.db_name.as_deref().unwrap_or(user))
            .ssl_mode(match c.db_sslmode {
                SslMode::Disable => PgSslMode::Disable,
                SslMode::Prefer => PgSslMode::Prefer,
                SslMode::Require => PgSslMode::Require,
                SslMode::VerifyCa => PgSslMode::VerifyCa,
                SslMode::VerifyFull => PgSslMode::VerifyFull,
            });
        if let Some(ca) = &c.db_sslrootcert {
            if !ca.is_file() {
                return Err(format!("DB_SSLROOTCERT={} is not a readable file", ca.display()));
            }
            options = options.ssl_root_cert(ca);
        } else if matches!(c.db_sslmode, SslMode::VerifyCa | SslMode::VerifyFull) {
            // The image has no CA store: verify against RDS's roots, compiled in.
            options = options.ssl_root_cert_from_pem(rds_ca::BUNDLE.to_vec());
        }
        let (password, source) = credential(c, host, user)?;
        if let Some(password) = password {
            options = options.password(&password);
        }
        Ok(Self::Postgres(Box::new(options), source))
    }

    fn from_url(url: &str) -> Result<Self, String> {
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(Self::SqliteMemory);
        }
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("DATABASE_URL=sqlite: names no file (use sqlite:PATH or sqlite::memory:)".into());
            }
            return Ok(Self::Sqlite { path: path.into() });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // The URL may hold a password: the error names the setting, never echoes the value.
            return PgConnectOptions::from_str(url)
                .map(|o| Self::Postgres(Box::new(o), CredentialSource::Password))
                .map_err(|e| format!("DATABASE_URL is not a valid PostgreSQL URL: {}", redact(&e.to_string(), url)));
        }
        Err("DATABASE_URL must start with sqlite: or postgres:// (value not shown: it may hold a password)".into())
    }

    /// Where it points, for logs: never the password.
    pub fn describe(&self) -> String {
        match self {
            Self::Postgres(o, _) => format!(
                "postgres://{}@{}:{}/{}",
                o.get_username(),
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or_default()
            ),
            Self::Sqlite { path } => format!("sqlite:{}", path.display()),
            Self::SqliteMemory => "sqlite::memory: (per process; lost on exit)".into(),
        }
    }
}

/// The credential the `DB_*` settings select: the password to start with (none for IAM: the first
/// token is signed before serving) and where later ones come from. Errors name the settings.
fn credential(c: &DatabaseConfig, host: &str, user: &str) -> Result<(Option<String>, CredentialSource), String> {
    match c.db_auth {
        DbAuth::Password => match (&c.db_password, &c.db_password_file) {
            (Some(_), Some(_)) => Err("DB_PASSWORD and DB_PASSWORD_FILE are both set: set one".into()),
            (Some(p), None) => Ok((Some(p.expose().to_owned()), CredentialSource::Password)),
            (None, Some(file)) => {
                Ok((Some(credentials::read_password_file(file)?), CredentialSource::PasswordFile(file.clone())))
            }
            (None, None) => {
                Err("DB_HOST is set but DB_PASSWORD is not (nor DB_PASSWORD_FILE; or set DB_AUTH=iam)".into())
            }
        },
        DbAuth::Iam => {
            if c.db_password.is_some() || c.db_password_file.is_some() {
                return Err("DB_AUTH=iam signs a token for each login: unset DB_PASSWORD and DB_PASSWORD_FILE".into());
            }
            let region = c
                .aws_region
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .ok_or("DB_AUTH=iam needs AWS_REGION (the database's region, part of the token's signature)")?;
            if matches!(c.db_sslmode, SslMode::Disable | SslMode::Prefer) {
                return Err(
                    "DB_AUTH=iam needs DB_SSLMODE=require, verify-ca or verify-full: RDS takes IAM tokens only over TLS"
                        .into(),
                );
            }
            Ok((
                None,
                CredentialSource::Iam(iam::TokenTarget {
                    region: region.to_owned(),
                    host: host.to_owned(),
                    port: c.db_port,
                    user: user.to_owned(),
                }),
            ))
        }
    }
}

fn redact(message: &str, secret: &str) -> String {
    message.replace(secret, "***")
}

impl PoolSettings {
    pub fn from_config(c: &DatabaseConfig, request_timeout: Duration) -> Result<Self, String> {
        let acquire_timeout = Duration::from_secs(c.db_acquire_timeout_secs);
        if acquire_timeout >= request_timeout {
            return Err(format!(
                "DB_ACQUIRE_TIMEOUT_SECS ({}) must be below REQUEST_TIMEOUT_SECS ({}), or a database outage \
                 answers 504 instead of 503",
                acquire_timeout.as_secs(),
                request_timeout.as_secs()
            ));
        }
        // A request may wait the whole acquire timeout before its query starts: the query must
        // then still end (cancelled by PostgreSQL) before the request times out.
        let budget = request_timeout - acquire_timeout;
        let statement_timeout = match c.db_statement_timeout_secs.map(Duration::from_secs) {
            None => budget,
            Some(t) if t <= budget => t,
            Some(t) => {
                return Err(format!(
                    "DB_STATEMENT_TIMEOUT_SECS ({}) must be at most REQUEST_TIMEOUT_SECS ({}) - \
                     DB_ACQUIRE_TIMEOUT_SECS ({}) = {}, or a query keeps running after its client got a 504",
                    t.as_secs(),
                    request_timeout.as_secs(),
                    acquire_timeout.as_secs(),
                    budget.as_secs()
                ));
            }
        };
        Ok(Self { size: c.db_pool_size, acquire_timeout, statement_timeout })
    }
}

/// How long [`Db::close`] waits for connections to be returned and closed at shutdown. The
/// shutdown budget is drain (`SHUTDOWN_DRAIN_SECS`, 5) + grace (request timeout + 1 = 11) + this,
/// which must fit ECS's `stopTimeout` (30 s, `infra/modules/ecs-service`) before SIGKILL.
pub const POOL_CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

impl Default for PoolSettings {
    fn default() -> Self {
        Self { size: 10, acquire_timeout: Duration::from_secs(3), statement_timeout: Duration::from_secs(7) }
    }
}

impl Db {
    /// The pool for `target`. Connects lazily: the process starts (and `/health` answers) while
    /// the database is down; requests then get 503 until it is back. A SQLite file's directory is
    /// created here.
    pub fn open(target: &Target, pool: PoolSettings) -> Result<Self, String> {
        match target {
            Target::Postgres(options, _) => {
                let options = options
                    .clone()
                    .options([("statement_timeout", format!("{}ms", pool.statement_timeout.as_millis()))]);
                Ok(Self::Postgres(
                    PgPoolOptions::new()
                        .max_connections(pool.size)
                        .acquire_timeout(pool.acquire_timeout)
                        .connect_lazy_with(options),
                ))
            }
            Target::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        format!(
                            "cannot create {} for the SQLite database: {e} (set DATABASE_URL or DB_HOST; on a \
                             read-only filesystem DATABASE_URL=sqlite::memory: keeps data per process)",
                            dir.display()
                        )
                    })?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(pool.acquire_timeout);
                // One writer at a time is SQLite's model; a few readers beside it.
                Ok(Self::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(pool.acquire_timeout)
                        .connect_lazy_with(options),
                ))
            }
            Target::SqliteMemory => Ok(Self::sqlite_memory()),
        }
    }

    /// A private in-memory SQLite database (tests; `DATABASE_URL=sqlite::memory:`). One
    /// connection that is never closed: the database lives exactly as long as it.
    pub fn sqlite_memory() -> Self {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").expect("a valid SQLite URL");
        Self::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(3))
                .connect_lazy_with(options),
        )
    }

    /// Keep the credential of a PostgreSQL pool fresh when its source can change (a password
    /// file, IAM tokens): sets the first one now, then renews it in the background
    /// ([`credentials::keep_fresh`]). A fixed password: nothing to do. Call once per pool.
    pub async fn keep_credentials_fresh(&self, target: &Target) {
        if let (Self::Postgres(pool), Target::Postgres(_, source)) = (self, target) {
            credentials::keep_fresh(pool, source).await;
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Whether `serve` applies the migrations itself at start: yes for SQLite (the embedded
    /// default has no deploy step that could), no for PostgreSQL (the deploy's one-off
    /// `app migrate` task does, before the new revision takes traffic).
    pub fn migrates_on_start(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }

    /// One round trip, for `/ready`.
    pub async fn ping(&self) -> Result<(), DbError> {
        match self {
            Self::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
            Self::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
        }
        .map_err(DbError::from)
    }

    /// Close the pool, waiting at most [`POOL_CLOSE_TIMEOUT`] for connections still checked out
    /// (sqlx's own `close` waits for every one of them, without a bound). Returns whether it
    /// closed in time; if not, the process exits anyway and the server drops the connections.
    pub async fn close(&self) -> bool {
        self.close_within(POOL_CLOSE_TIMEOUT).await
    }

    pub async fn close_within(&self, limit: Duration) -> bool {
        let close = async {
            match self {
                Self::Postgres(p) => p.close().await,
                Self::Sqlite(p) => p.close().await,
            }
        };
        let closed = tokio::time::timeout(limit, close).await.is_ok();
        if !closed {
            tracing::warn!(
                limit_secs = limit.as_secs_f64(),
                "database pool not closed in time (a connection is still in use); exiting anyway"
            );
        }
        closed
    }
}

/// What went wrong, as the API reports it.
#[derive(Debug)]
pub enum DbError {
    /// The database cannot be reached, refused us, or is overloaded: 503 + Retry-After; the
    /// same request may succeed later without any change on the caller's side.
    Unavailable(String),
    /// The schema is older than this binary expects (the migration did not run): 503 too, with
    /// a message saying so; an operator must run `app migrate`.
    SchemaBehind(String),
    /// Anything else: a bug, 500.
    Other(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(e) => write!(f, "database unavailable: {e}"),
            Self::SchemaBehind(e) => write!(f, "database schema is behind this binary: {e}"),
            Self::Other(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for DbError {}

/// SQLSTATEs that mean "not now" rather than "never": class 08 (connection exception), 53
/// (insufficient resources, e.g. too many connections), 57P01-57P03 (admin/crash shutdown, the
/// server is starting up), 28P01/28000 (authentication: see [`log_rejected_password`]), 40001 /
/// 40P01 (serialization failure / deadlock: retryable by definition).
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "28P01" | "28000" | "40001" | "40P01")
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::Protocol(_) | E::WorkerCrashed => {
                Self::Unavailable(tls_verification_failure(&e.to_string()).unwrap_or_else(|| e.to_string()))
            }
            E::Database(db) => {
                let code = db.code().unwrap_or_default();
                let message = db.message();
                if matches!(&*code, "28P01" | "28000") {
                    // A refused login: a refreshable credential is renewed at once.
                    credentials::login_rejected();
                }
                if code == "28P01" {
                    log_rejected_password(message);
                }
                if is_transient_sqlstate(&code)
                    // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6): another writer holds the lock.
                    || matches!(&*code, "5" | "6" | "517" | "262")
                {
                    Self::Unavailable(format!("{message} (SQLSTATE {code})"))
                } else if matches!(&*code, "42P01" | "42703") || message.starts_with("no such table") {
                    Self::SchemaBehind(message.to_owned())
                } else {
                    Self::Other(format!("{message} (code {code})"))
                }
            }
            _ => Self::Other(e.to_string()),
        }
    }
}

/// Counts events and lets one log line through per interval, carrying how many happened since
/// the previous line: a log-based metric (the `db-auth-failures` metric filter, Terraform app
/// layer) sums the counts, while the log gets one line a minute, not one per request.
pub struct EveryInterval {
    interval_secs: u64,
    last: AtomicU64,
    count: AtomicU64,
}

impl EveryInterval {
    pub const fn new(interval_secs: u64) -> Self {
        Self { interval_secs, last: AtomicU64::new(0), count: AtomicU64::new(0) }
    }

    /// Record one event at `now` (seconds): `Some(n)` when this one should be logged, with the
    /// number of events since the last logged one (this one included).
    pub fn record(&self, now: u64) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= self.interval_secs;
        if due && self.last.compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            Some(self.count.swap(0, Ordering::Relaxed))
        } else {
            None
        }
    }
}

/// The database refused this process's credential (28P01). With DB_PASSWORD_FILE or DB_AUTH=iam
/// a fresh one is already being fetched ([`credentials::login_rejected`]) and a line now and
/// then is expected around a rotation; with a fixed DB_PASSWORD (read once at start: the
/// migration task, local development) only a restart helps. Say so, clearly and at most once a
/// minute, with the count of failures since the last line (`auth_failures`: what the CloudWatch
/// metric filter sums).
fn log_rejected_password(message: &str) {
    static FAILURES: EveryInterval = EveryInterval::new(60);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if let Some(count) = FAILURES.record(now) {
        tracing::error!(
            sqlstate = "28P01",
            auth_failures = count,
            detail = message,
            "the database rejected this task's credential (SQLSTATE 28P01). With DB_PASSWORD_FILE or DB_AUTH=iam a \
             fresh one is being fetched; if this line repeats every minute, the credential itself is wrong (IAM: \
             the role's rds-db:connect or GRANT rds_iam). With a fixed DB_PASSWORD, read at start, the password was \
             probably rotated since: start new tasks (`cargo xtask deploy --force` or `aws ecs update-service \
             --force-new-deployment`). See docs/database.md"
        );
    }
}

/// sqlx's message for a server certificate that `verify-ca` / `verify-full` refused (rustls:
/// "invalid peer certificate: ..."), as one line saying what to check; `None` for any other
/// error. The raw message stays at the end, in brackets.
pub fn tls_verification_failure(message: &str) -> Option<String> {
    let detail = &message[message.find("invalid peer certificate")?..];
    let check = if detail.contains("NotValidForName") || detail.contains("not valid for name") {
        "the server's certificate does not name DB_HOST: check that DB_HOST is the name in the certificate \
         (RDS: the instance endpoint, not an IP address, a CNAME or a tunnel's 127.0.0.1)"
    } else if ["Expired", "NotValidYet", "expired", "not valid yet"].iter().any(|w| detail.contains(w)) {
        "the server's certificate is outside its validity period: check the server's certificate (RDS: \
         ca_cert_identifier) and this machine's clock"
    } else {
        "the server's certificate does not chain to a CA in DB_SSLROOTCERT (unset: the RDS CA bundle built \
         into the app): check DB_SSLROOTCERT and the server's CA (RDS: ca_cert_identifier)"
    };
    Some(format!(
        "TLS verification of the database server failed (DB_SSLMODE verify-ca/verify-full): {check} [{detail}]"
    ))
}

/// Number of seconds a client should wait before retrying after [`DbError::Unavailable`].
pub const RETRY_AFTER_SECS: u64 = 5;

/// Shared by [`Db`]'s query functions: runs the same code on either pool.
macro_rules! on_pool {
    ($db:expr, $pool:ident, $sql:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Postgres($pool) => {
                let $sql = &$crate::db::messages::POSTGRES;
                $body
            }
            $crate::db::Db::Sqlite($pool) => {
                let $sql = &$crate::db::messages::SQLITE;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_server_certificate_reads_as_one_line_saying_what_to_check() {
        // rustls 0.23's messages, as sqlx 0.8.6 wraps them (seen in guestbook.rs's TLS test).
        let io = "error communicating with database: invalid peer certificate: ";
        let name = tls_verification_failure(&format!(
            "{io}certificate not valid for name \"localhost\"; certificate is only valid for DnsName(\"db.example.invalid\")"
        ))
        .unwrap();
        assert!(name.starts_with("TLS verification of the database server failed"), "{name}");
        assert!(name.contains("does not name DB_HOST") && name.contains("db.example.invalid"), "{name}");
        let issuer = tls_verification_failure(&format!("{io}UnknownIssuer")).unwrap();
        assert!(issuer.contains("does not chain to a CA in DB_SSLROOTCERT"), "{issuer}");
        assert!(issuer.ends_with("[invalid peer certificate: UnknownIssuer]"), "{issuer}");
        let expired = tls_verification_failure(&format!(
            "{io}certificate expired: verification time 1 (UNIX), but certificate is not valid after 0 (1 seconds ago)"
        ))
        .unwrap();
        assert!(expired.contains("validity period"), "{expired}");
        assert_eq!(
            tls_verification_failure("error communicating with database: Connection refused (os error 111)"),
            None
        );
    }

    fn io(kind: std::io::ErrorKind) -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::from(kind))
    }

    #[test]
    fn connection_failures_are_unavailable_not_bugs() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            io(std::io::ErrorKind::ConnectionReset),
            io(std::io::ErrorKind::UnexpectedEof),
            io(std::io::ErrorKind::ConnectionRefused),
            sqlx::Error::Protocol("unexpected end of stream".into()),
            sqlx::Error::WorkerCrashed,
        ] {
            let shown = e.to_string();
            assert!(matches!(DbError::from(e), DbError::Unavailable(_)), "{shown}");
        }
        assert!(matches!(DbError::from(sqlx::Error::RowNotFound), DbError::Other(_)));
    }

    fn pool_settings(env: &[&str]) -> Result<PoolSettings, String> {
        let config = crate::Cli::parse_without_env(std::iter::once("app").chain(env.iter().copied())).unwrap().config;
        PoolSettings::from_config(&config.database, config.request_timeout())
    }

    #[test]
    fn statement_timeout_fits_inside_the_request_after_the_acquire_wait() {
        assert_eq!(pool_settings(&[]).unwrap().statement_timeout, Duration::from_secs(7), "10 - 3 by default");
        let s = pool_settings(&["--request-timeout-secs", "30", "--db-acquire-timeout-secs", "5"]).unwrap();
        assert_eq!(s.statement_timeout, Duration::from_secs(25));
        assert_eq!(pool_settings(&["--db-statement-timeout-secs", "7"]).unwrap().statement_timeout.as_secs(), 7);
        assert_eq!(pool_settings(&["--db-statement-timeout-secs", "2"]).unwrap().statement_timeout.as_secs(), 2);
        let err = pool_settings(&["--db-statement-timeout-secs", "8"]).unwrap_err();
        assert!(err.starts_with("DB_STATEMENT_TIMEOUT_SECS (8)") && err.contains("= 7"), "{err}");
        let err = pool_settings(&["--db-acquire-timeout-secs", "10"]).unwrap_err();
        assert!(err.starts_with("DB_ACQUIRE_TIMEOUT_SECS"), "{err}");
    }

    #[tokio::test]
    async fn closing_the_pool_is_bounded_while_a_connection_is_checked_out() {
        let db = Db::sqlite_memory();
        let Db::Sqlite(pool) = &db else { unreachable!() };
        let held = pool.acquire().await.unwrap();
        let started = std::time::Instant::now();
        assert!(!db.close_within(Duration::from_millis(200)).await, "a held connection blocks sqlx's close");
        assert!(started.elapsed() < Duration::from_secs(2), "bounded: {:?}", started.elapsed());
        drop(held);
        let db = Db::sqlite_memory();
        db.ping().await.unwrap();
        assert!(db.close_within(Duration::from_secs(2)).await, "nothing checked out: closes in time");
    }

    /// SIGTERM to SIGKILL is ECS's `stopTimeout`: the default drain, the in-flight grace and the
    /// pool's close must all fit in it, or ECS kills the task mid-request.
    #[test]
    fn drain_grace_and_close_fit_the_ecs_stop_timeout() {
        let tf =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/modules/ecs-service/variables.tf"))
                .unwrap();
        let stop_timeout: u64 = tf
            .split("stop_timeout")
            .nth(1)
            .and_then(|rest| rest.split("optional(number,").nth(1))
            .and_then(|rest| rest.split(')').next())
            .map(|n| n.trim().parse().unwrap())
            .expect("stop_timeout = optional(number, N) in the ecs-service module");
        let limits = crate::Limits::from_config(&crate::Config::defaults());
        let total = limits.drain + limits.grace + POOL_CLOSE_TIMEOUT;
        assert!(total < Duration::from_secs(stop_timeout), "{total:?} does not fit stopTimeout {stop_timeout} s");
    }

    #[test]
    fn auth_failures_are_logged_once_per_interval_with_their_count() {
        let every = EveryInterval::new(60);
        assert_eq!(every.record(1_000), Some(1), "the first failure is logged at once");
        for t in 1_001..1_060 {
            assert_eq!(every.record(t), None, "t={t}: within the interval, only counted");
        }
        assert_eq!(every.record(1_060), Some(60), "59 counted + this one");
        assert_eq!(every.record(1_061), None);
        assert_eq!(every.record(5_000), Some(2), "a quiet hour later: the one counted before + this one");
    }

    #[test]
    fn transient_sqlstates() {
        for code in ["08006", "08001", "53300", "57P01", "57P03", "28P01", "40001"] {
            assert!(is_transient_sqlstate(code), "{code}");
        }
        for code in ["23505", "42P01", "22001", "42601"] {
            assert!(!is_transient_sqlstate(code), "{code}");
        }
    }

    fn target(args: &[&str]) -> Result<Target, String> {
        let base = ["app", "--db-host", "db.example", "--db-username", "guestbook_app"];
        let config = crate::Cli::parse_without_env(base.iter().chain(args)).unwrap().config;
        Target::from_config(&config.database)
    }

    #[test]
    fn the_credential_settings_select_a_source_and_errors_name_the_variables() {
        let Ok(Target::Postgres(o, CredentialSource::Password)) = target(&["--db-password", "pw"]) else { panic!() };
        assert_eq!(o.get_username(), "guestbook_app");
        let iam = target(&["--db-auth", "iam", "--aws-region", "eu-central-1"]).unwrap();
        let Target::Postgres(_, CredentialSource::Iam(t)) = iam else { panic!("{iam:?}") };
        assert_eq!(
            (t.region.as_str(), t.host.as_str(), t.port, t.user.as_str()),
            ("eu-central-1", "db.example", 5432, "guestbook_app")
        );
        for (args, names) in [
            (&[][..], &["DB_PASSWORD", "DB_PASSWORD_FILE", "DB_AUTH=iam"][..]),
            (&["--db-password", "pw", "--db-password-file", "/f"], &["DB_PASSWORD", "DB_PASSWORD_FILE"]),
            (&["--db-password-file", "/nonexistent/pw"], &["DB_PASSWORD_FILE=/nonexistent/pw"]),
            (&["--db-auth", "iam"], &["DB_AUTH=iam", "AWS_REGION"]),
            (
                &["--db-auth", "iam", "--aws-region", "eu-central-1", "--db-password", "pw"],
                &["DB_AUTH=iam", "DB_PASSWORD"],
            ),
            (&["--db-auth", "iam", "--aws-region", "eu-central-1", "--db-sslmode", "disable"], &["DB_SSLMODE"]),
            (
                &["--db-auth", "iam", "--aws-region", "eu-central-1", "--database-url", "postgres://h/d"],
                &["DATABASE_URL"],
            ),
        ] {
            let err = target(args).unwrap_err();
            assert!(names.iter().all(|n| err.contains(n)), "{args:?}: {err}");
        }
    }

    #[test]
    fn urls_select_the_database_and_errors_never_show_the_password() {
        assert!(matches!(Target::from_url("sqlite::memory:"), Ok(Target::SqliteMemory)));
        assert!(
            matches!(Target::from_url("sqlite:data/g.db?mode=rwc"), Ok(Target::Sqlite { path }) if path == std::path::Path::new("data/g.db"))
        );
        assert!(matches!(
            Target::from_url("postgres://u:p@h:5432/d"),
            Ok(Target::Postgres(_, CredentialSource::Password))
        ));
        for bad in ["mysql://u:hunter2@h/d", "sqlite:", "postgres://u:hunter2@h:notaport/d"] {
            let err = Target::from_url(bad).unwrap_err();
            assert!(!err.contains("hunter2") && err.contains("DATABASE_URL"), "{err}");
        }
        let described = Target::from_url("postgres://app:hunter2@db.example:5432/guestbook").unwrap().describe();
        assert_eq!(described, "postgres://app@db.example:5432/guestbook");
    }
}
