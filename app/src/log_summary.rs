//! Logs that cannot be amplified: the cheap answers an attacker can make the service give at any
//! rate (429 throttled, 503 unavailable: the database is down, or the service is draining) get
//! no line each. They are counted, and each kind is summarised at most once per
//! [`SUMMARY_INTERVAL`], as one line with its count (`"responses summarised"`, fields `kind`,
//! `status`, `count`, `interval_secs`). At 10,000 429s a second that is one line per 10 s instead
//! of 10,000 a second, and the log buffer keeps room for the real errors.
//!
//! A thread flushes the counts every interval (held weakly: it ends once the app is dropped);
//! what is left is flushed when the app is dropped (at shutdown).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::http::StatusCode;

/// How often each kind is summarised, at most.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// The counted kinds: (kind, status).
const KINDS: [(&str, StatusCode); 2] =
    [("rate_limited", StatusCode::TOO_MANY_REQUESTS), ("unavailable", StatusCode::SERVICE_UNAVAILABLE)];

struct Counts {
    counts: [AtomicU64; 2],
    interval: Duration,
}

impl Counts {
    fn flush(&self) {
        for ((kind, status), count) in KINDS.iter().zip(&self.counts) {
            let n = count.swap(0, Ordering::Relaxed);
            if n > 0 {
                tracing::warn!(
                    kind,
                    status = status.as_u16(),
                    count = n,
                    interval_secs = self.interval.as_secs(),
                    "responses summarised"
                );
            }
        }
    }
}

impl Drop for Counts {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The counters, shared by every clone (one set per app).
#[derive(Clone)]
pub struct Summaries(Arc<Counts>);

impl std::fmt::Debug for Summaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Summaries")
    }
}

impl Default for Summaries {
    fn default() -> Self {
        Self::new(SUMMARY_INTERVAL)
    }
}

impl Summaries {
    /// Counters flushed every `interval` by their own thread.
    pub fn new(interval: Duration) -> Self {
        let counts = Arc::new(Counts { counts: [AtomicU64::new(0), AtomicU64::new(0)], interval });
        let weak: Weak<Counts> = Arc::downgrade(&counts);
        let flusher = std::thread::Builder::new().name("log-summary".into()).spawn(move || {
            loop {
                std::thread::sleep(interval);
                let Some(counts) = weak.upgrade() else { return };
                counts.flush();
            }
        });
        if let Err(e) = flusher {
            tracing::error!(error = %e, "cannot start the log summary thread: counts are logged at exit only");
        }
        Self(counts)
    }

    /// Count a response of `status` if it is a summarised kind; `true` when it was (the caller
    /// then writes no line of its own).
    pub fn record(&self, status: StatusCode) -> bool {
        match KINDS.iter().position(|(_, s)| *s == status) {
            Some(i) => {
                self.0.counts[i].fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Write the summary lines now (and reset the counts).
    pub fn flush(&self) {
        self.0.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttled_and_unavailable_answers_are_counted() {
        let s = Summaries::new(Duration::from_secs(3600));
        assert!(s.record(StatusCode::TOO_MANY_REQUESTS));
        assert!(s.record(StatusCode::SERVICE_UNAVAILABLE));
        for other in
            [StatusCode::OK, StatusCode::NOT_FOUND, StatusCode::INTERNAL_SERVER_ERROR, StatusCode::GATEWAY_TIMEOUT]
        {
            assert!(!s.record(other), "{other}");
        }
        assert_eq!(s.0.counts[0].load(Ordering::Relaxed), 1);
        assert_eq!(s.0.counts[1].load(Ordering::Relaxed), 1);
        s.flush();
        assert_eq!(s.0.counts[0].load(Ordering::Relaxed), 0, "a flush resets");
    }
}
