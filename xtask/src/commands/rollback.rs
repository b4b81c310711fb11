//! `cargo xtask rollback`: the flags, checked, become a [`RollbackPlan`]; the deploy library
//! chooses the revision, updates the service and watches it like a deploy.

use std::time::Duration;

use anyhow::Result;

use crate::base::error::CodedError;
use crate::deploy::outcome::{self, DEPLOY_EXIT_CODES, Outcome, parse_duration};
use crate::deploy::preflight::Connection;
use crate::deploy::{RollbackPlan, Target};
use crate::env::Env;
use crate::run::Ctx;

#[derive(Debug, clap::Args)]
#[command(after_help = DEPLOY_EXIT_CODES)]
pub struct RollbackArgs {
    /// Environment: names come from infra/envs/<ENV>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Print the result as one JSON object on stdout (schema 1; progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// The revision to go back to: a number (7), family:7 or a task definition ARN. Default: the
    /// newest revision older than the serving one that a deploy saw COMPLETED.
    #[arg(long, value_name = "REVISION")]
    pub to: Option<String>,
    /// Watch the rollback this long, then put the serving revision back (exit 3).
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Watch that putting-back at most this long more.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub rollback_timeout: Duration,
    /// Time between DescribeServices polls.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Update the service, then exit 0 without watching.
    #[arg(long)]
    pub no_wait: bool,
}

pub fn run(ctx: &Ctx, args: &RollbackArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    if args.poll_interval.is_zero() || args.timeout.is_zero() || args.rollback_timeout.is_zero() {
        return Err(CodedError::usage("--timeout, --rollback-timeout and --poll-interval must be greater than zero"));
    }
    let plan = RollbackPlan {
        target: Target::of_service(&env, ctx.dry_run),
        to: args.to.clone(),
        no_wait: args.no_wait,
        local: env.is_local(),
        timeout: args.timeout,
        rollback_timeout: args.rollback_timeout,
        poll_interval: args.poll_interval,
    };
    let aws = Connection::open(ctx, &env)?;
    let intro = format!("Rolling back {} in {} (cluster {})", plan.target.service, env.name, plan.target.cluster);
    if args.json {
        eprintln!("{intro}");
        let result = aws.session_quiet(async |session| session.rollback(&plan).await);
        println!("{}", outcome::result_json("rollback", &env.name, &result));
        return result.map(|_| ());
    }
    println!("{intro}");
    match aws.session(async |session| session.rollback(&plan).await)? {
        Outcome::Deployed { revision } => println!("Rolled back: {} serves {revision}", plan.target.service),
        Outcome::DryRun | Outcome::Unwatched { .. } | Outcome::AlreadyServing { .. } => {}
    }
    Ok(())
}
