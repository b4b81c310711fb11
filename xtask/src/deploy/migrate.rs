//! The migration task: a one-off ECS task that runs the new revision with the command
//! `["migrate"]` (the image's entrypoint is the app binary, so it runs `app migrate`, which exits 0
//! on success) before the service points at that revision.
//!
//! - `cargo xtask deploy` runs it between RegisterTaskDefinition and UpdateService when the
//!   environment has a database (`database_enabled = true` in infra/envs/<env>.tfvars), unless
//!   `--skip-migrations`. Anything but exit 0 leaves the service untouched.
//! - `cargo xtask migrate --env E` runs it alone, against the revision deploy would register (or
//!   the serving one when the image already serves; or the family's newest when it already equals
//!   the revision deploy would build, so nothing is registered twice).
//!
//! The task runs where the service runs: RunTask with the service's networkConfiguration (its
//! subnets, security groups and assignPublicIp) and its launchType, or else its
//! capacityProviderStrategy (the API takes one of the two), with startedBy `rdeploy-migrate` and
//! group `migrate`. It is watched with DescribeTasks on the engine's clock; every verdict comes
//! from `decide_task.rs`. On a failure the last lines of the task's awslogs stream
//! (`<prefix>/app/<task-id>`) are shown.
//!
//! `--env local`: the emulator runs no tasks and the Rust SDK cannot parse moto's RunTask and
//! DescribeTasks answers, so the migration task is skipped there, and said so.

use std::time::Duration;

use anyhow::Result;
use aws_sdk_ecs::types::{Service, TaskDefinition};

use super::api::{ApiError, Clock, Ecs, Logs, OneOffTask, ServiceLookup, Ui};
use super::decide::short;
use super::decide_task::{Launched, TaskObservation, TaskVerdict, TaskView, TaskWatch, launched, task_id};
use super::engine::{code, human};
use super::taskdef::{self, APP_CONTAINER};
use crate::base::error::CodedError as Exit;

/// The command the app container runs instead of serving.
pub const COMMAND: &str = "migrate";
/// RunTask startedBy and group: how to find migration tasks (`aws ecs list-tasks --started-by`).
pub const STARTED_BY: &str = "rdeploy-migrate";
pub const GROUP: &str = "migrate";
/// Log lines shown when the task fails.
pub const LOG_LINES: i32 = 30;
/// RunTask attempts when the answer is lost (the client token makes a retry start no second task).
const RUN_ATTEMPTS: u32 = 2;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  the migration task exited 0 (or --dry-run)
  1  the migration failed: the app container exited non-zero (its stop reason, exit code and last log
     lines are shown); the service was not touched
  2  nothing ran: usage or configuration error (no database in this environment, --env local), a
     refused AWS call, or the task never started (RunTask failures, CannotPullContainerError, ...)
  3  the migration task timed out and was stopped (StopTask); the service was not touched
  4  a person must look now: a timed-out migration task could not be stopped (it may still run)
  5  the outcome is unknown: the task could not be observed (RunTask or DescribeTasks kept failing)";

/// Whether and how deploy runs the migration task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migration {
    /// Run it, and wait at most `timeout` for it to stop, polling every `poll_interval`.
    Run { timeout: Duration, poll_interval: Duration, client_token: String },
    /// Not run; the reason is printed (no database, --skip-migrations, --env local).
    Skip(String),
}

/// The reason deploy skips the migration task on the emulator.
pub const LOCAL_SKIP: &str = "--env local: skipping the migration task: the emulator runs no tasks, and the Rust SDK \
                              cannot parse moto's RunTask/DescribeTasks answers (the scripted tests cover this step)";

/// What `--skip-migrations`, the environment's database flag and `--env local` decide.
pub fn choose(
    env: &crate::env::Env,
    skip: bool,
    timeout: Duration,
    poll_interval: Duration,
    client_token: String,
) -> Migration {
    let database = env.values.get("database_enabled").is_some_and(|v| v == "true");
    if !database {
        return Migration::Skip(format!(
            "no migration task: the environment has no database (database_enabled is not true in infra/envs/{}.tfvars)",
            env.name
        ));
    }
    if skip {
        return Migration::Skip("--skip-migrations: not running the migration task".into());
    }
    if env.is_local() {
        return Migration::Skip(LOCAL_SKIP.into());
    }
    Migration::Run { timeout, poll_interval, client_token }
}

/// A token unique to this run (RunTask's clientToken, at most 64 characters).
pub fn client_token() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("rdeploy-migrate-{}-{nanos}", std::process::id())
}

/// The RunTask for `revision`, copied from the service: network, launch type or capacity provider
/// strategy, platform version. Nothing else is chosen by compute type.
pub fn one_off(service: &Service, cluster: &str, revision: &str, client_token: &str) -> OneOffTask {
    let strategy = service.capacity_provider_strategy().to_vec();
    OneOffTask {
        cluster: cluster.to_owned(),
        task_definition: revision.to_owned(),
        container: APP_CONTAINER.to_owned(),
        command: vec![COMMAND.to_owned()],
        started_by: STARTED_BY.to_owned(),
        group: GROUP.to_owned(),
        network: service.network_configuration().cloned(),
        // The API takes one of the two: a launch type wins only when there is no strategy.
        launch_type: if strategy.is_empty() { service.launch_type().cloned() } else { None },
        capacity_provider_strategy: strategy,
        platform_version: service.platform_version().map(str::to_owned),
        client_token: client_token.to_owned(),
    }
}

/// `subnets subnet-a,subnet-b, security groups sg-1, public IP DISABLED, launch type FARGATE`.
pub fn placement(task: &OneOffTask) -> String {
    let mut parts = Vec::new();
    if let Some(vpc) = task.network.as_ref().and_then(|n| n.awsvpc_configuration()) {
        parts.push(format!("subnets {}", vpc.subnets().join(",")));
        parts.push(format!("security groups {}", vpc.security_groups().join(",")));
        if let Some(ip) = vpc.assign_public_ip() {
            parts.push(format!("public IP {}", ip.as_str()));
        }
    } else {
        parts.push("no awsvpc network configuration".into());
    }
    if let Some(lt) = &task.launch_type {
        parts.push(format!("launch type {}", lt.as_str()));
    } else if !task.capacity_provider_strategy.is_empty() {
        let items: Vec<String> = task
            .capacity_provider_strategy
            .iter()
            .map(|i| format!("{}:{}", i.capacity_provider(), i.weight()))
            .collect();
        parts.push(format!("capacity providers {}", items.join(",")));
    } else {
        parts.push("the cluster's default capacity provider strategy".into());
    }
    parts.join(", ")
}

fn exit(code: u8, message: impl Into<String>) -> anyhow::Error {
    Exit::new(code, message).into()
}

/// Run `task` (of `def`, the registered revision) to its end. Ok when the app container exited 0;
/// otherwise an [`Exit`] whose message ends with `untouched` (what the caller left as it was).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    ecs: &impl Ecs,
    logs: &impl Logs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    task: &OneOffTask,
    def: &TaskDefinition,
    timeout: Duration,
    poll_interval: Duration,
    untouched: &str,
) -> Result<()> {
    let revision = short(&task.task_definition);
    ui.line(&format!(
        "Migration task: RunTask {revision} with command [\"{COMMAND}\"] in the service's network ({}); waiting up to {} \
         for it to stop",
        placement(task),
        human(timeout)
    ));
    let begin = clock.now();
    let arn = start(ecs, clock, ui, task, poll_interval, untouched).await?;
    let id = task_id(&arn).to_owned();
    ui.line(&format!("Started migration task {id}"));
    let mut watch = TaskWatch::new(poll_interval, timeout);
    let verdict = loop {
        let observation = match ecs.describe_tasks(&task.cluster, &arn).await {
            Ok((tasks, failures)) => match tasks.iter().find(|t| t.task_arn() == Some(arn.as_str())) {
                Some(t) => TaskObservation::Task(TaskView::from_task(t, APP_CONTAINER)),
                None => TaskObservation::Missing(
                    failures.first().and_then(|f| f.reason()).unwrap_or("not returned").to_owned(),
                ),
            },
            Err(err) => {
                ui.line(&format!("warning: {} failed: {}", err.operation, err.detail));
                TaskObservation::Error { transient: err.transient, message: err.to_string() }
            }
        };
        match watch.observe(&observation, clock.now() - begin) {
            TaskVerdict::Wait { progress, delay } => {
                ui.status(&format!("migration: {progress}"));
                clock.sleep(delay).await;
            }
            verdict => break verdict,
        }
    };
    let summary = watch.last.as_ref().map(|v| v.stopped_summary(APP_CONTAINER)).unwrap_or_default();
    let look = format!("aws ecs describe-tasks --cluster {} --tasks {arn}", task.cluster);
    match verdict {
        TaskVerdict::Succeeded => {
            ui.line(&format!("Migration task {id} exited 0: migrations applied"));
            Ok(())
        }
        TaskVerdict::Failed { exit_code } => {
            ui.line(&format!("Migration task {id} failed: {summary}"));
            show_logs(logs, ui, def, &id).await;
            let code_text = exit_code.map_or_else(|| "no exit code".to_owned(), |c| format!("exit code {c}"));
            Err(exit(code::MIGRATION_FAILED, format!("the migration failed ({code_text}): {summary}\n{untouched}")))
        }
        TaskVerdict::NeverStarted => {
            ui.line(&format!("Migration task {id} never started: {summary}"));
            Err(exit(
                code::USAGE,
                format!(
                    "the migration task never started (the app container never ran; check the image and the \
                     execution role): {summary}\nNo migration ran. {untouched}"
                ),
            ))
        }
        TaskVerdict::TimedOut { progress } => {
            let reason = format!("rdeploy: migration timed out after {}", human(timeout));
            ui.line(&format!("Migration task {id} still running after {} ({progress}): stopping it", human(timeout)));
            let stopped = ecs.stop_task(&task.cluster, &arn, &reason).await;
            show_logs(logs, ui, def, &id).await;
            match stopped {
                Ok(()) => Err(exit(
                    code::TIMED_OUT,
                    format!(
                        "the migration task timed out after {} and was stopped (StopTask {id}); the database may \
                         hold the migrations that completed before it. {untouched}",
                        human(timeout)
                    ),
                )),
                Err(err) => Err(exit(
                    code::LOOK_NOW,
                    format!(
                        "the migration task timed out after {} and could NOT be stopped: it may still be running. \
                         Look now ({look}). {untouched}\n  cause: {err}",
                        human(timeout)
                    ),
                )),
            }
        }
        TaskVerdict::Unobserved { reason } => Err(exit(
            code::UNOBSERVED,
            format!(
                "could not observe the migration task {id}: {reason}.\nIts outcome is unknown (it was not stopped). \
                 Look: {look}. {untouched}"
            ),
        )),
        TaskVerdict::Wait { .. } => unreachable!("the loop returns only final verdicts"),
    }
}

/// RunTask, retried once with the same client token when the answer is lost. Returns the ARN.
async fn start(
    ecs: &impl Ecs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    task: &OneOffTask,
    poll_interval: Duration,
    untouched: &str,
) -> Result<String> {
    let mut last: Option<ApiError> = None;
    for attempt in 1..=RUN_ATTEMPTS {
        match ecs.run_task(task).await {
            Ok((tasks, failures)) => {
                return match launched(&tasks, &failures) {
                    Launched::Started { arn } => Ok(arn),
                    Launched::NeverStarted { reason } => Err(exit(
                        code::USAGE,
                        format!("the migration task never started: {reason}\nNo migration ran. {untouched}"),
                    )),
                };
            }
            Err(err) if !err.transient => {
                return Err(exit(code::USAGE, format!("RunTask was refused: {err}\nNo migration ran. {untouched}")));
            }
            Err(err) => {
                ui.line(&format!(
                    "RunTask got no answer ({}){}",
                    err.detail,
                    if attempt < RUN_ATTEMPTS {
                        "; trying again with the same client token (no second task)"
                    } else {
                        ""
                    }
                ));
                last = Some(err);
                if attempt < RUN_ATTEMPTS {
                    clock.sleep(poll_interval).await;
                }
            }
        }
    }
    Err(exit(
        code::UNOBSERVED,
        format!(
            "RunTask got no answer {RUN_ATTEMPTS} times: a migration task may or may not be running. Look: aws ecs \
             list-tasks --cluster {} --started-by {STARTED_BY}. {untouched}\n  cause: {}",
            task.cluster,
            last.map(|e| e.to_string()).unwrap_or_default()
        ),
    ))
}

/// The last lines of the task's awslogs stream; a failure to read them is said, not fatal.
async fn show_logs(logs: &impl Logs, ui: &mut impl Ui, def: &TaskDefinition, id: &str) {
    let Some((group, prefix)) = taskdef::awslogs(def) else {
        ui.line("(the app container does not log with awslogs: no log lines to show)");
        return;
    };
    let stream = format!("{prefix}/{APP_CONTAINER}/{id}");
    match logs.last_lines(&group, &stream, LOG_LINES).await {
        Ok(lines) if lines.is_empty() => ui.line(&format!("Log stream {group} {stream}: no lines")),
        Ok(lines) => {
            ui.line(&format!("Last {} log lines ({group} {stream}):", lines.len()));
            for line in lines {
                ui.line(&format!("  | {line}"));
            }
        }
        Err(err) => ui.line(&format!("(could not read the log lines of {group} {stream}: {err})")),
    }
}

/// What `cargo xtask migrate` needs, resolved by the caller.
#[derive(Debug, Clone)]
pub struct MigratePlan {
    pub env: String,
    pub family: String,
    pub cluster: String,
    pub service: String,
    pub image: String,
    pub version: String,
    pub dry_run: bool,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub client_token: String,
}

/// `cargo xtask migrate`: pick the revision (serving, family's newest, or a new registration), then
/// run the migration task alone. Returns the revision it ran (None for --dry-run).
pub async fn migrate(
    ecs: &impl Ecs,
    logs: &impl Logs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    plan: &MigratePlan,
) -> Result<Option<String>> {
    let nothing = |err: ApiError| exit(code::USAGE, format!("{err}\nNothing changed."));
    let service = match ecs.describe_service(&plan.cluster, &plan.service).await.map_err(nothing)? {
        ServiceLookup::Found(s) => s,
        ServiceLookup::Missing { reason } => {
            return Err(exit(
                code::USAGE,
                format!(
                    "ECS service '{}' not found in cluster '{}' ({reason}): apply the app layer for environment {} first",
                    plan.service, plan.cluster, plan.env
                ),
            ));
        }
    };
    let serving_arn = service.task_definition().unwrap_or_default().to_owned();
    if serving_arn.is_empty() {
        return Err(exit(code::USAGE, format!("ECS service '{}' has no task definition", plan.service)));
    }
    let (serving, _) = ecs.describe_task_definition(&serving_arn).await.map_err(nothing)?;
    let family = serving.family().unwrap_or_default().to_owned();
    if family != plan.family {
        return Err(exit(
            code::USAGE,
            format!(
                "ECS service '{}' runs task definition family '{family}', but infra/envs/{}.tfvars names '{}'",
                plan.service, plan.env, plan.family
            ),
        ));
    }
    let (newest, tags) = ecs.describe_task_definition(&family).await.map_err(nothing)?;
    let base = if newest.revision() >= serving.revision() { &newest } else { &serving };
    let next = taskdef::next_revision(base, &plan.image, &plan.version).map_err(|e| exit(code::USAGE, e))?;
    let existing = if taskdef::same_registration(&next, &serving) {
        Some((serving.clone(), "the serving revision: this image already serves"))
    } else if taskdef::same_registration(&next, &newest) {
        Some((newest.clone(), "the family's newest revision, which already carries this image"))
    } else {
        None
    };
    let label = match &existing {
        Some((def, why)) => format!("{} ({why})", short(def.task_definition_arn().unwrap_or_default())),
        None => format!("a new revision of {family} built from revision {} with {}", base.revision(), plan.image),
    };
    let preview = one_off(&service, &plan.cluster, "(revision)", &plan.client_token);
    if plan.dry_run {
        ui.line(&format!(
            "--dry-run: would run the migration task: {label}, command [\"{COMMAND}\"], startedBy {STARTED_BY}, group \
             {GROUP}, {}; waiting up to {}. Nothing registered or run.",
            placement(&preview),
            human(plan.timeout)
        ));
        return Ok(None);
    }
    let def = match existing {
        Some((def, _)) => def,
        None => {
            let registered = ecs.register_task_definition(&next, &tags).await.map_err(nothing)?;
            ui.line(&format!("Registered {}", short(registered.task_definition_arn().unwrap_or_default())));
            registered
        }
    };
    let revision = def.task_definition_arn().unwrap_or_default().to_owned();
    ui.line(&format!("Migrating with {label}"));
    let task = one_off(&service, &plan.cluster, &revision, &plan.client_token);
    let untouched = format!("The service {} was not touched.", plan.service);
    run(ecs, logs, clock, ui, &task, &def, plan.timeout, plan.poll_interval, &untouched).await?;
    Ok(Some(revision))
}
