//! `cargo xtask contract`: the app's own OpenAPI document drives schemathesis against the app
//! running on 127.0.0.1: every documented operation, generated inputs, all checks (status codes
//! and bodies match the schema, undocumented methods answer 405, no 5xx).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use xshell::cmd;

use crate::run::{Ctx, Step};
use crate::tools::SCHEMATHESIS;

#[derive(Debug, Clone, Args)]
pub struct ContractArgs {
    /// Generated examples per operation.
    #[arg(long, default_value_t = 100)]
    pub max_examples: u32,
}

pub fn run(ctx: &Ctx, args: &ContractArgs) -> Result<()> {
    let sh = &ctx.sh;
    ctx.run(&Step::new("build", None, cmd!(sh, "cargo build --locked -p app")))?;
    let port = crate::base::net::free_port()?;
    let url = format!("http://127.0.0.1:{port}/openapi.json");
    let examples = args.max_examples.to_string();
    let st = cmd!(sh, "st run {url} --checks all --max-examples {examples} --no-color");
    let bin = ctx.root.join("target/debug/app");
    let mut app = app_command(&bin, port);
    if ctx.dry_run {
        println!("{} &", crate::base::process::display(&app));
        return ctx.run(&Step::new("schemathesis", Some(&SCHEMATHESIS), st)).map_err(Into::into);
    }
    crate::tools::ensure(&ctx.sh, &ctx.root, &SCHEMATHESIS)?;
    let mut child = app.spawn().with_context(|| format!("starting {}", bin.display()))?;
    let started = Instant::now();
    while crate::base::net::status(port, "/health") != Some(200) {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            bail!("the app did not answer on 127.0.0.1:{port} within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let result = ctx.run(&Step::new("schemathesis", Some(&SCHEMATHESIS), st));
    let _ = child.kill();
    let _ = child.wait();
    result.map_err(Into::into)
}

/// The app under test: loopback, a limiter generated traffic never trips, a throwaway database.
fn app_command(bin: &std::path::Path, port: u16) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("PORT", port.to_string())
        .env("BIND", "127.0.0.1")
        // Generated traffic comes from one address: keep the limiter from answering 429 to it.
        .env("RATE_LIMIT_RPS", "1000000")
        .env("RATE_LIMIT_BURST", "1000000")
        .env("WRITE_RATE_LIMIT_PER_MINUTE", "1000000")
        .env("WRITE_RATE_LIMIT_BURST", "1000000")
        // Generated messages go to a database of this run only, not the developer's
        // target/app-data/guestbook.db.
        .env("DATABASE_URL", "sqlite::memory:")
        .stdout(Stdio::null());
    cmd
}
