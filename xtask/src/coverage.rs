//! `cargo xtask coverage`: line coverage of the workspace with cargo-llvm-cov, a per-file table,
//! a TOTAL line, lcov + HTML under target/coverage, and a threshold that fails loudly.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use xshell::cmd;

use crate::ctx::{Ctx, Exit, Step};
use crate::test::has_nextest;
use crate::tools::CARGO_LLVM_COV;

/// Minimum workspace line coverage, in percent. The one place the threshold lives.
pub const LINE_THRESHOLD: f64 = 80.0;

#[derive(Debug, Clone, Default, Args)]
pub struct CoverageArgs {
    /// Passed through to the test runner (filters, e.g. `-- --skip slow`).
    #[arg(last = true)]
    pub args: Vec<String>,
}

pub const OUT_DIR: &str = "target/coverage";

pub fn steps<'a>(ctx: &'a Ctx, args: &CoverageArgs) -> Vec<Step<'a>> {
    let sh = &ctx.sh;
    let extra = &args.args;
    let t = Some(&CARGO_LLVM_COV);
    let run = if has_nextest(ctx) {
        cmd!(sh, "cargo llvm-cov nextest --workspace --locked --no-report --no-fail-fast {extra...}")
    } else {
        cmd!(sh, "cargo llvm-cov test --workspace --locked --no-report --no-fail-fast {extra...}")
    };
    vec![
        Step::new("coverage tests", t, run),
        Step::new("lcov report", t, cmd!(sh, "cargo llvm-cov report --lcov --output-path target/coverage/lcov.info")),
        Step::new("html report", t, cmd!(sh, "cargo llvm-cov report --html --output-dir target/coverage")),
        Step::new(
            "summary",
            t,
            cmd!(sh, "cargo llvm-cov report --json --summary-only --output-path target/coverage/summary.json"),
        ),
        Step::new("per-file table", t, cmd!(sh, "cargo llvm-cov report")),
    ]
}

/// Where the LLVM tools come from.
#[derive(Debug, PartialEq, Eq)]
pub struct Llvm {
    pub cov: PathBuf,
    pub profdata: PathBuf,
    pub origin: String,
}

/// Find llvm-cov/llvm-profdata matching rustc's LLVM: LLVM_COV/LLVM_PROFDATA if set, rustup's
/// llvm-tools if installed, else a system LLVM of the same major version. Never downloads.
pub fn find_llvm(path: &std::ffi::OsStr) -> Result<Llvm> {
    if let (Some(cov), Some(profdata)) = (std::env::var_os("LLVM_COV"), std::env::var_os("LLVM_PROFDATA")) {
        return Ok(Llvm { cov: cov.into(), profdata: profdata.into(), origin: "LLVM_COV/LLVM_PROFDATA".into() });
    }
    let host = crate::tools::rustc_field("host")?;
    let llvm = crate::tools::rustc_field("LLVM version")?;
    let major = llvm.split('.').next().unwrap_or_default().to_owned();

    let sysroot = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("running rustc --print sysroot")?;
    let rustup_bin =
        Path::new(String::from_utf8_lossy(&sysroot.stdout).trim()).join("lib/rustlib").join(&host).join("bin");
    if rustup_bin.join("llvm-cov").is_file() && rustup_bin.join("llvm-profdata").is_file() {
        return Ok(Llvm {
            cov: rustup_bin.join("llvm-cov"),
            profdata: rustup_bin.join("llvm-profdata"),
            origin: "rustup llvm-tools".into(),
        });
    }
    let candidates = std::env::split_paths(path).chain([PathBuf::from(format!("/usr/lib/llvm-{major}/bin"))]);
    for dir in candidates {
        for (cov, prof) in [
            (format!("llvm-cov-{major}"), format!("llvm-profdata-{major}")),
            ("llvm-cov".into(), "llvm-profdata".into()),
        ] {
            let (cov, prof) = (dir.join(cov), dir.join(prof));
            let is_suffixed = cov.to_string_lossy().ends_with(&format!("-{major}"));
            let in_versioned_dir = dir.ends_with(format!("llvm-{major}/bin"));
            if cov.is_file() && prof.is_file() && (is_suffixed || in_versioned_dir) {
                return Ok(Llvm { cov, profdata: prof, origin: format!("system LLVM {major}") });
            }
        }
    }
    bail!(
        "no LLVM {major} coverage tools found (rustc uses LLVM {major}). Install one of: \
         `apt-get install llvm-{major}` (Debian/Ubuntu), `rustup component add llvm-tools`, \
         or set LLVM_COV and LLVM_PROFDATA to llvm-cov/llvm-profdata of LLVM {major}"
    )
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

pub fn run(ctx: &Ctx, args: &CoverageArgs) -> Result<()> {
    let path = ctx.sh.var_os("PATH").unwrap_or_default();
    let llvm = find_llvm(&path).map_err(|e| Exit::new(1, format!("{e:#}")))?;
    ctx.sh.set_var("LLVM_COV", &llvm.cov);
    ctx.sh.set_var("LLVM_PROFDATA", &llvm.profdata);
    if ctx.dry_run {
        println!("# LLVM_COV={} LLVM_PROFDATA={} ({})", llvm.cov.display(), llvm.profdata.display(), llvm.origin);
    } else {
        eprintln!("coverage: using {} ({})", llvm.cov.display(), llvm.origin);
        std::fs::create_dir_all(ctx.root.join(OUT_DIR))?;
    }
    for step in steps(ctx, args) {
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
            Err(Exit::new(1, line).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_argv_is_exact() {
        let ctx = Ctx::new(&std::env::temp_dir(), true, false).unwrap();
        let runner = if has_nextest(&ctx) { "nextest" } else { "test" };
        let argv: Vec<String> = steps(&ctx, &CoverageArgs::default()).iter().map(ToString::to_string).collect();
        assert_eq!(
            argv,
            [
                format!("cargo llvm-cov {runner} --workspace --locked --no-report --no-fail-fast"),
                "cargo llvm-cov report --lcov --output-path target/coverage/lcov.info".into(),
                "cargo llvm-cov report --html --output-dir target/coverage".into(),
                "cargo llvm-cov report --json --summary-only --output-path target/coverage/summary.json".into(),
                "cargo llvm-cov report".into(),
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
