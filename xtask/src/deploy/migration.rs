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
//! group `migrate`. It is watched with DescribeTasks on the session's clock; every verdict comes
//! from `decide/task.rs`. On a failure the last lines of the task's awslogs stream
//! (`<prefix>/app/<task-id>`) are shown.
//!
//! `--env local`: the emulator runs no tasks and the Rust SDK cannot parse moto's RunTask and
//! DescribeTasks answers, so the migration task is skipped there, and said so.

use std::time::Duration;

use anyhow::Result;
use aws_sdk_ecs::types::{Service, TaskDefinition};

use super::api::{ApiError, ApiErrorKind, Clock, Ecs, Logs, OneOffTask, Session, Ui};
use super::decide::short;
use super::decide::task::{Launched, TaskObservation, TaskVerdict, TaskView, TaskWatch, launched, task_id};
use super::outcome::{code, fail, human};
use super::revision::{self, Target};
use super::taskdef::{self, APP_CONTAINER};
use crate::env::Env;
use crate::ops::interrupt::{self, Signal, Stage};
use crate::ops::revisions::COMPLETED_TAG;

/// The migration task's own family (infra/modules/ecs-service, `migration`): the serving family's
/// name + this. Only its task definition carries the database master credentials (#24); the
/// serving revisions log in with IAM tokens as the app role, which cannot migrate.
pub const FAMILY_SUFFIX: &str = "-migrate";

/// The family the migration task of `service_family` runs from.
pub fn family(service_family: &str) -> String {
    format!("{service_family}{FAMILY_SUFFIX}")
}

/// The command the app container runs instead of serving.
pub const COMMAND: &str = "migrate";
/// RunTask startedBy and group: how to find migration tasks (`aws ecs list-tasks --started-by`).
pub const STARTED_BY: &str = "rdeploy-migrate";
pub const GROUP: &str = "migrate";
/// Log lines shown when the task fails.
pub const LOG_LINES: i32 = 30;
/// RunTask attempts when the answer is lost (the client token makes a retry start no second task).
const RUN_ATTEMPTS: u32 = 2;

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
pub fn choose(env: &Env, skip: bool, timeout: Duration, poll_interval: Duration, client_token: String) -> Migration {
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

/// What RunTask is asked to do for `task`, in the words the run and `--dry-run` both print.
pub fn request(task: &OneOffTask, revision: &str, timeout: Duration) -> String {
    format!(
        "RunTask {revision} with command [\"{}\"], startedBy {}, group {}, in the service's network ({}); waiting up \
         to {} for it to stop",
        task.command.join("\", \""),
        task.started_by,
        task.group,
        placement(task),
        human(timeout)
    )
}

/// What `cargo xtask migrate` needs, resolved by the caller.
#[derive(Debug, Clone)]
pub struct MigratePlan {
    pub target: Target,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub client_token: String,
}

/// Ctrl-C or SIGTERM while the migration task ran; [`interrupted_as`] turns it into the
/// message of the command that ran it.
#[derive(Debug)]
pub struct MigrationInterrupted {
    pub signal: Signal,
    pub task_arn: String,
    pub cluster: String,
    /// StopTask's outcome.
    pub stopped: Result<(), String>,
}

impl std::fmt::Display for MigrationInterrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted during the migration task {}", self.task_arn)
    }
}

impl std::error::Error for MigrationInterrupted {}

/// An interrupted migration as `command`'s exit: the state it leaves and the command to run again.
pub(super) fn interrupted_as(err: anyhow::Error, command: &str, target: &Target) -> anyhow::Error {
    match err.downcast::<MigrationInterrupted>() {
        Ok(m) => {
            let stage = Stage::Migrating { task_arn: m.task_arn, cluster: m.cluster, stopped: m.stopped };
            let i = interrupt::interrupted(m.signal, &stage, command, &target.env, &target.image);
            fail(i.code, i.message)
        }
        Err(err) => err,
    }
}

impl<E: Ecs, L: Logs, C: Clock, U: Ui> Session<'_, E, L, C, U> {
    /// The revision the migration task runs: the newest revision of the migration family with
    /// the app container's image and APP_VERSION set to `target`'s (registered when the newest does
    /// not already carry them), or `None` when the environment has no migration family (its
    /// infrastructure predates it): the caller then runs the serving family's revision, as before.
    pub async fn migration_family_revision(&mut self, target: &Target) -> Result<Option<TaskDefinition>> {
        let family = family(&target.family);
        let (newest, tags) = match self.ecs.describe_task_definition(&family).await {
            Ok(found) => found,
            Err(e) if !e.transient && matches!(e.kind, ApiErrorKind::Other | ApiErrorKind::NotFound) => {
                self.ui.line(&format!(
                    "No task definition family {family} (the infrastructure predates the migration's own family): \
                     the migration task runs the serving revision; apply the app layer to give it the master \
                     credentials it needs"
                ));
                return Ok(None);
            }
            Err(e) => return Err(target.before_change(e)),
        };
        let next = taskdef::next_revision(&newest, &target.image, &target.version).map_err(|e| fail(code::USAGE, e))?;
        if taskdef::same_registration(&next, &newest) {
            return Ok(Some(newest));
        }
        let tags: Vec<_> = tags.iter().filter(|t| t.key() != Some(COMPLETED_TAG)).cloned().collect();
        let registered = self.ecs.register_task_definition(&next, &tags).await.map_err(|e| target.before_change(e))?;
        self.ui.line(&format!(
            "Registered {} (the migration task's)",
            short(registered.task_definition_arn().unwrap_or_default())
        ));
        Ok(Some(registered))
    }

    /// `cargo xtask migrate`: pick the revision (serving, family's newest, or a new registration),
    /// then run the migration task alone. Returns the revision it ran (None for --dry-run).
    pub async fn migrate(&mut self, plan: &MigratePlan) -> Result<Option<String>> {
        let target = &plan.target;
        let found = revision::lookup(self.ecs, target).await?;
        // The migration family (the master credentials) when the infrastructure has one.
        let own_family = family(&target.family);
        if target.dry_run {
            if self.ecs.describe_task_definition(&own_family).await.is_ok() {
                let shown = format!("(a revision of {own_family} with {})", target.image);
                let preview = one_off(&found.service, &target.cluster, &shown, &plan.client_token);
                self.ui.line(&format!(
                    "--dry-run: would run the migration task: {}. Nothing registered or run.",
                    request(&preview, &shown, plan.timeout)
                ));
                return Ok(None);
            }
        } else if let Some(def) = self.migration_family_revision(target).await? {
            let revision = def.task_definition_arn().unwrap_or_default().to_owned();
            self.ui.line(&format!("Migrating with {} ({own_family}, with {})", short(&revision), target.image));
            let task = one_off(&found.service, &target.cluster, &revision, &plan.client_token);
            let untouched = format!("The service {} was not touched.", target.service);
            self.run_migration(&task, &def, plan.timeout, plan.poll_interval, &untouched)
                .await
                .map_err(|e| interrupted_as(e, "migrate", target))?;
            return Ok(Some(revision));
        }
        let next = found.next(target)?;
        let existing = if taskdef::same_registration(&next, &found.serving) {
            Some((found.serving.clone(), "the serving revision: this image already serves"))
        } else if taskdef::same_registration(&next, &found.newest) {
            Some((found.newest.clone(), "the family's newest revision, which already carries this image"))
        } else {
            None
        };
        let (label, shown) = match &existing {
            Some((def, why)) => {
                let arn = short(def.task_definition_arn().unwrap_or_default());
                (format!("{arn} ({why})"), arn.to_owned())
            }
            None => (
                format!(
                    "a new revision of {} built from revision {} with {}",
                    target.family,
                    found.base().0.revision(),
                    target.image
                ),
                format!("(a new revision of {})", target.family),
            ),
        };
        if target.dry_run {
            let preview = one_off(&found.service, &target.cluster, &shown, &plan.client_token);
            self.ui.line(&format!(
                "--dry-run: would run the migration task: {label}: {}. Nothing registered or run.",
                request(&preview, &shown, plan.timeout)
            ));
            return Ok(None);
        }
        let def = match existing {
            Some((def, _)) => def,
            None => {
                // The base's `rdeploy:completed` tag is not the new revision's.
                let tags: Vec<_> = found.base().1.iter().filter(|t| t.key() != Some(COMPLETED_TAG)).cloned().collect();
                let registered =
                    self.ecs.register_task_definition(&next, &tags).await.map_err(|e| target.before_change(e))?;
                self.ui.line(&format!("Registered {}", short(registered.task_definition_arn().unwrap_or_default())));
                registered
            }
        };
        let revision = def.task_definition_arn().unwrap_or_default().to_owned();
        self.ui.line(&format!("Migrating with {label}"));
        let task = one_off(&found.service, &target.cluster, &revision, &plan.client_token);
        let untouched = format!("The service {} was not touched.", target.service);
        self.run_migration(&task, &def, plan.timeout, plan.poll_interval, &untouched)
            .await
            .map_err(|e| interrupted_as(e, "migrate", target))?;
        Ok(Some(revision))
    }

    /// Run `task` (of `def`, the registered revision) to its end. Ok when the app container exited
    /// 0; otherwise an error with its exit code, whose message ends with `untouched` (what the
    /// caller left as it was).
    pub async fn run_migration(
        &mut self,
        task: &OneOffTask,
        def: &TaskDefinition,
        timeout: Duration,
        poll_interval: Duration,
        untouched: &str,
    ) -> Result<()> {
        let revision = short(&task.task_definition);
        // The same task machinery runs `cargo xtask run`'s one-off tasks (another group).
        let migrating = task.group == GROUP;
        let (title, noun, short_name) = if migrating {
            ("Migration task", "the migration task", "migration")
        } else {
            ("One-off task", "the one-off task", "one-off task")
        };
        self.ui.line(&format!("{title}: {}", request(task, revision, timeout)));
        let begin = self.clock.now();
        let arn = self.start(task, poll_interval, untouched).await?;
        let id = task_id(&arn).to_owned();
        self.ui.line(&format!("Started {} {id}", &noun[4..]));
        let mut watch = TaskWatch::new(poll_interval, timeout);
        let verdict = loop {
            let observation = match self.ecs.describe_tasks(&task.cluster, &arn).await {
                Ok((tasks, failures)) => match tasks.iter().find(|t| t.task_arn() == Some(arn.as_str())) {
                    Some(t) => TaskObservation::Task(TaskView::from_task(t, APP_CONTAINER)),
                    None => TaskObservation::Missing(
                        failures.first().and_then(|f| f.reason()).unwrap_or("not returned").to_owned(),
                    ),
                },
                Err(err) => {
                    self.ui.line(&format!("warning: {} failed: {}", err.operation, err.detail));
                    TaskObservation::Error { transient: err.transient, message: err.to_string() }
                }
            };
            match watch.observe(&observation, self.clock.now() - begin) {
                TaskVerdict::Wait { progress, delay } => {
                    self.ui.status(&format!("{short_name}: {progress}"));
                    self.clock.sleep(delay).await;
                    if let Some(signal) = self.clock.cancelled() {
                        // Stop the task this run started: nothing else would.
                        let stopped = self
                            .ecs
                            .stop_task(&task.cluster, &arn, "rdeploy: interrupted")
                            .await
                            .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_owned());
                        self.ui.line(&format!(
                            "Interrupted: {} {} {id}",
                            if stopped.is_ok() { "stopped" } else { "could NOT stop" },
                            &noun[4..]
                        ));
                        let cluster = task.cluster.clone();
                        return Err(MigrationInterrupted { signal, task_arn: arn, cluster, stopped }.into());
                    }
                }
                verdict => break verdict,
            }
        };
        let summary = watch.last.as_ref().map(|v| v.stopped_summary(APP_CONTAINER)).unwrap_or_default();
        let look = format!("aws ecs describe-tasks --cluster {} --tasks {arn}", task.cluster);
        match verdict {
            TaskVerdict::Succeeded => {
                if migrating {
                    self.ui.line(&format!("Migration task {id} exited 0: migrations applied"));
                } else {
                    self.ui.line(&format!("One-off task {id} exited 0"));
                    self.show_logs(def, &id).await;
                }
                Ok(())
            }
            TaskVerdict::Failed { exit_code } => {
                self.ui.line(&format!("{title} {id} failed: {summary}"));
                self.show_logs(def, &id).await;
                let code_text = exit_code.map_or_else(|| "no exit code".to_owned(), |c| format!("exit code {c}"));
                Err(fail(
                    code::MIGRATION_FAILED,
                    format!(
                        "{} failed ({code_text}): {summary}\n{untouched}",
                        if migrating { "the migration" } else { noun }
                    ),
                ))
            }
            TaskVerdict::NeverStarted => {
                self.ui.line(&format!("{title} {id} never started: {summary}"));
                Err(fail(
                    code::USAGE,
                    format!(
                        "{noun} never started (the app container never ran; check the image and the execution role): \
                         {summary}\n{} {untouched}",
                        if migrating { "No migration ran." } else { "Nothing ran." }
                    ),
                ))
            }
            TaskVerdict::TimedOut { progress } => {
                let reason = format!("rdeploy: {short_name} timed out after {}", human(timeout));
                self.ui.line(&format!("{title} {id} still running after {} ({progress}): stopping it", human(timeout)));
                let stopped = self.ecs.stop_task(&task.cluster, &arn, &reason).await;
                self.show_logs(def, &id).await;
                match stopped {
                    Ok(()) => Err(fail(
                        code::TIMED_OUT,
                        format!(
                            "{noun} timed out after {} and was stopped (StopTask {id});{} {untouched}",
                            human(timeout),
                            if migrating {
                                " the database may hold the migrations that completed before it."
                            } else {
                                ""
                            }
                        ),
                    )),
                    Err(err) => Err(fail(
                        code::LOOK_NOW,
                        format!(
                            "{noun} timed out after {} and could NOT be stopped: it may still be running. \
                             Look now ({look}). {untouched}\n  cause: {err}",
                            human(timeout)
                        ),
                    )),
                }
            }
            TaskVerdict::Unobserved { reason } => Err(fail(
                code::UNOBSERVED,
                format!(
                    "could not observe {noun} {id}: {reason}.\nIts outcome is unknown (it was not stopped). \
                     Look: {look}. {untouched}"
                ),
            )),
            TaskVerdict::Wait { .. } => unreachable!("the loop returns only final verdicts"),
        }
    }

    /// RunTask, retried once with the same client token when the answer is lost. Returns the ARN.
    async fn start(&mut self, task: &OneOffTask, poll_interval: Duration, untouched: &str) -> Result<String> {
        let mut last: Option<ApiError> = None;
        for attempt in 1..=RUN_ATTEMPTS {
            match self.ecs.run_task(task).await {
                Ok((tasks, failures)) => {
                    return match launched(&tasks, &failures) {
                        Launched::Started { arn } => Ok(arn),
                        Launched::NeverStarted { reason } => Err(fail(
                            code::USAGE,
                            format!("the migration task never started: {reason}\nNo migration ran. {untouched}"),
                        )),
                    };
                }
                Err(err) if !err.transient => {
                    return Err(fail(
                        code::USAGE,
                        format!("RunTask was refused: {err}\nNo migration ran. {untouched}"),
                    ));
                }
                Err(err) => {
                    self.ui.line(&format!(
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
                        self.clock.sleep(poll_interval).await;
                    }
                }
            }
        }
        Err(fail(
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
    async fn show_logs(&mut self, def: &TaskDefinition, id: &str) {
        let Some((group, prefix)) = taskdef::awslogs(def) else {
            self.ui.line("(the app container does not log with awslogs: no log lines to show)");
            return;
        };
        let stream = format!("{prefix}/{APP_CONTAINER}/{id}");
        match self.logs.last_lines(&group, &stream, LOG_LINES).await {
            Ok(lines) if lines.is_empty() => self.ui.line(&format!("Log stream {group} {stream}: no lines")),
            Ok(lines) => {
                self.ui.line(&format!("Last {} log lines ({group} {stream}):", lines.len()));
                for line in lines {
                    self.ui.line(&format!("  | {line}"));
                }
            }
            Err(err) => self.ui.line(&format!("(could not read the log lines of {group} {stream}: {err})")),
        }
    }
}
