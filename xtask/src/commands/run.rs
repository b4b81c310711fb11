//! `cargo xtask run --env E -- <app subcommand...>`: a one-off task of the serving revision.

use std::time::Duration;

use anyhow::Result;

use crate::base::error::CodedError;
use crate::deploy::Target;
use crate::deploy::one_off::RunPlan;
use crate::deploy::outcome::parse_duration;
use crate::deploy::preflight::Connection;
use crate::env::Env;
use crate::ops::one_off;
use crate::run::Ctx;

#[derive(Debug, clap::Args)]
#[command(after_help = RUN_HELP)]
pub struct RunArgs {
    /// Environment: names come from infra/envs/<ENV>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Wait this long for the task to stop, then stop it (exit 3).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Time between DescribeTasks polls.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// The app subcommand and its arguments, after `--`.
    #[arg(last = true, value_name = "APP SUBCOMMAND")]
    pub argv: Vec<String>,
}

pub const RUN_HELP: &str = "\
Runs the serving revision once as an ECS task (RunTask in the service's subnets and security
groups, startedBy rdeploy-run, group run) with the app container's command replaced by the words
after --, waits for it to stop and prints its exit code and last log lines. The same exit codes
as migrate (1: the app exited non-zero). No shell: the image is FROM scratch, and ECS Exec stays
off (see docs/day-2.md).";

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    if args.timeout.is_zero() || args.poll_interval.is_zero() {
        return Err(CodedError::usage("--timeout and --poll-interval must be greater than zero"));
    }
    let one_off = one_off::one_off(&args.argv, &env.name).map_err(CodedError::usage)?;
    if env.is_local() && !ctx.dry_run {
        return Err(CodedError::usage(
            "run --env local: the emulator runs no tasks (and the Rust SDK cannot parse its RunTask answers); use \
             --dry-run to see the request",
        ));
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let plan = RunPlan {
        target: Target::of_service(&env, ctx.dry_run),
        one_off,
        timeout: args.timeout,
        poll_interval: args.poll_interval,
        client_token: one_off::client_token(std::process::id(), nanos),
    };
    let aws = Connection::open(ctx, &env)?;
    aws.session(async |session| session.run_one_off(&plan).await)?;
    Ok(())
}
