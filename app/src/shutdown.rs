//! The signals that begin a graceful shutdown: SIGTERM (ECS, `docker stop`; as PID 1 in a
//! container no default handler exists) and Ctrl-C (SIGINT).
//!
//! The handlers are installed before the server starts listening, so a failure to install one
//! is reported at startup (`main` prints one line and exits 1) instead of leaving a server that
//! a stop request would kill mid-request.

use std::future::Future;
use std::io;
use std::task::Poll;

#[cfg(unix)]
pub use tokio::signal::unix::SignalKind;

/// SIGTERM and SIGINT.
#[cfg(unix)]
pub const SHUTDOWN_SIGNALS: [(SignalKind, &str); 2] =
    [(SignalKind::terminate(), "SIGTERM"), (SignalKind::interrupt(), "SIGINT")];

/// Install handlers for `signals` (kind and name); the future resolves when the first of them
/// arrives. The error names the signal whose handler could not be installed.
#[cfg(unix)]
pub fn on_any(signals: &[(SignalKind, &str)]) -> io::Result<impl Future<Output = ()> + Send + use<>> {
    let mut handlers = Vec::with_capacity(signals.len());
    for (kind, name) in signals {
        let handler = tokio::signal::unix::signal(*kind)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot install the {name} handler: {e}")))?;
        handlers.push(handler);
    }
    Ok(std::future::poll_fn(move |cx| {
        // `None` means the runtime is shutting down: stop then too.
        if handlers.iter_mut().any(|h| h.poll_recv(cx).is_ready()) { Poll::Ready(()) } else { Poll::Pending }
    }))
}

/// The shutdown signals of this platform.
#[cfg(unix)]
pub fn install() -> io::Result<impl Future<Output = ()> + Send + use<>> {
    on_any(&SHUTDOWN_SIGNALS)
}

/// Elsewhere: Ctrl-C only.
#[cfg(not(unix))]
pub fn install() -> io::Result<impl Future<Output = ()> + Send + use<>> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_that_cannot_be_installed_is_an_error_naming_the_signal() {
        // The kernel lets no process handle SIGKILL; tokio refuses it up front.
        let err = on_any(&[(SignalKind::terminate(), "SIGTERM"), (SignalKind::from_raw(9), "SIGKILL")])
            .err()
            .expect("SIGKILL cannot be handled");
        assert!(err.to_string().starts_with("cannot install the SIGKILL handler: "), "{err}");
        assert!(!err.to_string().contains('\n'));
    }

    #[tokio::test]
    async fn the_future_resolves_when_a_signal_arrives() {
        let stop = on_any(&[(SignalKind::user_defined1(), "SIGUSR1")]).unwrap();
        let pid = std::process::id().to_string();
        assert!(std::process::Command::new("kill").args(["-USR1", &pid]).status().unwrap().success());
        tokio::time::timeout(std::time::Duration::from_secs(30), stop).await.expect("SIGUSR1 ends the wait");
    }
}
