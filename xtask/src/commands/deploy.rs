//! `cargo xtask deploy`: the flags, checked, become a [`Plan`]; the deploy library does the rest.

use std::time::Duration;

use anyhow::Result;

use crate::base::error::CodedError;
use crate::deploy::outcome::{self, DEPLOY_EXIT_CODES, parse_duration};
use crate::deploy::{Plan, Target, migration, preflight};
use crate::env::Env;
use crate::run::Ctx;
use crate::terraform::Layer;
use xshell::cmd;

#[derive(Debug, clap::Args)]
#[command(after_help = DEPLOY_EXIT_CODES)]
pub struct DeployArgs {
    /// Environment: names come from infra/envs/<ENV>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Print the result as one JSON object on stdout (schema 1; progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Image URI with an @sha256: digest or a commit tag. Default: what `cargo xtask image --env ENV`
    /// recorded in target/images/<ENV>.json.
    #[arg(long)]
    pub image: Option<String>,
    /// Watch the rollout this long, counted from the start, then roll back: `15m`, `600s`, `1h`, or
    /// plain seconds.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Watch a rollback at most this long more. Deploy ends within --timeout plus this (printed at
    /// the start); CI job timeouts leave room for both.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub rollback_timeout: Duration,
    /// Time between DescribeServices polls.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Register and update the service, then exit 0 without watching the rollout (a migration task
    /// still runs, and is waited for, before the update).
    #[arg(long)]
    pub no_wait: bool,
    /// After success, deregister ACTIVE revisions of the family older than the newest N (never
    /// the serving one). At least 2, so a rollback target stays registered (1 is refused).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub keep: Option<u32>,
    /// When this image and configuration already serve (settled), replace the tasks anyway: a
    /// new deployment of the serving revision (UpdateService forceNewDeployment), watched like
    /// any deploy. With another image it is an ordinary deploy.
    #[arg(long)]
    pub force: bool,
    /// prod only: deploy even though `git status --porcelain` is not empty.
    #[arg(long)]
    pub allow_dirty: bool,
    /// Do not run the migration task before the rollout (environments with a database run it by
    /// default: database_enabled = true in infra/envs/<ENV>.tfvars).
    #[arg(long)]
    pub skip_migrations: bool,
    /// Wait this long for the migration task to stop, then stop it (exit 3, the service untouched).
    /// The rollout's --timeout starts after it.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub migration_timeout: Duration,
}

pub fn run(ctx: &Ctx, args: &DeployArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    if args.poll_interval.is_zero() || args.timeout.is_zero() || args.rollback_timeout.is_zero() {
        return Err(CodedError::usage("--timeout, --rollback-timeout and --poll-interval must be greater than zero"));
    }
    if args.migration_timeout.is_zero() {
        return Err(CodedError::usage("--migration-timeout must be greater than zero"));
    }
    // Read before any AWS change: a --keep that cannot spare Terraform's revision does not run.
    let terraform_revision = match args.keep {
        Some(_) => terraform_revision(ctx, &env)?,
        None => None,
    };
    let (aws, image) = preflight::prepare(ctx, &env, args.image.as_deref(), args.allow_dirty)?;
    let plan = Plan {
        target: Target::new(&env, &image, ctx.dry_run),
        no_wait: args.no_wait,
        local: env.is_local(),
        keep: args.keep.map(|k| k as usize),
        timeout: args.timeout,
        rollback_timeout: args.rollback_timeout,
        poll_interval: args.poll_interval,
        migration: migration::choose(
            &env,
            args.skip_migrations,
            args.migration_timeout,
            args.poll_interval,
            migration::client_token(),
        ),
        terraform_revision,
        force: args.force,
    };
    let t = &plan.target;
    let intro = format!("Deploying {} to {} (cluster {}, service {})", t.image, env.name, t.cluster, t.service);
    if !args.json {
        println!("{intro}");
        aws.session(async |session| session.deploy(&plan).await)?;
        return Ok(());
    }
    eprintln!("{intro}");
    let result = aws.session_quiet(async |session| session.deploy(&plan).await);
    println!("{}", outcome::result_json("deploy", &env.name, &result));
    result.map(|_| ())
}

/// The revision Terraform's state holds: the app layer's `task_definition_arn` output (`--keep`
/// never deregisters it). None under --dry-run (the commands are printed, not run).
fn terraform_revision(ctx: &Ctx, env: &Env) -> Result<Option<String>> {
    let cannot = |why: &str| {
        CodedError::usage(format!(
            "--keep: could not read Terraform's task definition revision (the app layer's task_definition_arn \
             output), so --keep cannot spare it: apply the app layer for {} first, or drop --keep ({why})",
            env.name
        ))
    };
    let layer = Layer::new(ctx, env, "app")?;
    ctx.run(&layer.init()).map_err(|e| cannot(e.to_string().lines().next().unwrap_or_default()))?;
    let sh = &ctx.sh;
    let output = cmd!(sh, "terraform -chdir=infra/layers/app output -raw task_definition_arn").envs(layer.aws.clone());
    if ctx.dry_run {
        println!("{output}");
        return Ok(None);
    }
    let arn = output.quiet().read().map_err(|e| cannot(&e.to_string()))?;
    let arn = arn.trim().to_owned();
    if !arn.contains(":task-definition/") {
        return Err(cannot(&format!("the output is '{arn}', not a task definition ARN")));
    }
    eprintln!("--keep: Terraform's revision {} is never deregistered", arn.rsplit('/').next().unwrap_or(&arn));
    Ok(Some(arn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DeployArgs,
    }

    #[test]
    fn deploy_keep_1_is_refused() {
        let err = Cli::try_parse_from(["deploy", "--env", "dev", "--keep", "1"]).err().expect("--keep 1 refused");
        assert!(err.to_string().contains("1 is not in 2.."), "{err}");
        assert_eq!(Cli::try_parse_from(["deploy", "--env", "dev", "--keep", "2"]).unwrap().args.keep, Some(2));
    }

    #[test]
    fn deploy_migration_flags_parse() {
        let d =
            Cli::try_parse_from(["deploy", "--env", "dev", "--skip-migrations", "--migration-timeout", "20m"]).unwrap();
        assert!(d.args.skip_migrations);
        assert_eq!(d.args.migration_timeout, Duration::from_secs(1200));
        let d = Cli::try_parse_from(["deploy", "--env", "dev"]).unwrap();
        assert!(!d.args.skip_migrations, "migrations run by default");
    }
}
