//! `cargo xtask ci`: lint, then test, then coverage, exactly what CI runs, with a timing table.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;

use crate::coverage::{self, CoverageArgs};
use crate::ctx::Ctx;
use crate::lint::{self, LintArgs};
use crate::test::{self, TestArgs};

#[derive(Debug, Clone, Default, Args)]
pub struct CiArgs {
    #[command(flatten)]
    pub lint: LintArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

pub fn run(ctx: &Ctx, args: &CiArgs) -> Result<()> {
    type Stage<'a> = (&'static str, Box<dyn Fn() -> Result<()> + 'a>);
    let stages: [Stage<'_>; 3] = [
        ("lint", Box::new(|| lint::run(ctx, &args.lint))),
        ("test", Box::new(|| test::run(ctx, &TestArgs::default()))),
        ("coverage", Box::new(|| coverage::run(ctx, &CoverageArgs::default()))),
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
