//! `cargo xtask bench --hostile`: what hostile traffic does to the release app, on loopback,
//! each scenario bounded in time (issue #26). The app runs on a fresh SQLite file.
//!
//! | scenario | measured | target |
//! |---|---|---|
//! | a `/ready` flood at [`READY_FLOOD_RPS`] | the API's p99 (list, at a fixed rate) with and without it, interleaved | unchanged within [`P99_NOISE`] |
//! | one client's POST flood | accepted writes (201) over the flood's window | ≤ burst + rate × seconds (bounded) |
//! | a 429 storm | bytes the app writes to stdout/stderr during it, against a baseline under the same load answered 200 | ≤ the baseline + one summary line per kind and 10 s (bounded) |
//!
//! The pure part (the targets and the verdicts) is tested below; the run is thin I/O around it.
//! A bounded target missed makes the command fail (exit 1) after the report is written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::pgbench::{CREATE_AUTHOR, CREATE_TEXT};
use super::server::{Server, start_with};
use super::{median, parse_oha};
use crate::base::error::CodedError;
use crate::base::paths;
use crate::run::Ctx;

/// The `/ready` flood's rate (oha `-q`), requests per second.
pub const READY_FLOOD_RPS: u32 = 2000;
/// The API's measured load during the `/ready` scenario: a fixed rate, so latency (not how much
/// CPU the flood leaves for throughput) is what is compared.
pub const API_RPS: u32 = 200;
const API_CONNECTIONS: u32 = 8;
/// How much higher the API's p99 under the flood may be and still count as "unchanged" on this
/// shared 2-core machine (the same binary's p99 moves by this much from run to run here).
pub const P99_NOISE: f64 = 0.5;
/// The write quota the POST flood runs against (the app's defaults, set explicitly).
pub const WRITE_PER_MINUTE: u32 = 6;
pub const WRITE_BURST: u32 = 5;
/// The app's summary interval for 429/503 (app/src/log_summary.rs, `SUMMARY_INTERVAL`), the
/// kinds it summarises, and the most bytes one summary line may take (a line is about 200).
pub const SUMMARY_INTERVAL_SECS: u64 = 10;
pub const SUMMARY_KINDS: u64 = 2;
pub const SUMMARY_LINE_MAX_BYTES: u64 = 512;
/// The 429 storm lasts at least this long, so a summary interval ends inside it.
pub const STORM_MIN_SECS: u64 = 12;
const FLOOD_CONNECTIONS: u32 = 16;

/// One scenario's outcome: what was measured against what it should be.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdict {
    pub scenario: &'static str,
    pub measured: String,
    pub target: String,
    pub pass: bool,
    /// A bounded target (a hard limit): missing it fails the command. The p99 comparison is a
    /// judgement within noise and only reported.
    pub bounded: bool,
}

/// The most writes a client may get accepted in `secs` from a full bucket: the burst, then one
/// per `60 / per_minute` seconds (GCRA: the n-th write after the burst at n × the period).
pub fn write_quota_allowed(burst: u32, per_minute: u32, secs: f64) -> u64 {
    u64::from(burst) + (secs.max(0.0) * f64::from(per_minute) / 60.0).floor() as u64
}

pub fn evaluate_writes(accepted: u64, burst: u32, per_minute: u32, secs: f64) -> Verdict {
    let allowed = write_quota_allowed(burst, per_minute, secs);
    Verdict {
        scenario: "one client's POST flood",
        measured: format!("{accepted} writes accepted (201) in {secs:.1} s"),
        target: format!("<= {allowed} (burst {burst} + {per_minute}/min x {secs:.1} s)"),
        pass: accepted <= allowed,
        bounded: true,
    }
}

/// The log bytes a 429 storm of `secs` may add: one line per summarised kind per interval
/// begun in the window (an interval's end can fall at either edge, hence the +1).
pub fn log_allowance_bytes(secs: f64) -> u64 {
    let intervals = (secs.max(0.0) / SUMMARY_INTERVAL_SECS as f64).floor() as u64 + 1;
    SUMMARY_KINDS * intervals * SUMMARY_LINE_MAX_BYTES
}

/// Storm and baseline log bytes, each over its own window of `secs`. The target: the storm's
/// bytes at most the baseline's plus [`log_allowance_bytes`].
pub fn evaluate_logs(baseline: (u64, f64), storm: (u64, f64), rejected: u64) -> Verdict {
    let ((base_bytes, base_secs), (storm_bytes, storm_secs)) = (baseline, storm);
    let per_sec = |b: u64, s: f64| if s > 0.0 { b as f64 / s } else { f64::NAN };
    // The baseline scaled to the storm's window.
    let expected = (per_sec(base_bytes, base_secs) * storm_secs).ceil().max(0.0) as u64;
    let allowed = expected + log_allowance_bytes(storm_secs);
    Verdict {
        scenario: "a 429 storm",
        measured: format!(
            "{storm_bytes} log bytes in {storm_secs:.1} s ({:.1} B/s) for {rejected} answers 429 ({:.0}/s); baseline {:.1} B/s",
            per_sec(storm_bytes, storm_secs),
            per_sec(rejected, storm_secs),
            per_sec(base_bytes, base_secs)
        ),
        target: format!(
            "<= {allowed} bytes ({:.1} B/s: the baseline + a summary line per kind per 10 s)",
            per_sec(allowed, storm_secs)
        ),
        pass: storm_bytes <= allowed && rejected > 0,
        bounded: true,
    }
}

/// The API's p99 with and without the flood (one value per round each): medians compared.
pub fn evaluate_p99(without: &[f64], with: &[f64]) -> Verdict {
    let (base, flood) = (median(without.to_vec()), median(with.to_vec()));
    let limit = base * (1.0 + P99_NOISE);
    Verdict {
        scenario: "a /ready flood",
        measured: format!(
            "API p99 {flood:.2} ms during the flood, {base:.2} ms without (medians of {} rounds)",
            with.len()
        ),
        target: format!("unchanged within noise: <= {limit:.2} ms (+{:.0}%)", P99_NOISE * 100.0),
        pass: flood <= limit,
        bounded: false,
    }
}

/// The bounded targets missed: what makes the command fail.
pub fn violations(verdicts: &[Verdict]) -> Vec<&Verdict> {
    verdicts.iter().filter(|v| v.bounded && !v.pass).collect()
}

/// How many answers of `status` oha's JSON summary counts.
pub fn status_count(json: &str, status: u16) -> Result<u64> {
    let v: serde_json::Value = serde_json::from_str(json).context("oha printed invalid JSON")?;
    let dist = v.get("statusCodeDistribution").context("oha JSON has no statusCodeDistribution")?;
    Ok(dist.get(status.to_string()).and_then(serde_json::Value::as_u64).unwrap_or(0))
}

/// oha's measured duration (`summary.total`, seconds).
pub fn total_secs(json: &str) -> Result<f64> {
    let v: serde_json::Value = serde_json::from_str(json).context("oha printed invalid JSON")?;
    v.pointer("/summary/total").and_then(serde_json::Value::as_f64).context("oha JSON has no summary.total")
}

pub fn markdown(verdicts: &[Verdict], load: &str) -> String {
    let mut out = format!(
        "\nHostile traffic (loopback, the release app on SQLite; machine load before: {load}):\n\n\
         | scenario | measured | target | verdict |\n|---|---|---|---|\n"
    );
    for v in verdicts {
        let verdict = match (v.pass, v.bounded) {
            (true, _) => "pass",
            (false, true) => "FAIL",
            (false, false) => "outside noise (reported, not failed)",
        };
        let _ = writeln!(out, "| {} | {} | {} | {verdict} |", v.scenario, v.measured, v.target);
    }
    out
}

/// Everything a hostile run measured, in target/bench/hostile.json.
#[derive(Debug, Serialize)]
pub struct HostileReport {
    pub load_average: String,
    pub api_p99_without_ms: Vec<f64>,
    pub api_p99_with_ms: Vec<f64>,
    pub ready_flood_rps: Vec<f64>,
    pub writes_accepted: u64,
    pub writes_window_secs: f64,
    pub log_bytes_baseline: (u64, f64),
    pub log_bytes_storm: (u64, f64),
    pub answered_429: u64,
    pub verdicts: Vec<Verdict>,
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The command lines, for `--dry-run`.
pub fn plan(rounds: u32, seconds: u64) -> String {
    format!(
        "# {rounds} round(s): oha -z {seconds}s -c {API_CONNECTIONS} -q {API_RPS} GET /api/messages?limit=20, alone and during oha -q {READY_FLOOD_RPS} GET /ready\n\
         # one POST flood: oha -z {seconds}s -c {FLOOD_CONNECTIONS} POST /api/messages (WRITE_RATE_LIMIT_PER_MINUTE={WRITE_PER_MINUTE}, WRITE_RATE_LIMIT_BURST={WRITE_BURST}): 201s counted\n\
         # a 429 storm: oha -z {}s -c {FLOOD_CONNECTIONS} GET / with RATE_LIMIT_RPS=1 RATE_LIMIT_BURST=1, the app's stdout+stderr bytes counted, against the same load unthrottled",
        seconds.max(STORM_MIN_SECS)
    )
}

const UNLIMITED_READS: [(&str, &str); 2] = [("RATE_LIMIT_RPS", "100000000"), ("RATE_LIMIT_BURST", "100000000")];

struct Env {
    oha: PathBuf,
    app: PathBuf,
    dir: PathBuf,
}

impl Env {
    /// The app on a fresh SQLite file, `vars` on top; its output to `log` when given.
    fn start(&self, name: &str, vars: &[(&str, &str)], log: Option<&Path>) -> Result<Server> {
        let file = self.dir.join(format!("hostile-{name}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
        let url = format!("sqlite:{}", file.display());
        let mut all = vec![("DATABASE_URL", url.as_str())];
        all.extend_from_slice(vars);
        Ok(start_with(name, &self.app, &all, log)?.0)
    }

    fn oha(&self, args: &[String]) -> Command {
        let mut c = Command::new(&self.oha);
        c.args(["--no-tui", "--output-format", "json"]).args(args).stdin(Stdio::null()).stderr(Stdio::null());
        c
    }

    fn oha_json(&self, args: &[String]) -> Result<String> {
        let out = self.oha(args).output().context("running oha")?;
        anyhow::ensure!(out.status.success(), "oha failed: {}", String::from_utf8_lossy(&out.stdout));
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

pub fn run(ctx: &Ctx, release: &Path, rounds: u32, seconds: u64) -> Result<()> {
    let oha = crate::tools::ensure(&ctx.sh, &ctx.root, &crate::tools::OHA)?;
    let dir = paths::bench(&ctx.root);
    std::fs::create_dir_all(&dir)?;
    let env = Env { oha, app: release.join("app"), dir: dir.clone() };
    let load = load_average();
    let secs = format!("{seconds}s");

    // 1. The API's p99 at a fixed rate, without and with a /ready flood, interleaved.
    let server = env.start("ready", &UNLIMITED_READS, None)?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let api = args(&[
        "-z",
        &secs,
        "-c",
        &API_CONNECTIONS.to_string(),
        "-q",
        &API_RPS.to_string(),
        &format!("{base}/api/messages?limit=20"),
    ]);
    let (mut without, mut with, mut flood_rps) = (vec![], vec![], vec![]);
    for round in 1..=rounds {
        let alone = parse_oha("app", "/api/messages", &env.oha_json(&api)?)?;
        // The flood starts first and outlasts the measurement by a second at each end.
        let flood_secs = format!("{}s", seconds + 2);
        let flood = env
            .oha(&args(&[
                "-z",
                &flood_secs,
                "-c",
                &FLOOD_CONNECTIONS.to_string(),
                "-q",
                &READY_FLOOD_RPS.to_string(),
                &format!("{base}/ready"),
            ]))
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the /ready flood")?;
        std::thread::sleep(Duration::from_secs(1));
        let during = parse_oha("app", "/api/messages", &env.oha_json(&api)?)?;
        let flood_out = flood.wait_with_output()?;
        let flood_load = parse_oha("app", "/ready", &String::from_utf8_lossy(&flood_out.stdout))?;
        eprintln!(
            "bench: hostile round {round}/{rounds}: API p99 {:.2} ms alone, {:.2} ms during /ready at {:.0} req/s ({:.1}% success)",
            alone.p99_ms,
            during.p99_ms,
            flood_load.requests_per_sec,
            flood_load.success_rate * 100.0
        );
        without.push(alone.p99_ms);
        with.push(during.p99_ms);
        flood_rps.push(flood_load.requests_per_sec);
    }
    drop(server);

    // 2. One client's POST flood against the write quota.
    let (per_minute, burst) = (WRITE_PER_MINUTE.to_string(), WRITE_BURST.to_string());
    let quota = [
        UNLIMITED_READS[0],
        UNLIMITED_READS[1],
        ("WRITE_RATE_LIMIT_PER_MINUTE", per_minute.as_str()),
        ("WRITE_RATE_LIMIT_BURST", burst.as_str()),
    ];
    let server = env.start("writes", &quota, None)?;
    let body = serde_json::json!({ "author": CREATE_AUTHOR, "text": CREATE_TEXT }).to_string();
    let json = env.oha_json(&args(&[
        "-z",
        &secs,
        "-c",
        &FLOOD_CONNECTIONS.to_string(),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-d",
        &body,
        &format!("http://127.0.0.1:{}/api/messages", server.port),
    ]))?;
    let (accepted, window) = (status_count(&json, 201)?, total_secs(&json)?);
    eprintln!(
        "bench: hostile: POST flood: {accepted} accepted, {} answered 429 in {window:.1} s",
        status_count(&json, 429)?
    );
    drop(server);

    // 3. Log bytes under the same load: answered 200 (baseline), then all but one 429.
    let storm_secs = format!("{}s", seconds.max(STORM_MIN_SECS));
    let logged = |name: &str, vars: &[(&str, &str)]| -> Result<(u64, f64, u64)> {
        let log = dir.join(format!("hostile-{name}.log"));
        let server = env.start(name, vars, Some(&log))?;
        // Past the start-up lines and a flush of the log buffer (every 200 ms).
        std::thread::sleep(Duration::from_millis(500));
        let (before, t0) = (file_len(&log), Instant::now());
        let json = env.oha_json(&args(&[
            "-z",
            &storm_secs,
            "-c",
            &FLOOD_CONNECTIONS.to_string(),
            &format!("http://127.0.0.1:{}/", server.port),
        ]))?;
        std::thread::sleep(Duration::from_millis(500));
        let (bytes, elapsed) = (file_len(&log).saturating_sub(before), t0.elapsed().as_secs_f64());
        drop(server);
        let rejected = status_count(&json, 429)?;
        eprintln!("bench: hostile: {name}: {bytes} log bytes in {elapsed:.1} s, {rejected} answered 429");
        Ok((bytes, elapsed, rejected))
    };
    let (base_bytes, base_secs, _) = logged("log-baseline", &UNLIMITED_READS)?;
    let (storm_bytes, storm_window, rejected) =
        logged("log-storm", &[("RATE_LIMIT_RPS", "1"), ("RATE_LIMIT_BURST", "1")])?;

    let verdicts = vec![
        evaluate_p99(&without, &with),
        evaluate_writes(accepted, WRITE_BURST, WRITE_PER_MINUTE, window),
        evaluate_logs((base_bytes, base_secs), (storm_bytes, storm_window), rejected),
    ];
    let md = markdown(&verdicts, &load);
    let report = HostileReport {
        load_average: load,
        api_p99_without_ms: without,
        api_p99_with_ms: with,
        ready_flood_rps: flood_rps,
        writes_accepted: accepted,
        writes_window_secs: window,
        log_bytes_baseline: (base_bytes, base_secs),
        log_bytes_storm: (storm_bytes, storm_window),
        answered_429: rejected,
        verdicts: verdicts.clone(),
    };
    std::fs::write(dir.join("hostile.json"), serde_json::to_vec_pretty(&report)?)?;
    std::fs::write(dir.join("hostile.md"), &md)?;
    println!("{md}");
    let failed = violations(&verdicts);
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|v| v.scenario).collect();
        return Err(CodedError::failed(format!("hostile bench: bounded target missed: {}", names.join(", "))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_quota_is_the_burst_then_one_per_period() {
        // 6 per minute: one every 10 s after the burst of 5.
        assert_eq!(write_quota_allowed(5, 6, 0.0), 5);
        assert_eq!(write_quota_allowed(5, 6, 5.02), 5);
        assert_eq!(write_quota_allowed(5, 6, 10.0), 6);
        assert_eq!(write_quota_allowed(5, 6, 29.9), 7);
        assert_eq!(write_quota_allowed(3, 60, 2.5), 5);
        assert!(evaluate_writes(5, 5, 6, 5.0).pass);
        let over = evaluate_writes(6, 5, 6, 5.0);
        assert!(!over.pass && over.bounded, "{over:?}");
        assert_eq!(over.target, "<= 5 (burst 5 + 6/min x 5.0 s)");
    }

    #[test]
    fn a_storm_may_add_one_summary_line_per_kind_and_interval() {
        assert_eq!(log_allowance_bytes(5.0), 2 * 512);
        assert_eq!(log_allowance_bytes(12.0), 2 * 2 * 512);
        // Silent baseline, two summary lines of ~230 bytes in 13 s: within.
        let ok = evaluate_logs((0, 13.0), (460, 13.0), 150_000);
        assert!(ok.pass && ok.bounded, "{ok:?}");
        // One access line per 429 (~250 bytes x 150,000): far over.
        assert!(!evaluate_logs((0, 13.0), (37_500_000, 13.0), 150_000).pass);
        // A noisy baseline (100 B/s) scales to the storm's window.
        assert!(evaluate_logs((1000, 10.0), (1300 + 2048, 13.0), 10).pass);
        assert!(!evaluate_logs((1000, 10.0), (1300 + 2049, 13.0), 10).pass);
        // A storm that was never throttled proves nothing.
        assert!(!evaluate_logs((0, 13.0), (0, 13.0), 0).pass);
    }

    #[test]
    fn p99_within_noise_is_reported_never_failed() {
        let same = evaluate_p99(&[2.0, 3.0, 2.5], &[2.6, 3.5, 2.4]);
        assert!(same.pass && !same.bounded, "{same:?}");
        let worse = evaluate_p99(&[2.0, 2.0, 2.0], &[3.1, 3.2, 2.9]);
        assert!(!worse.pass);
        assert!(violations(std::slice::from_ref(&worse)).is_empty());
        let md = markdown(&[worse, evaluate_writes(9, 5, 6, 5.0)], "1.00 2.00 3.00");
        assert!(md.contains("machine load before: 1.00 2.00 3.00"), "{md}");
        assert!(md.contains("| outside noise (reported, not failed) |"), "{md}");
        assert!(
            md.contains(
                "| one client's POST flood | 9 writes accepted (201) in 5.0 s | <= 5 (burst 5 + 6/min x 5.0 s) | FAIL |"
            ),
            "{md}"
        );
    }

    #[test]
    fn oha_status_counts_and_window() {
        let json = r#"{"summary":{"successRate":1.0,"total":5.004,"requestsPerSec":9000.0},
          "latencyPercentiles":{"p50":0.001,"p99":0.004},"statusCodeDistribution":{"201":5,"429":44995},"errorDistribution":{}}"#;
        assert_eq!(status_count(json, 201).unwrap(), 5);
        assert_eq!(status_count(json, 429).unwrap(), 44995);
        assert_eq!(status_count(json, 503).unwrap(), 0);
        assert!((total_secs(json).unwrap() - 5.004).abs() < 1e-9);
        assert!(status_count("{}", 201).is_err());
    }
}
