//! `cargo xtask deploy`: an ECS rolling deploy that never reports a failed rollout as success.
//!
//! - `decide.rs`: every verdict, pure: whether to start, whether a lost UpdateService took effect,
//!   and what each poll means (success, a seen failure, ECS's rollback, lag, someone else, unobserved)
//! - `engine.rs`: the steps (check, diff, register, update, watch, roll back, prune) and the time
//!   budget (rollout watch + rollback watch, printed first), generic over
//! - `api.rs`: the seams (ECS, ECR, clock, output) as traits
//! - `sdk.rs`: the AWS SDK behind those traits
//! - `taskdef.rs`: the next revision and its diff against the serving one
//! - `migrate.rs`: the migration task (a one-off ECS task running `app migrate` on the registered
//!   revision before UpdateService, when the environment has a database; `cargo xtask migrate`
//!   runs it alone), with its verdicts in `decide_task.rs`
//!
//! Which configuration the new revision carries: the family's NEWEST ACTIVE revision
//! (DescribeTaskDefinition on the family name), with only the `app` container's image and
//! `APP_VERSION` replaced. Terraform registers a new revision whenever a tfvars change touches the
//! task definition (CPU, memory, environment, secrets, health check, logging) but the service
//! ignores `task_definition`, so building from the serving revision would silently drop those
//! changes. The newest revision is one of:
//! - the serving one (the last deploy registered it): only image and APP_VERSION change;
//! - Terraform's, with its stale bootstrap image: its configuration ships with our image;
//! - one a failed deploy registered (then rolled back): same configuration, its image is replaced;
//! - one registered by someone else: its configuration ships too, as anything registered into the
//!   family is its desired state. It is never silent: the diff printed before registering (and by
//!   `--dry-run`) compares the new revision with the SERVING one field by field, and names the
//!   newest revision, when and by whom it was registered.
//!
//! The serving revision is the base only when it is newer than the family's newest ACTIVE one
//! (it was deregistered). A service running another family than infra/envs names is refused.
//! - `image.rs`: which image (`--image` or `target/images/<env>.json`)
//! - `ui.rs`: live status line on a terminal, timestamped lines in CI

mod api;
mod decide;
mod decide_task;
mod engine;
pub(crate) mod image;
pub(crate) mod migrate;
pub(crate) mod sdk;
mod taskdef;
#[cfg(test)]
mod tests;
mod ui;

use std::time::Duration;

use anyhow::Result;
use xshell::cmd;

use self::api::{Ecr, TokioClock};
use self::engine::{Plan, code};
use self::image::ImageRef;
use self::migrate::Migration;
use crate::base::error::CodedError as Exit;
use crate::env::Env;
use crate::run::Ctx;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  deployed: the new revision serves alone (COMPLETED, every desired task running); or nothing to do
     (the same image and configuration already serve, settled); or --dry-run, --no-wait, --env local
  1  the rollout failed (seen: FAILED, failed tasks, placement failures, ECS's own rollback); the service
     is back on the previous revision. Or the migration task failed (its app container exited non-zero):
     the service was not touched
  2  nothing changed: usage or configuration error, a refused AWS call, a service scaled to zero or with a
     deployment in progress, an UpdateService that did not take effect, a migration task that never
     started (RunTask failures, CannotPullContainerError, ...)
  3  the rollout timed out; the service is back on the previous revision. Or the migration task timed out
     and was stopped: the service was not touched
  4  a person must look now: the rollback failed or is not confirmed, someone else changed the service
     during the deploy (another revision, a revert with no failure reported, a scale to zero), a
     failing deployment had no previous revision to go back to, or a timed-out migration task could
     not be stopped
  5  the outcome is unknown: the rollout or the update could not be observed (the AWS API kept failing,
     or ECS never showed the update); nothing was rolled back. Or the migration task could not be
     observed: the service was not touched

Migrations: when infra/envs/<ENV>.tfvars has database_enabled = true, the new revision first runs
as a one-off task with the command [\"migrate\"] (RunTask in the service's subnets and security
groups, startedBy rdeploy-migrate, group migrate); only its exit 0 lets the rollout start.
--skip-migrations bypasses it. `cargo xtask migrate --env ENV` runs it alone.

--env local: the emulator records but runs no tasks, so deploy stops after verifying that the
service points at the new revision (exit 0) instead of watching a rollout that cannot happen; it
skips the migration task (and says so): the Rust SDK cannot parse the emulator's RunTask answers.";

#[derive(Debug, clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct DeployArgs {
    /// Environment: names come from infra/envs/<ENV>.tfvars.
    #[arg(long)]
    pub env: String,
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

/// `15m`, `600s`, `1h`, `1h30m`, `90` (seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("invalid duration '{text}': use e.g. 15m, 600s, 1h30m or seconds")),
        };
        let n: u64 = number.parse().map_err(|_| format!("invalid duration '{text}': a number must precede '{c}'"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(format!("invalid duration '{text}': use e.g. 15m, 600s, 1h30m or seconds"));
    }
    Ok(Duration::from_secs(total))
}

pub fn run(ctx: &Ctx, args: &DeployArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    if args.poll_interval.is_zero() || args.timeout.is_zero() || args.rollback_timeout.is_zero() {
        return Err(Exit::usage("--timeout, --rollback-timeout and --poll-interval must be greater than zero"));
    }
    if args.migration_timeout.is_zero() {
        return Err(Exit::usage("--migration-timeout must be greater than zero"));
    }
    let (runtime, config, image) = prepare(ctx, &env, args.image.as_deref(), args.allow_dirty)?;
    runtime.block_on(async {
        let plan = Plan {
            env: env.name.clone(),
            family: env.task_family(),
            cluster: env.cluster(),
            service: env.service(),
            image: image.reference(),
            version: image.version(),
            dry_run: ctx.dry_run,
            no_wait: args.no_wait,
            local: env.is_local(),
            keep: args.keep.map(|k| k as usize),
            timeout: args.timeout,
            rollback_timeout: args.rollback_timeout,
            poll_interval: args.poll_interval,
            migration: migrate::choose(
                &env,
                args.skip_migrations,
                args.migration_timeout,
                args.poll_interval,
                migrate::client_token(),
            ),
        };
        println!("Deploying {} to {} (cluster {}, service {})", plan.image, env.name, plan.cluster, plan.service);
        let mut out = ui::TerminalUi::new();
        let logs = sdk::SdkLogs::new(&config);
        engine::deploy(&sdk::SdkEcs::new(&config), &logs, &TokioClock::new(), &mut out, &plan).await
    })?;
    Ok(())
}

/// What deploy and migrate check and load before their first AWS change: the image (`--image`
/// or the recorded one), prod's clean-tree rule, credentials, the SDK config, and prod's
/// immutable-image rule (a tag is pinned to its digest).
fn prepare(
    ctx: &Ctx,
    env: &Env,
    image: Option<&str>,
    allow_dirty: bool,
) -> Result<(tokio::runtime::Runtime, aws_config::SdkConfig, ImageRef)> {
    let mut image = resolve_image(ctx, env, image)?;
    if env.is_prod() && !allow_dirty {
        refuse_dirty_tree(ctx)?;
    }
    crate::env::aws::require_credentials(env)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let config = runtime.block_on(async {
        let config = sdk::load_config(&ctx.root, env).await?;
        if env.is_prod() {
            ensure_immutable(&sdk::SdkEcr::new(&config), env, &mut image).await?;
        }
        anyhow::Ok(config)
    })?;
    Ok((runtime, config, image))
}

/// `--image`, or the image recorded for the environment (which must be HEAD's build).
fn resolve_image(ctx: &Ctx, env: &Env, image: Option<&str>) -> Result<ImageRef> {
    if let Some(uri) = image {
        return ImageRef::parse(uri).map_err(|e| Exit::usage(format!("--image: {e}")));
    }
    let image = image::recorded(&ctx.root, &env.name).map_err(Exit::usage)?;
    let head = {
        let sh = &ctx.sh;
        cmd!(sh, "git rev-parse HEAD").quiet().ignore_stderr().read().ok()
    };
    let shown = format!("target/images/{}.json", env.name);
    image::check_commit_tag(&image, head.as_deref(), &shown).map_err(Exit::usage)?;
    Ok(image)
}

/// prod deploys only what is committed: refuse a dirty tree unless --allow-dirty.
fn refuse_dirty_tree(ctx: &Ctx) -> Result<()> {
    let sh = &ctx.sh;
    let status = cmd!(sh, "git status --porcelain")
        .quiet()
        .read()
        .map_err(|e| Exit::usage(format!("prod deploys need a clean git tree, and `git status` failed: {e}")))?;
    if !status.trim().is_empty() {
        let files: Vec<&str> = status.lines().take(10).collect();
        return Err(Exit::usage(format!(
            "refusing to deploy prod from a dirty git tree (commit or stash first, or pass --allow-dirty):\n  {}",
            files.join("\n  ")
        )));
    }
    Ok(())
}

/// prod runs only immutable images: pinned by digest, or a tag that exists in the environment's
/// ECR repository (then pinned to that tag's digest, so the tag cannot move under the service).
async fn ensure_immutable(ecr: &impl Ecr, env: &Env, image: &mut ImageRef) -> Result<()> {
    if image.digest.is_some() {
        return Ok(());
    }
    let Some(tag) = image.tag.clone() else {
        return Err(Exit::usage(format!(
            "prod needs an immutable image: {} has neither an @sha256: digest nor a tag",
            image.name
        )));
    };
    let repository = env.repository();
    if image.repository != repository {
        return Err(Exit::usage(format!(
            "prod image {}:{tag} is not in the environment's ECR repository {repository}: pass it by @sha256: digest",
            image.name
        )));
    }
    match ecr.image_digest(&repository, &tag).await {
        Ok(Some(digest)) => {
            println!("{}:{tag} is {digest} in ECR; deploying it by digest", image.name);
            image.digest = Some(digest);
            Ok(())
        }
        Ok(None) => Err(Exit::usage(format!(
            "prod needs an immutable image: tag {tag} does not exist in ECR repository {repository} (build and push it \
             with `cargo xtask image --env prod`, or pass --image with an @sha256: digest)"
        ))),
        Err(err) => Err(Exit::new(code::USAGE, format!("checking the image in ECR: {err}")).into()),
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = migrate::EXIT_CODES)]
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
pub fn migrate(ctx: &Ctx, args: &MigrateArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    if args.poll_interval.is_zero() || args.timeout.is_zero() {
        return Err(Exit::usage("--timeout and --poll-interval must be greater than zero"));
    }
    let (timeout, poll_interval) = match migrate::choose(&env, false, args.timeout, args.poll_interval, String::new()) {
        Migration::Run { timeout, poll_interval, .. } => (timeout, poll_interval),
        Migration::Skip(reason) => return Err(Exit::usage(format!("{reason}\nNothing ran."))),
    };
    let (runtime, config, image) = prepare(ctx, &env, args.image.as_deref(), args.allow_dirty)?;
    runtime.block_on(async {
        let plan = migrate::MigratePlan {
            env: env.name.clone(),
            family: env.task_family(),
            cluster: env.cluster(),
            service: env.service(),
            image: image.reference(),
            version: image.version(),
            dry_run: ctx.dry_run,
            timeout,
            poll_interval,
            client_token: migrate::client_token(),
        };
        println!("Migrating {} with {} (cluster {}, service {})", env.name, plan.image, plan.cluster, plan.service);
        let mut out = ui::TerminalUi::new();
        let logs = sdk::SdkLogs::new(&config);
        migrate::migrate(&sdk::SdkEcs::new(&config), &logs, &TokioClock::new(), &mut out, &plan).await
    })?;
    Ok(())
}
