//! The servers a benchmark round runs: the app or bare axum on a free loopback port (stopped on
//! drop, with their peak RSS), and the slowloris clients kept connected to the app.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::base::net::{free_port, status};

pub(super) struct Server {
    pub(super) child: Child,
    pub(super) port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The app with slow clients connected (a row of its own, not judged against the targets).
pub const APP_SLOW: &str = "app, 100 slow clients connected";
/// How long slow clients are kept up in a round: past the app's default header read timeout.
pub(super) const SLOW_OBSERVE: Duration = Duration::from_secs(13);

/// Slowloris clients on a thread of their own: each sends a request's headers one byte a second
/// and, when the server cuts it off, records how long it lasted and connects again.
pub(super) struct SlowClients {
    stop: Arc<AtomicBool>,
    started: Instant,
    thread: std::thread::JoinHandle<(Vec<f64>, usize)>,
}

impl SlowClients {
    pub(super) fn connect(port: u16, count: usize) -> Self {
        const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\nAccept: */*\r\n\r\n";
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let open = || {
                let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
                s.set_nonblocking(true).ok()?;
                Some((s, Instant::now(), 0usize))
            };
            let mut conns: Vec<Option<(TcpStream, Instant, usize)>> = (0..count).map(|_| open()).collect();
            let (mut cut_off, mut answered) = (vec![], 0);
            let mut next_byte = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let send = Instant::now() >= next_byte;
                if send {
                    next_byte += Duration::from_secs(1);
                }
                for slot in &mut conns {
                    let Some((s, since, sent)) = slot else {
                        *slot = open();
                        continue;
                    };
                    let mut buf = [0u8; 64];
                    let closed = match s.read(&mut buf) {
                        Ok(0) => true,
                        Ok(_) => {
                            answered += 1;
                            true
                        }
                        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                    };
                    if closed {
                        cut_off.push(since.elapsed().as_secs_f64());
                        *slot = open();
                    } else if send && *sent < REQUEST.len() && s.write_all(&REQUEST[*sent..=*sent]).is_ok() {
                        *sent += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (cut_off, answered)
        });
        Self { stop, started: Instant::now(), thread }
    }

    /// Keep them up until `at_least` after connecting, then stop; cut-off times and answers.
    pub(super) fn finish(self, at_least: Duration) -> (Vec<f64>, usize) {
        if let Some(rest) = at_least.checked_sub(self.started.elapsed()) {
            std::thread::sleep(rest);
        }
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// How a server under load runs: `vars`, then loopback on `port`, its output discarded.
/// (`port` is a string so `--dry-run` can print the placeholder of a port picked at start.)
pub(super) fn command(bin: &Path, vars: &[(&str, &str)], port: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.envs(vars.iter().copied())
        .env("PORT", port)
        .env("BIND", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Start `bin` on a free port on 127.0.0.1 and wait for its first 200 on /health.
pub(super) fn start(name: &str, bin: &Path, vars: &[(&str, &str)]) -> Result<(Server, f64)> {
    start_with(name, bin, vars, None)
}

/// [`start`], with the server's stdout and stderr going to `log` (created) when given.
pub(super) fn start_with(name: &str, bin: &Path, vars: &[(&str, &str)], log: Option<&Path>) -> Result<(Server, f64)> {
    let port = free_port()?;
    let mut cmd = command(bin, vars, &port.to_string());
    if let Some(log) = log {
        let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stdout(file.try_clone()?).stderr(file);
    }
    let started = Instant::now();
    let child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
    let server = Server { child, port };
    while status(port, "/health") != Some(200) {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("{name} did not answer /health within 10 s");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    Ok((server, started.elapsed().as_secs_f64() * 1000.0))
}
