//! `cargo xtask migrate`: the migration task alone, through the deploy library.

use std::time::Duration;

use anyhow::Result;

use crate::base::error::CodedError;
use crate::deploy::outcome::{MIGRATE_EXIT_CODES, parse_duration};
use crate::deploy::{MigratePlan, Migration, Target, migration, preflight};
use crate::env::Env;
use crate::run::Ctx;

#[derive(Debug, clap::Args)]
#[command(after_help = MIGRATE_EXIT_CODES)]
pub struct MigrateArgs {
    /// Environment: names come from infra/envs/<ENV>.tfvars (it must have database_enabled = true).
    #[arg(long)]
    pub env: String,
    /// Image URI, as for deploy. Default: what `cargo xtask image --env ENV` recorded.
    #[arg(long)]
    pub image: Option<String>,
    /// Wait this long for the task to stop, then stop it (exit 3).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Time between DescribeTasks polls.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// prod only: run even though `git status --porcelain` is not empty.
    #[arg(long)]
    pub allow_dirty: bool,
}

/// `cargo xtask migrate`: the migration task alone, against the revision deploy would register.
pub fn run(ctx: &Ctx, args: &MigrateArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    if args.poll_interval.is_zero() || args.timeout.is_zero() {
        return Err(CodedError::usage("--timeout and --poll-interval must be greater than zero"));
    }
    let (timeout, poll_interval) = match migration::choose(&env, false, args.timeout, args.poll_interval, String::new())
    {
        Migration::Run { timeout, poll_interval, .. } => (timeout, poll_interval),
        Migration::Skip(reason) => return Err(CodedError::usage(format!("{reason}\nNothing ran."))),
    };
    let (aws, image) = preflight::prepare(ctx, &env, args.image.as_deref(), args.allow_dirty)?;
    let plan = MigratePlan {
        target: Target::new(&env, &image, ctx.dry_run),
        timeout,
        poll_interval,
        client_token: migration::client_token(),
    };
    let t = &plan.target;
    println!("Migrating {} with {} (cluster {}, service {})", env.name, t.image, t.cluster, t.service);
    aws.session(async |session| session.migrate(&plan).await)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_migrate_flags_parse() {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: MigrateArgs,
        }
        let m = Cli::try_parse_from(["migrate", "--env", "prod", "--image", "x@sha256:abc"]).unwrap();
        assert_eq!((m.args.env.as_str(), m.args.timeout), ("prod", Duration::from_secs(600)));
    }
}
