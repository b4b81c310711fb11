//! `cargo xtask bench`: the release app against a bare axum hello-world on the same machine,
//! under the same load from oha: requests/s, latency p50/p99, peak RSS and startup-to-first-200.
//! Results go to target/bench/results.json and results.md; the ratio to bare axum is what holds
//! on a noisy machine.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use xshell::cmd;

use crate::ctx::{Ctx, Step};
use crate::tools::{self, OHA};

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Load duration per endpoint and server, in seconds.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Load {
    pub server: &'static str,
    pub path: &'static str,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub success_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerResult {
    pub server: &'static str,
    pub startup_to_first_200_ms: f64,
    pub peak_rss_mb: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: String,
    pub connections: u32,
    pub seconds: u64,
    pub loads: Vec<Load>,
    pub servers: Vec<ServerResult>,
}

/// Targets from the performance issue; the verdicts printed under the table.
pub const MIN_RATIO: f64 = 0.80;
pub const MAX_P99_MS: f64 = 5.0;
pub const MAX_RSS_MB: f64 = 30.0;
pub const MAX_STARTUP_MS: f64 = 50.0;

/// oha's `--output-format json` summary.
pub fn parse_oha(server: &'static str, path: &'static str, json: &str) -> Result<Load> {
    let v: serde_json::Value = serde_json::from_str(json).context("oha printed invalid JSON")?;
    let num = |p: &str| v.pointer(p).and_then(serde_json::Value::as_f64);
    Ok(Load {
        server,
        path,
        requests_per_sec: num("/summary/requestsPerSec").context("oha JSON has no summary.requestsPerSec")?,
        p50_ms: num("/latencyPercentiles/p50").context("oha JSON has no latencyPercentiles.p50")? * 1000.0,
        p99_ms: num("/latencyPercentiles/p99").context("oha JSON has no latencyPercentiles.p99")? * 1000.0,
        success_rate: num("/summary/successRate").unwrap_or(0.0),
    })
}

/// A port on 127.0.0.1 that is free right now.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One GET over a fresh connection; the status code if the server answered.
pub fn status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores, {cpu}")
}

pub fn run(ctx: &Ctx, args: &BenchArgs) -> Result<()> {
    let sh = &ctx.sh;
    let build =
        Step::new("release build", None, cmd!(sh, "cargo build --release --locked -p app --bin app --example bare"));
    ctx.run(&build)?;
    if ctx.dry_run {
        println!(
            "oha -z {}s -c {} --no-tui --output-format json http://127.0.0.1:<port>/<path>",
            args.seconds, args.connections
        );
        return Ok(());
    }
    tools::ensure(ctx, &OHA)?;
    let release = ctx.root.join("target/release");
    type Target = (&'static str, PathBuf, Vec<(&'static str, &'static str)>);
    let servers: [Target; 2] = [
        ("bare axum", release.join("examples/bare"), vec![]),
        // The limiter stays in the stack (its work is measured), with a budget no bench exhausts.
        (
            "app (full stack)",
            release.join("app"),
            vec![("RATE_LIMIT_RPS", "100000000"), ("RATE_LIMIT_BURST", "100000000")],
        ),
    ];
    let mut report = Report {
        machine: machine(),
        connections: args.connections,
        seconds: args.seconds,
        loads: vec![],
        servers: vec![],
    };
    for (name, bin, vars) in servers {
        let port = free_port()?;
        eprintln!("bench: {name} on 127.0.0.1:{port}");
        let started = Instant::now();
        let child = Command::new(&bin)
            .envs(vars)
            .env("PORT", port.to_string())
            .env("BIND", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let server = Server { child };
        while status(port, "/health") != Some(200) {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("{name} did not answer /health within 10 s");
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let startup = started.elapsed().as_secs_f64() * 1000.0;
        for path in ["/", "/health"] {
            let url = format!("http://127.0.0.1:{port}{path}");
            let (secs, conns) = (format!("{}s", args.seconds), args.connections.to_string());
            let json = cmd!(sh, "oha -z {secs} -c {conns} --no-tui --output-format json {url}").quiet().read()?;
            let load = parse_oha(name, path, &json)?;
            eprintln!(
                "bench: {name} {path}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                load.requests_per_sec, load.p50_ms, load.p99_ms
            );
            report.loads.push(load);
        }
        report.servers.push(ServerResult {
            server: name,
            startup_to_first_200_ms: startup,
            peak_rss_mb: peak_rss_mb(server.child.id()),
        });
    }
    let md = markdown(&report);
    let dir = ctx.root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("results.json"), serde_json::to_vec_pretty(&report)?)?;
    std::fs::write(dir.join("results.md"), &md)?;
    println!("{md}");
    println!("written: {}", rel(&ctx.root, &dir.join("results.md")));
    Ok(())
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets target" } else { "MISSES target" }
}

/// The Markdown table and the verdicts against the targets.
pub fn markdown(r: &Report) -> String {
    let mut out = format!("Machine: {}; oha, {} connections, {} s per run.\n\n", r.machine, r.connections, r.seconds);
    out.push_str("| server | path | req/s | p50 ms | p99 ms | success |\n|---|---|---:|---:|---:|---:|\n");
    for l in &r.loads {
        let _ = writeln!(
            out,
            "| {} | `{}` | {:.0} | {:.2} | {:.2} | {:.1}% |",
            l.server,
            l.path,
            l.requests_per_sec,
            l.p50_ms,
            l.p99_ms,
            l.success_rate * 100.0
        );
    }
    out.push_str("\n| server | startup to first 200 (ms) | peak RSS (MB) |\n|---|---:|---:|\n");
    for s in &r.servers {
        let _ = writeln!(out, "| {} | {:.1} | {:.1} |", s.server, s.startup_to_first_200_ms, s.peak_rss_mb);
    }
    out.push('\n');
    let app = |path: &str| r.loads.iter().find(|l| l.server.starts_with("app") && l.path == path);
    let bare = |path: &str| r.loads.iter().find(|l| l.server.starts_with("bare") && l.path == path);
    for path in ["/", "/health"] {
        if let (Some(a), Some(b)) = (app(path), bare(path)) {
            let ratio = a.requests_per_sec / b.requests_per_sec;
            let _ = writeln!(
                out,
                "- `{path}`: full stack at {:.0}% of bare axum throughput ({}: >= {:.0}%)",
                ratio * 100.0,
                verdict(ratio >= MIN_RATIO),
                MIN_RATIO * 100.0
            );
            let _ = writeln!(
                out,
                "- `{path}`: p99 {:.2} ms at {} connections ({}: < {MAX_P99_MS} ms)",
                a.p99_ms,
                r.connections,
                verdict(a.p99_ms < MAX_P99_MS)
            );
        }
    }
    if let Some(s) = r.servers.iter().find(|s| s.server.starts_with("app")) {
        let _ = writeln!(
            out,
            "- peak RSS under load {:.1} MB ({}: < {MAX_RSS_MB} MB)",
            s.peak_rss_mb,
            verdict(s.peak_rss_mb < MAX_RSS_MB)
        );
        let _ = writeln!(
            out,
            "- startup to first 200: {:.1} ms ({}: < {MAX_STARTUP_MS} ms)",
            s.startup_to_first_200_ms,
            verdict(s.startup_to_first_200_ms < MAX_STARTUP_MS)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OHA_JSON: &str = r#"{"summary":{"successRate":1.0,"total":5.0,"slowest":0.01,"fastest":0.0001,"average":0.0012,"requestsPerSec":51234.5,"totalData":100,"sizePerRequest":33,"sizePerSec":1000},
      "responseTimeHistogram":{},"latencyPercentiles":{"p10":0.0005,"p25":0.0008,"p50":0.0011,"p75":0.0014,"p90":0.002,"p95":0.0025,"p99":0.0042,"p99.9":0.008,"p99.99":0.01},
      "rps":{},"details":{},"statusCodeDistribution":{"200":256172},"errorDistribution":{}}"#;

    #[test]
    fn oha_summary_is_read_in_milliseconds() {
        let l = parse_oha("app", "/", OHA_JSON).unwrap();
        assert_eq!(l.requests_per_sec, 51234.5);
        assert!((l.p50_ms - 1.1).abs() < 1e-9 && (l.p99_ms - 4.2).abs() < 1e-9);
        assert!(parse_oha("app", "/", "{}").is_err());
    }

    #[test]
    fn verdicts_compare_with_the_targets() {
        let load = |server, rps, p99| Load {
            server,
            path: "/",
            requests_per_sec: rps,
            p50_ms: 1.0,
            p99_ms: p99,
            success_rate: 1.0,
        };
        let report = Report {
            machine: "test".into(),
            connections: 64,
            seconds: 5,
            loads: vec![load("bare axum", 100_000.0, 2.0), load("app (full stack)", 70_000.0, 6.0)],
            servers: vec![ServerResult { server: "app (full stack)", startup_to_first_200_ms: 12.0, peak_rss_mb: 9.5 }],
        };
        let md = markdown(&report);
        assert!(md.contains("full stack at 70% of bare axum throughput (MISSES target: >= 80%)"), "{md}");
        assert!(md.contains("p99 6.00 ms at 64 connections (MISSES target: < 5 ms)"), "{md}");
        assert!(md.contains("peak RSS under load 9.5 MB (meets target"), "{md}");
        assert!(md.contains("| app (full stack) | `/` | 70000 | 1.00 | 6.00 | 100.0% |"), "{md}");
    }
}
