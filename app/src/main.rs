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
    tracing::info!(addr = %local, version = %config.app_version, "listening");
    let grace = config.request_timeout() + Duration::from_secs(1);
    let app = app::app(&config, state.clone());
    match app::serve(listener, app, &state, shutdown_signal(), config.shutdown_drain(), grace).await {
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

/// SIGTERM (ECS, `docker stop`, also as PID 1, where no default handler exists) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
