//! `cargo xtask test`: the whole workspace's tests, integration tests included.

use anyhow::Result;
use clap::Args;
use xshell::cmd;

use crate::ctx::{Ctx, Step};
use crate::tools::{NEXTEST, probe};

#[derive(Debug, Clone, Default, Args)]
pub struct TestArgs {
    /// Passed through to the test runner, e.g. `cargo xtask test -- rate_limit`.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// cargo nextest when installed, else cargo test.
pub fn step<'a>(ctx: &'a Ctx, args: &TestArgs) -> Step<'a> {
    let sh = &ctx.sh;
    let extra = &args.args;
    if has_nextest(ctx) {
        Step::new("tests", None, cmd!(sh, "cargo nextest run --workspace --locked --no-fail-fast {extra...}"))
    } else {
        Step::new("tests", None, cmd!(sh, "cargo test --workspace --locked --no-fail-fast {extra...}"))
    }
}

pub fn has_nextest(ctx: &Ctx) -> bool {
    probe(&NEXTEST, &ctx.sh.var_os("PATH").unwrap_or_default()).is_ok()
}

pub fn run(ctx: &Ctx, args: &TestArgs) -> Result<()> {
    if !has_nextest(ctx) && !ctx.dry_run {
        eprintln!("test: cargo-nextest not found, using cargo test (install: cargo install --locked cargo-nextest)");
    }
    ctx.run(&step(ctx, args))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_argv_passes_extra_args_through() {
        let ctx = Ctx::new(&std::env::temp_dir(), true, false).unwrap();
        let args = TestArgs { args: vec!["rate_limit".into(), "--no-capture".into()] };
        let runner = if has_nextest(&ctx) { "cargo nextest run" } else { "cargo test" };
        assert_eq!(
            step(&ctx, &args).to_string(),
            format!("{runner} --workspace --locked --no-fail-fast rate_limit --no-capture")
        );
    }
}
