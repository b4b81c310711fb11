//! The benchmark's Markdown report: the table and the verdicts against the targets.

use std::fmt::Write as _;

use super::*;

fn verdict(ok: bool) -> &'static str {
    if ok { "meets target" } else { "MISSES target" }
}

/// The Markdown table and the verdicts against the targets.
pub fn markdown(r: &Report) -> String {
    let mut out = format!(
        "Machine: {}; oha, {} connections, {} s per run, {} round(s); medians over the rounds.\n\n",
        r.machine, r.connections, r.seconds, r.rounds
    );
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
    for ratio in &r.ratios {
        if ratio.server == APP {
            let _ = writeln!(
                out,
                "- `{}`: full stack at {:.0}% of bare axum throughput ({}: >= {:.0}%)",
                ratio.path,
                ratio.ratio * 100.0,
                verdict(ratio.ratio >= MIN_RATIO),
                MIN_RATIO * 100.0
            );
        } else {
            let _ = writeln!(
                out,
                "- `{}`: {} at {:.0}% of bare axum throughput (for comparison)",
                ratio.path,
                ratio.server,
                ratio.ratio * 100.0
            );
        }
    }
    for l in r.loads.iter().filter(|l| l.server == APP) {
        let _ = writeln!(
            out,
            "- `{}`: p99 {:.2} ms at {} connections ({}: < {MAX_P99_MS} ms)",
            l.path,
            l.p99_ms,
            r.connections,
            verdict(l.p99_ms < MAX_P99_MS)
        );
    }
    if !r.slow_clients.is_empty() {
        let m = |f: fn(&SlowClientRun) -> f64| median(r.slow_clients.iter().map(f).collect());
        let cut: Vec<f64> = r.slow_clients.iter().flat_map(|s| s.cut_off_after_secs.iter().copied()).collect();
        let max = cut.iter().copied().fold(f64::NAN, f64::max);
        let answered: usize = r.slow_clients.iter().map(|s| s.answered).sum();
        let _ = writeln!(
            out,
            "- `/` with {SLOW_CLIENTS} slow clients connected: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.1}% success; \
             slow clients cut off after {:.1} s (median of {}, max {:.1} s), {answered} of them answered",
            m(|s| s.normal.requests_per_sec),
            m(|s| s.normal.p50_ms),
            m(|s| s.normal.p99_ms),
            m(|s| s.normal.success_rate) * 100.0,
            median(cut.clone()),
            cut.len(),
            max,
        );
    }
    if let Some(s) = r.servers.iter().find(|s| s.server == APP) {
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
