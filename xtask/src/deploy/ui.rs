//! Progress output: one live, rewritten status line on a terminal; plain timestamped lines (only
//! when the status changes) everywhere else, so CI logs stay readable and greppable.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use aws_sdk_ecs::primitives::{DateTime, DateTimeFormat};

use super::api::Ui;

/// In CI an unchanged status is repeated this often, so a slow rollout never looks like a hang.
const HEARTBEAT: Duration = Duration::from_secs(60);

pub struct TerminalUi {
    live: bool,
    last_printed: Instant,
    /// A live status line is on screen and must be cleared before the next permanent line.
    status_shown: bool,
    last_status: String,
    /// Progress goes to stderr (`--json`: stdout carries only the result document).
    stderr: bool,
}

impl TerminalUi {
    pub fn new() -> Self {
        Self {
            live: std::io::stdout().is_terminal(),
            last_printed: Instant::now(),
            status_shown: false,
            last_status: String::new(),
            stderr: false,
        }
    }

    /// Progress on stderr, so stdout holds only what `--json` prints.
    pub fn on_stderr() -> Self {
        let mut ui = Self::new();
        ui.live = std::io::stderr().is_terminal();
        ui.stderr = true;
        ui
    }

    fn out(&self) -> Box<dyn Write> {
        if self.stderr { Box::new(std::io::stderr().lock()) } else { Box::new(std::io::stdout().lock()) }
    }

    fn clear_status(&mut self, out: &mut impl Write) {
        if self.status_shown {
            let _ = write!(out, "\r\x1b[2K");
            self.status_shown = false;
        }
    }
}

/// `2026-11-23T13:19:13Z`.
pub fn timestamp() -> String {
    DateTime::from(std::time::SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .map(|t| match t.split_once('.') {
            Some((secs, _)) => format!("{secs}Z"),
            None => t,
        })
        .unwrap_or_default()
}

impl Ui for TerminalUi {
    fn line(&mut self, text: &str) {
        let mut out = self.out();
        self.clear_status(&mut out);
        let _ = writeln!(out, "{text}");
        if self.live && !self.last_status.is_empty() {
            let _ = write!(out, "{}", self.last_status);
            self.status_shown = true;
        }
        let _ = out.flush();
    }

    fn status(&mut self, text: &str) {
        let mut out = self.out();
        if self.live {
            self.clear_status(&mut out);
            let _ = write!(out, "{text}");
            self.status_shown = true;
            self.last_status = text.to_owned();
        } else if text != self.last_status || self.last_printed.elapsed() >= HEARTBEAT {
            let _ = writeln!(out, "[{}] {text}", timestamp());
            self.last_status = text.to_owned();
            self.last_printed = Instant::now();
        }
        let _ = out.flush();
    }
}

impl Drop for TerminalUi {
    fn drop(&mut self) {
        if self.status_shown {
            let _ = writeln!(self.out());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_utc_seconds() {
        let t = super::timestamp();
        assert_eq!(t.len(), "2026-11-23T13:19:13Z".len(), "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
