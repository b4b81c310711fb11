//! `cargo xtask bench`: the release app against a bare axum hello-world on the same machine,
//! under the same load from oha: requests/s, latency p50/p99, peak RSS and startup-to-first-200.
//! The servers take turns, round after round (bare, app, app logging every request; then again),
//! and every figure is the median over the rounds; the ratio to bare axum is the median of each
//! round's own ratio, so a noisy neighbour slowing one round does not decide the verdict.
//! Each round also runs the app with [`SLOW_CLIENTS`] slowloris clients connected (headers sent
//! one byte a second, reconnecting when cut off): the normal clients' latency then, and how long
//! the app takes to cut a slow client off (its header read timeout).
//! Then the guestbook API on a database ([`database`]): create and list on a local PostgreSQL at
//! several pool sizes, and on the embedded SQLite.
//! Results go to target/bench/results.json and results.md.

pub mod database;
pub mod hostile;
pub mod pgbench;
mod report;
mod server;

pub use report::markdown;
use server::{APP_SLOW, SLOW_OBSERVE, SlowClients, peak_rss_mb, start};

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use xshell::cmd;

use crate::base::paths;
use crate::run::{Ctx, Step};
use crate::tools::{self, OHA};

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Load duration per endpoint, server and round, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,
    /// Rounds; each runs every server once. Figures are medians over the rounds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub rounds: u32,
    /// Only the database part (create and list on PostgreSQL and SQLite), not the HTTP rounds.
    #[arg(long, conflicts_with = "hostile")]
    pub database_only: bool,
    /// Only the hostile-traffic scenarios, on loopback: the API's p99 with and without a /ready
    /// flood (--rounds, --seconds each), one client's POST flood against the write quota, and a
    /// 429 storm's log bytes per second against a baseline. Exit 1 when a bounded target (the
    /// write quota, the log bytes) is missed; target/bench/hostile.{json,md}.
    #[arg(long)]
    pub hostile: bool,
}

/// One oha run, or (in `Report::loads`) the medians of a server's runs on one path.
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

/// An app's throughput as a share of bare axum's, per path (median of the rounds' ratios).
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub server: &'static str,
    pub path: &'static str,
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: String,
    pub connections: u32,
    pub seconds: u64,
    pub rounds: u32,
    /// Medians per server and path.
    pub loads: Vec<Load>,
    /// Medians per server.
    pub servers: Vec<ServerResult>,
    pub ratios: Vec<Ratio>,
    /// Every run, in the order they ran.
    pub runs: Vec<Load>,
    /// One per round: the app on `/` with slow clients connected.
    pub slow_clients: Vec<SlowClientRun>,
    /// The guestbook API on PostgreSQL (per pool size) and SQLite.
    pub database: Vec<database::DbLoad>,
    /// The app on PostgreSQL against pgbench with the same SQL and connections.
    pub pgbench: Vec<database::Comparison>,
}

/// Slowloris clients kept connected while the normal load runs.
pub const SLOW_CLIENTS: usize = 100;

/// The app under the normal load with [`SLOW_CLIENTS`] slow clients connected.
#[derive(Debug, Clone, Serialize)]
pub struct SlowClientRun {
    /// The normal clients (oha) on `/`.
    pub normal: Load,
    /// Times from connecting to being cut off, one per slow connection cut off, in seconds.
    pub cut_off_after_secs: Vec<f64>,
    /// Slow connections that got an answer (the app let a slowloris request through): 0.
    pub answered: usize,
}

/// Targets from the performance issue; the verdicts printed under the table.
pub const MIN_RATIO: f64 = 0.80;
pub const MAX_P99_MS: f64 = 5.0;
pub const MAX_RSS_MB: f64 = 30.0;
pub const MAX_STARTUP_MS: f64 = 50.0;

/// The server the targets are judged on: the app as it ships (default configuration).
pub const APP: &str = "app (full stack)";
/// The same app logging every response (`ACCESS_LOG=all`), measured alongside for comparison.
pub const APP_LOG_ALL: &str = "app, ACCESS_LOG=all";
pub const BARE: &str = "bare axum";
const PATHS: [&str; 2] = ["/", "/health"];

/// The middle value (the mean of the two middle ones for an even count); NaN when empty.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Medians per server and path, and each app's median per-round ratio to bare axum. `runs` are
/// in execution order: complete rounds, each of every server on every path.
pub fn summarise(runs: &[Load]) -> (Vec<Load>, Vec<Ratio>) {
    let mut loads = vec![];
    let mut servers: Vec<&'static str> = vec![];
    for r in runs {
        if !servers.contains(&r.server) {
            servers.push(r.server);
        }
    }
    for server in &servers {
        for path in PATHS {
            let mine: Vec<&Load> = runs.iter().filter(|r| r.server == *server && r.path == path).collect();
            if mine.is_empty() {
                continue;
            }
            let m = |f: fn(&Load) -> f64| median(mine.iter().map(|l| f(l)).collect());
            loads.push(Load {
                server,
                path,
                requests_per_sec: m(|l| l.requests_per_sec),
                p50_ms: m(|l| l.p50_ms),
                p99_ms: m(|l| l.p99_ms),
                success_rate: m(|l| l.success_rate),
            });
        }
    }
    let mut ratios = vec![];
    for server in servers.iter().filter(|s| **s != BARE) {
        for path in PATHS {
            let bare = runs.iter().filter(|r| r.server == BARE && r.path == path);
            let app = runs.iter().filter(|r| r.server == *server && r.path == path);
            // The n-th run of each server on a path belongs to the same round.
            let per_round: Vec<f64> = bare.zip(app).map(|(b, a)| a.requests_per_sec / b.requests_per_sec).collect();
            if !per_round.is_empty() {
                ratios.push(Ratio { server, path, ratio: median(per_round) });
            }
        }
    }
    (loads, ratios)
}

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
    tools::ensure(&ctx.sh, &ctx.root, &OHA)?;
    let release = ctx.root.join("target/release");
    type Target = (&'static str, PathBuf, Vec<(&'static str, &'static str)>);
    // The limiter stays in the stack (its work is measured), with a budget no bench exhausts.
    let unlimited = [
        ("RATE_LIMIT_RPS", "100000000"),
        ("RATE_LIMIT_BURST", "100000000"),
        ("WRITE_RATE_LIMIT_PER_MINUTE", "1000000"),
        ("WRITE_RATE_LIMIT_BURST", "1000000"),
    ];
    let servers: [Target; 3] = [
        (BARE, release.join("examples/bare"), vec![]),
        (APP, release.join("app"), unlimited.to_vec()),
        (APP_LOG_ALL, release.join("app"), [&unlimited[..], &[("ACCESS_LOG", "all")]].concat()),
    ];
    if args.hostile {
        if ctx.dry_run {
            println!("{}", hostile::plan(args.rounds, args.seconds));
            return Ok(());
        }
        return hostile::run(ctx, &release, args.rounds, args.seconds);
    }
    let per_round = (servers.len() * PATHS.len()) as u64 * args.seconds + args.seconds.max(SLOW_OBSERVE.as_secs());
    let rounds = if args.database_only { 0 } else { args.rounds };
    if ctx.dry_run {
        // The servers as they are started (each on a free port picked when it starts) and the load.
        let show =
            |bin: &Path, vars: &[(&str, &str)]| crate::base::process::display(&server::command(bin, vars, "<port>"));
        let oha = |path: &str| {
            let (secs, conns) = (format!("{}s", args.seconds), args.connections.to_string());
            let url = format!("http://127.0.0.1:<port>{path}");
            cmd!(sh, "oha -z {secs} -c {conns} --no-tui --output-format json {url}").to_string()
        };
        println!("# {rounds} round(s) of:");
        for (name, bin, vars) in &servers {
            println!("{} &  # {name}", show(bin, vars));
            for path in PATHS {
                println!("{}", oha(path));
            }
        }
        println!("{} &  # {APP_SLOW}", show(&release.join("app"), &unlimited));
        println!("{}", oha("/"));
        println!(
            "# then a local PostgreSQL (initdb + postgres, fsync on), app migrate, the app with DB_POOL_SIZE in {:?} (each followed by pgbench -M prepared with as many clients, the app's SQL) and on SQLite, each under create and list",
            database::POOL_SIZES
        );
        return Ok(());
    }
    // The app on each pool size and SQLite, and pgbench on each pool size.
    let db_load = (2 * database::POOL_SIZES.len() as u64 + 1) * database::ENDPOINTS.len() as u64 * args.seconds;
    let total = u64::from(rounds) * per_round + db_load;
    eprintln!("bench: {rounds} round(s) and the database loads, about {total} s of load");
    let mut runs = vec![];
    let mut per_server: Vec<ServerResult> = vec![];
    let mut slow_runs: Vec<SlowClientRun> = vec![];
    for round in 1..=rounds {
        for (name, bin, vars) in &servers {
            let (server, startup) = start(name, bin, vars)?;
            for path in PATHS {
                let url = format!("http://127.0.0.1:{}{path}", server.port);
                let (secs, conns) = (format!("{}s", args.seconds), args.connections.to_string());
                let json = cmd!(sh, "oha -z {secs} -c {conns} --no-tui --output-format json {url}").quiet().read()?;
                let load = parse_oha(name, path, &json)?;
                eprintln!(
                    "bench: round {round}/{rounds}: {name} {path}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                    load.requests_per_sec, load.p50_ms, load.p99_ms
                );
                runs.push(load);
            }
            per_server.push(ServerResult {
                server: name,
                startup_to_first_200_ms: startup,
                peak_rss_mb: peak_rss_mb(server.child.id()),
            });
        }
        let (server, _) = start(APP, &release.join("app"), &unlimited)?;
        let slow = SlowClients::connect(server.port, SLOW_CLIENTS);
        std::thread::sleep(Duration::from_millis(500));
        let url = format!("http://127.0.0.1:{}/", server.port);
        let (secs, conns) = (format!("{}s", args.seconds), args.connections.to_string());
        let json = cmd!(sh, "oha -z {secs} -c {conns} --no-tui --output-format json {url}").quiet().read()?;
        let normal = parse_oha(APP_SLOW, "/", &json)?;
        // Long enough for every slow client to reach the header read timeout (10 s) at least once.
        let (cut_off_after_secs, answered) = slow.finish(SLOW_OBSERVE);
        let run = SlowClientRun { normal, cut_off_after_secs, answered };
        eprintln!(
            "bench: round {round}/{}: {APP_SLOW} /: {:.0} req/s, p99 {:.2} ms; slow clients cut off after {:.1} s (median of {})",
            args.rounds,
            run.normal.requests_per_sec,
            run.normal.p99_ms,
            median(run.cut_off_after_secs.clone()),
            run.cut_off_after_secs.len()
        );
        slow_runs.push(run);
    }
    let (db_loads, pgbench_runs) = database::run(ctx, &release, args.seconds, args.connections)?;
    let comparisons = database::compare(&db_loads, &pgbench_runs);
    let (loads, ratios) = summarise(&runs);
    let servers = servers
        .iter()
        .map(|(name, _, _)| {
            let mine: Vec<&ServerResult> = per_server.iter().filter(|s| s.server == *name).collect();
            ServerResult {
                server: name,
                startup_to_first_200_ms: median(mine.iter().map(|s| s.startup_to_first_200_ms).collect()),
                peak_rss_mb: median(mine.iter().map(|s| s.peak_rss_mb).collect()),
            }
        })
        .collect();
    let report = Report {
        machine: machine(),
        connections: args.connections,
        seconds: args.seconds,
        rounds: args.rounds,
        loads,
        servers,
        ratios,
        runs,
        slow_clients: slow_runs,
        database: db_loads,
        pgbench: comparisons,
    };
    let mut md = if args.database_only { String::new() } else { markdown(&report) };
    md.push_str(&database::markdown(&report.database, report.connections));
    md.push_str(&database::pgbench_markdown(&report.pgbench));
    let dir = paths::bench(&ctx.root);
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

    fn load(server: &'static str, path: &'static str, rps: f64, p99: f64) -> Load {
        Load { server, path, requests_per_sec: rps, p50_ms: 1.0, p99_ms: p99, success_rate: 1.0 }
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn ratio_is_the_median_of_each_rounds_own_ratio() {
        // Round 2 ran on a slow machine for everyone: per-round ratios are 0.8, 0.8, 0.5.
        let runs = vec![
            load(BARE, "/", 100.0, 1.0),
            load(APP, "/", 80.0, 2.0),
            load(BARE, "/", 50.0, 1.0),
            load(APP, "/", 40.0, 2.0),
            load(BARE, "/", 100.0, 1.0),
            load(APP, "/", 50.0, 9.0),
        ];
        let (loads, ratios) = summarise(&runs);
        assert_eq!(ratios.len(), 1);
        assert!((ratios[0].ratio - 0.8).abs() < 1e-9, "{ratios:?}");
        // Medians of the raw figures: the ratio of these (50/100) would be the wrong answer.
        let app = loads.iter().find(|l| l.server == APP).unwrap();
        assert_eq!((app.requests_per_sec, app.p99_ms), (50.0, 2.0));
    }

    #[test]
    fn verdicts_compare_with_the_targets() {
        let report = Report {
            machine: "test".into(),
            connections: 64,
            seconds: 5,
            rounds: 1,
            loads: vec![load(BARE, "/", 100_000.0, 2.0), load(APP, "/", 70_000.0, 6.0)],
            servers: vec![ServerResult { server: APP, startup_to_first_200_ms: 12.0, peak_rss_mb: 9.5 }],
            ratios: vec![
                Ratio { server: APP, path: "/", ratio: 0.7 },
                Ratio { server: APP_LOG_ALL, path: "/", ratio: 0.6 },
            ],
            runs: vec![],
            slow_clients: vec![SlowClientRun {
                normal: load(APP_SLOW, "/", 60_000.0, 7.5),
                cut_off_after_secs: vec![10.0, 10.1, 10.4],
                answered: 0,
            }],
            database: vec![],
            pgbench: vec![],
        };
        let md = markdown(&report);
        assert!(md.contains("full stack at 70% of bare axum throughput (MISSES target: >= 80%)"), "{md}");
        assert!(md.contains("app, ACCESS_LOG=all at 60% of bare axum throughput (for comparison)"), "{md}");
        assert!(md.contains("p99 6.00 ms at 64 connections (MISSES target: < 5 ms)"), "{md}");
        assert!(md.contains("peak RSS under load 9.5 MB (meets target"), "{md}");
        assert!(md.contains("| app (full stack) | `/` | 70000 | 1.00 | 6.00 | 100.0% |"), "{md}");
        assert!(
            md.contains("100 slow clients connected: 60000 req/s, p50 1.00 ms, p99 7.50 ms, 100.0% success; slow clients cut off after 10.1 s (median of 3, max 10.4 s), 0 of them answered"),
            "{md}"
        );
    }
}
