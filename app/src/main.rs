use std::process::ExitCode;
use std::time::Duration;

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
        None => runtime.block_on(run(cli.config)),
    }
}

async fn run(config: app::Config) -> ExitCode {
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
    let state = AppState::new(&config.app_version);
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
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server error");
            ExitCode::FAILURE
        }
    }
}
