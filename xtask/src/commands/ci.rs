//! `cargo xtask ci`: what CI runs. Tools first (everything missing is named before anything
//! runs), then lint, then the test suite ONCE, instrumented for coverage (binaries whose inputs
//! did not change since they last passed are reused with their coverage data; `--no-cache` runs
//! everything), then the coverage report and threshold, then a table of wall times per stage.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;

use crate::commands::coverage;
use crate::commands::lint::{self, LintArgs};
use crate::commands::test::{self, TestArgs};
use crate::run::Ctx;
use crate::tools;

/// The commands `ci` runs, in order: the tool table's [`tools::CI_STAGES`], so `tools` need not
/// reach up into this command to know what `ci` needs.
pub const STAGES: [&str; 3] = tools::CI_STAGES;

#[derive(Debug, Clone, Default, Args)]
pub struct CiArgs {
    #[command(flatten)]
    pub lint: LintArgs,
    /// Run every lint check and test binary, even those whose inputs did not change since they
    /// last passed.
    #[arg(long)]
    pub no_cache: bool,
    /// Test binaries run at the same time (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

pub fn run(ctx: &Ctx, args: &CiArgs) -> Result<()> {
    type Stage<'a> = (&'static str, Box<dyn Fn() -> Result<()> + 'a>);
    let tests = TestArgs { cache: !args.no_cache, jobs: args.jobs, args: Vec::new() };
    let lint_args = LintArgs { cache: !args.no_cache, ..args.lint.clone() };
    let stages: [Stage<'_>; 4] = [
        // Missing system packages are installed (or all named) before anything is checked.
        (
            "tools",
            Box::new(|| {
                let needed = tools::needed_by("ci");
                tools::system_install::provision(&ctx.sh, ctx.dry_run, &needed).and_then(|()| ctx.prepare(&needed))
            }),
        ),
        (STAGES[0], Box::new(|| lint::run(ctx, &lint_args))),
        // Instrumented: this one run is both the test stage and coverage's data.
        (STAGES[1], Box::new(|| test::suite(ctx, &tests, true).map(|_| ()))),
        (STAGES[2], Box::new(|| coverage::report(ctx))),
    ];
    let mut rows = Vec::new();
    let mut first_error = None;
    for (name, stage) in stages {
        if first_error.is_some() {
            rows.push((name, Outcome::Skipped, Duration::ZERO));
            continue;
        }
        eprintln!("\n==> ci: {name}");
        let started = Instant::now();
        let result = stage();
        let outcome = if result.is_ok() { Outcome::Passed } else { Outcome::Failed };
        rows.push((name, outcome, started.elapsed()));
        if let Err(e) = result {
            first_error = Some(e);
        }
    }
    if !ctx.dry_run {
        eprintln!("\n{}", table(&rows));
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The summary printed at the end of `ci`.
pub fn table(rows: &[(&str, Outcome, Duration)]) -> String {
    let mut out = String::from("step       result   wall time\n---------  -------  ---------\n");
    let mut total = Duration::ZERO;
    for (name, outcome, took) in rows {
        total += *took;
        let result = match outcome {
            Outcome::Passed => "ok",
            Outcome::Failed => "FAILED",
            Outcome::Skipped => "skipped",
        };
        out.push_str(&format!("{name:<9}  {result:<7}  {:>8.1}s\n", took.as_secs_f64()));
    }
    out.push_str(&format!("{:<9}  {:<7}  {:>8.1}s", "total", "", total.as_secs_f64()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_every_step_with_result_and_time() {
        let t = table(&[
            ("lint", Outcome::Passed, Duration::from_millis(1500)),
            ("test", Outcome::Failed, Duration::from_secs(20)),
            ("coverage", Outcome::Skipped, Duration::ZERO),
        ]);
        assert!(t.contains("lint       ok            1.5s"), "{t}");
        assert!(t.contains("test       FAILED       20.0s"), "{t}");
        assert!(t.contains("coverage   skipped       0.0s"), "{t}");
        assert!(t.ends_with("21.5s"), "{t}");
    }
}
