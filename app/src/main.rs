use std::process::ExitCode;
use std::time::Duration;

use app::db::migrations::{MigrateFailure, SchemaStatus};
use app::db::{Db, PoolSettings, Target};
use app::{AppState, Cli, Command, config};
use clap::Parser;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(), // --help / --version
        Err(err) => {
            eprintln!("{}", config::one_line_error(&err));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Some(Command::Healthcheck { url, timeout_secs }) => {
            let url = url.unwrap_or_else(|| format!("http://127.0.0.1:{}/health", cli.config.port));
            match runtime.block_on(app::healthcheck::check(&url, Duration::from_secs(timeout_secs))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(reason) => {
                    eprintln!("unhealthy: {reason}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Migrate) => runtime.block_on(migrate(cli.config)),
        None => runtime.block_on(run(cli.config)),
    }
}

/// The database the configuration selects, or exit 2 with one line.
fn open_db(config: &app::Config) -> Result<(Db, Target), ExitCode> {
    let opened = Target::from_config(&config.database).and_then(|target| {
        let pool = PoolSettings::from_config(&config.database, config.request_timeout())?;
        Db::open(&target, pool).map(|db| (db, target))
    });
    opened.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

/// A credential that can change (DB_PASSWORD_FILE, DB_AUTH=iam) is set before the first
/// connection and renewed in the background from then on.
async fn fresh_credentials(db: &Db, target: &Target) {
    db.keep_credentials_fresh(target).await;
}

/// `app migrate`: apply the embedded migrations; 0 when the schema is current. A database that
/// is not reachable yet (RDS still starting, a failover) is retried for up to a minute.
async fn migrate(config: app::Config) -> ExitCode {
    let _log_guard = app::logging::init(config.log_format, &config.rust_log);
    let (db, target) = match open_db(&config) {
        Ok(v) => v,
        Err(code) => return code,
    };
    fresh_credentials(&db, &target).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let settings = config.database.migrate_settings();
    let result = loop {
        match db.migrate_with(&settings).await {
            // Unreachable (refused, timed out): retry. Anything else (a wrong password, a failing
            // migration, another migrator holding the lock too long) will not fix itself.
            Err(MigrateFailure::Unreachable(e)) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(database = %target.describe(), error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(MigrateFailure::Unreachable(e)) => break Err(app::db::DbError::from(e).to_string()),
            other => break other.map_err(|e| e.to_string()),
        }
    };
    // The serving tasks' role and its grants, after the tables exist (docs/database.md).
    let result = match result {
        Ok(()) => match db.ensure_app_role(&config.database.db_app_role).await {
            Ok(Some(role)) => {
                tracing::info!(role = %role.name, created = role.created, rds_iam = role.rds_iam, "app role ready");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    db.close().await;
    let versions = app::db::migrations::MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
    match result {
        Ok(()) => {
            tracing::info!(database = %target.describe(), latest_version = versions, "schema is current");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(database = %target.describe(), error = %e, "migration failed");
            eprintln!("error: migrating {} failed: {e}", target.describe());
            ExitCode::FAILURE
        }
    }
}

/// At start: SQLite migrates itself; PostgreSQL is migrated by the deploy's one-off task, so
/// only check and say what is wrong (requests then answer 503 with the reason).
async fn prepare_db(db: &Db, target: &Target) -> Result<(), String> {
    if db.migrates_on_start() {
        db.migrate().await.map_err(|e| format!("cannot migrate {}: {e}", target.describe()))?;
        tracing::info!(database = %target.describe(), "database ready (migrated at start)");
        return Ok(());
    }
    let (db, described) = (db.clone(), target.describe());
    tokio::spawn(async move {
        match db.schema_status().await {
            Ok(SchemaStatus::Current) => tracing::info!(database = %described, "database schema is current"),
            Ok(SchemaStatus::Behind { missing }) => tracing::error!(
                database = %described,
                ?missing,
                "the database schema is behind this binary: run `app migrate` (the deploy's migration task); \
                 the guestbook API answers 503 until then"
            ),
            Err(e) => tracing::warn!(
                database = %described,
                error = %e,
                "database not reachable at start; the API answers 503 until it is (/health stays 200)"
            ),
        }
    });
    Ok(())
}

async fn run(config: app::Config) -> ExitCode {
    let (db, target) = match open_db(&config) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let _log_guard = app::logging::init(config.log_format, &config.rust_log);
    std::panic::set_hook(Box::new(|info| tracing::error!(panic = %info, "panic")));
    // Before listening: a server that SIGTERM cannot stop gracefully must not start.
    let shutdown = match app::shutdown::install() {
        Ok(shutdown) => shutdown,
        Err(e) => {
            tracing::error!(error = %e, "cannot handle shutdown signals");
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = std::net::SocketAddr::new(config.bind, config.port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen");
            eprintln!("error: cannot listen on {addr}: {e} (set PORT or BIND to another value)");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().map_or_else(|_| addr.to_string(), |a| a.to_string());
    fresh_credentials(&db, &target).await;
    if let Err(e) = prepare_db(&db, &target).await {
        tracing::error!(error = %e, "database setup failed");
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let state = AppState::new(&config.app_version, db.clone());
    let retention = app::retention::Policy::from_config(&config);
    tokio::spawn(app::retention::run(db.clone(), retention, app::retention::INTERVAL));
    let limits = app::Limits::from_config(&config);
    tracing::info!(
        addr = %local,
        version = %config.app_version,
        header_read_timeout_secs = limits.header_read_timeout.as_secs(),
        keep_alive_timeout_secs = limits.keep_alive_timeout.as_secs(),
        max_connections = limits.max_connections,
        "listening"
    );
    let app = app::app(&config, state.clone());
    match app::serve(listener, app, &state, shutdown, limits).await {
        Ok(()) => {
            db.close().await;
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server error");
            ExitCode::FAILURE
        }
    }
}
