//! `cargo xtask coverage`: line coverage of the workspace with cargo-llvm-cov, a per-file table,
//! a TOTAL line, lcov + HTML under target/coverage, and a threshold that fails loudly.

use anyhow::{Context, Result};
use clap::Args;
use xshell::cmd;

use crate::base::error::CodedError;
use crate::base::paths;
use crate::commands::test::{self, TestArgs};
use crate::run::{Ctx, Step};
use crate::tools::{self, CARGO_LLVM_COV, Llvm};

/// Minimum workspace line coverage, in percent. The one place the threshold lives.
pub const LINE_THRESHOLD: f64 = 80.0;

#[derive(Debug, Clone, Default, Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    pub test: TestArgs,
}

pub const OUT_DIR: &str = paths::COVERAGE_REL;

/// The reports, from the profiles the instrumented test run left (cargo-llvm-cov's `report`
/// merges every `*.profraw` of its target directory).
/// Each runs with the llvm-cov/llvm-profdata that match rustc (`--dry-run` prints them).
pub fn report_steps<'a>(ctx: &'a Ctx, llvm: &Llvm) -> Vec<Step<'a>> {
    let sh = &ctx.sh;
    let t = Some(&CARGO_LLVM_COV);
    let steps = vec![
        Step::new("lcov report", t, cmd!(sh, "cargo llvm-cov report --lcov --output-path target/coverage/lcov.info")),
        Step::new("html report", t, cmd!(sh, "cargo llvm-cov report --html --output-dir target/coverage")),
        Step::new(
            "summary",
            t,
            cmd!(sh, "cargo llvm-cov report --json --summary-only --output-path target/coverage/summary.json"),
        ),
        Step::new("per-file table", t, cmd!(sh, "cargo llvm-cov report")),
    ];
    let (cov, profdata) = (llvm.cov.display().to_string(), llvm.profdata.display().to_string());
    steps.into_iter().map(|s| s.env("LLVM_COV", &cov).env("LLVM_PROFDATA", &profdata)).collect()
}

/// Line coverage in percent from `cargo llvm-cov report --json --summary-only`.
pub fn line_percent(summary_json: &str) -> Result<f64> {
    let v: serde_json::Value = serde_json::from_str(summary_json).context("coverage summary is not JSON")?;
    v["data"][0]["totals"]["lines"]["percent"].as_f64().context("coverage summary has no data[0].totals.lines.percent")
}

/// The verdict line: Ok with the TOTAL line, or Err saying the measured value and the gap.
pub fn verdict(percent: f64, threshold: f64) -> Result<String, String> {
    if percent >= threshold {
        Ok(format!("TOTAL line coverage {percent:.2}% (threshold {threshold:.0}%): ok"))
    } else {
        Err(format!(
            "TOTAL line coverage {percent:.2}% is below the {threshold:.0}% threshold by {:.2} points; \
             add tests for the uncovered lines (see target/coverage/html/index.html)",
            threshold - percent
        ))
    }
}

/// The test suite, instrumented (each test runs once), then the reports and the threshold.
pub fn run(ctx: &Ctx, args: &CoverageArgs) -> Result<()> {
    ctx.prepare(&tools::needed_by("coverage"))?;
    test::suite(ctx, &args.test, true)?;
    report(ctx)
}

/// Reports and threshold over the profiles an instrumented run left.
pub fn report(ctx: &Ctx) -> Result<()> {
    let path = ctx.sh.var_os("PATH").unwrap_or_default();
    let llvm = tools::find_llvm(&path).map_err(|e| CodedError::usage(format!("{e:#}")))?;
    eprintln!("coverage: using {} ({})", llvm.cov.display(), llvm.origin);
    if !ctx.dry_run {
        std::fs::create_dir_all(ctx.root.join(OUT_DIR))?;
    }
    for step in report_steps(ctx, &llvm) {
        ctx.run(&step)?;
    }
    if ctx.dry_run {
        return Ok(());
    }
    let summary = std::fs::read_to_string(ctx.root.join(OUT_DIR).join("summary.json"))
        .context("reading target/coverage/summary.json")?;
    let percent = line_percent(&summary)?;
    println!("lcov: {OUT_DIR}/lcov.info  html: {OUT_DIR}/html/index.html");
    match verdict(percent, LINE_THRESHOLD) {
        Ok(line) => {
            println!("{line}");
            Ok(())
        }
        Err(line) => {
            println!("{line}");
            Err(CodedError::failed(line))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_argv_is_exact() {
        let ctx = Ctx::new(&std::env::temp_dir(), true, false).unwrap();
        let llvm = Llvm {
            cov: "/usr/lib/llvm-22/bin/llvm-cov".into(),
            profdata: "/usr/lib/llvm-22/bin/llvm-profdata".into(),
            origin: "test".into(),
            major: "22".into(),
        };
        let argv: Vec<String> = report_steps(&ctx, &llvm).iter().map(ToString::to_string).collect();
        let env = "LLVM_COV=/usr/lib/llvm-22/bin/llvm-cov LLVM_PROFDATA=/usr/lib/llvm-22/bin/llvm-profdata";
        assert_eq!(
            argv,
            [
                format!("{env} cargo llvm-cov report --lcov --output-path target/coverage/lcov.info"),
                format!("{env} cargo llvm-cov report --html --output-dir target/coverage"),
                format!("{env} cargo llvm-cov report --json --summary-only --output-path target/coverage/summary.json"),
                format!("{env} cargo llvm-cov report"),
            ]
        );
    }

    #[test]
    fn below_threshold_names_the_value_and_the_gap() {
        let msg = verdict(72.456, 80.0).unwrap_err();
        assert!(msg.contains("72.46%"), "{msg}");
        assert!(msg.contains("80%"), "{msg}");
        assert!(msg.contains("by 7.54 points"), "{msg}");
    }

    #[test]
    fn at_or_above_threshold_passes_with_a_total_line() {
        assert!(verdict(80.0, 80.0).unwrap().starts_with("TOTAL line coverage 80.00%"));
        assert!(verdict(93.1, 80.0).is_ok());
    }

    #[test]
    fn percent_is_read_from_the_llvm_cov_summary() {
        let json = r#"{"data":[{"totals":{"lines":{"count":200,"covered":170,"percent":85.0}}}],"type":"llvm.coverage.json.export"}"#;
        assert_eq!(line_percent(json).unwrap(), 85.0);
        assert!(line_percent(r#"{"data":[]}"#).is_err());
    }
}
