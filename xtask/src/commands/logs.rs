//! `cargo xtask logs`: the app's CloudWatch log events, readable on a terminal, raw with --json.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;

use crate::base::error::CodedError;
use crate::deploy::Target;
use crate::deploy::logs::LogQuery;
use crate::deploy::outcome::parse_duration;
use crate::deploy::preflight::Connection;
use crate::env::Env;
use crate::ops::logs;
use crate::run::Ctx;

pub const LOGS_HELP: &str = "\
Reads the log group and stream prefix of the serving revision's app container (its awslogs
options) with FilterLogEvents. --follow polls every --poll-interval from the last event seen
(not StartLiveTail: the emulator cannot serve its event stream); stop it with Ctrl-C.
Exit codes: 0 read; 2 usage or configuration error (unknown environment, no service, a bad
--since/--task/--filter, no credentials, the log group cannot be read).";

#[derive(Debug, clap::Args)]
#[command(after_help = LOGS_HELP)]
pub struct LogsArgs {
    /// Environment: names come from infra/envs/<ENV>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Keep reading new events until interrupted.
    #[arg(long, short)]
    pub follow: bool,
    /// How far back: 10m, 90s, 2h, 1d (at most 30d).
    #[arg(long, default_value = logs::DEFAULT_SINCE)]
    pub since: String,
    /// Only this task's events: its ID (as `status` shows) or ARN.
    #[arg(long, value_name = "ID")]
    pub task: Option<String>,
    /// Only events containing TEXT, or matching a CloudWatch filter pattern ('{ $.level = "ERROR" }').
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Print each event's message as it is (the app's JSON lines), one per line.
    #[arg(long)]
    pub json: bool,
    /// Time between reads with --follow.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub poll_interval: Duration,
}

pub fn run(ctx: &Ctx, args: &LogsArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let query = LogQuery {
        start_ms: logs::since(&args.since, now_ms).map_err(CodedError::usage)?,
        task: args.task.clone(),
        pattern: args.filter.as_deref().map(logs::filter_pattern).transpose().map_err(CodedError::usage)?,
        json: args.json,
        follow: args.follow,
        poll_interval: args.poll_interval,
        max_polls: None,
    };
    if let Some(task) = &args.task {
        logs::stream_for_task("app", "app", task).map_err(CodedError::usage)?;
    }
    let target = Target::of_service(&env, ctx.dry_run);
    if ctx.dry_run {
        println!(
            "--dry-run: would read (nothing changes): DescribeServices {} and DescribeTaskDefinition of its revision \
             (the awslogs group), then FilterLogEvents from {}{}{}{}",
            target.service,
            args.since,
            args.task.as_deref().map_or(String::new(), |t| format!(", task {t}")),
            query.pattern.as_deref().map_or(String::new(), |p| format!(", filter {p}")),
            if args.follow { ", polled until interrupted" } else { "" }
        );
        return Ok(());
    }
    let aws = Connection::open(ctx, &env)?;
    let printed = aws.session(async |session| session.logs(&target, &query).await)?;
    if printed == 0 && !args.json {
        eprintln!("(no log events since {} ago)", args.since);
    }
    Ok(())
}
