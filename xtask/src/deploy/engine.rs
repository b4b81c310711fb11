//! The rollout: check, build the next revision, register, update the service, watch, and on a
//! failure it saw, put the previous revision back and watch that too. Every verdict comes from
//! `decide.rs`; this file performs the calls those verdicts need and reports them. Generic over
//! [`Ecs`], [`Clock`] and [`Ui`], so the tests drive every path with scripted SDK values and no
//! real time.
//!
//! The order of steps, with room for more: checks -> next revision -> diff -> register ->
//! the migration task (`migrate.rs`: the registered revision runs `migrate` as a one-off task
//! before the service points at it; anything but exit 0 stops here, the service untouched) ->
//! UpdateService -> watch -> roll back or prune.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_ecs::primitives::DateTimeFormat;
use aws_sdk_ecs::types::{Tag, Task, TaskDefinition};

use super::api::{ApiError, ApiErrorKind, Clock, Ecs, Logs, ServiceLookup, Ui};
use super::decide::{
    self, Decision, NOT_SEEN_GRACE_POLLS, Observation, Phase, ServiceSnapshot, Start, Target, UpdateCheck, Watch, short,
};
use super::migrate::{self, Migration};
use super::taskdef;
use crate::base::error::CodedError as Exit;

/// Exit codes, documented in `cargo xtask deploy --help` (`EXIT_CODES`) and the README.
pub mod code {
    /// The rollout failed (seen) and the service is back on the previous revision.
    pub const ROLLED_BACK: u8 = 1;
    /// The migration task ran and failed; the service was not touched.
    pub const MIGRATION_FAILED: u8 = 1;
    /// Nothing changed: usage or configuration error, a refused call, a refused start.
    pub const USAGE: u8 = 2;
    /// The rollout timed out and the service is back on the previous revision.
    pub const TIMED_OUT: u8 = 3;
    /// A person must look now: the rollback failed or is unconfirmed, or someone else changed the
    /// service, or a failing deployment had nothing to go back to.
    pub const LOOK_NOW: u8 = 4;
    /// The outcome is unknown: the rollout (or the update) could not be observed. Nothing was
    /// rolled back.
    pub const UNOBSERVED: u8 = 5;
}

/// UpdateService calls tried when the answer is lost and the service shows it did not take effect.
const UPDATE_ATTEMPTS: u32 = 2;
/// Service events shown in a failure report.
const EVENTS_IN_REPORT: usize = 10;
/// Stopped tasks shown in a failure report.
const TASKS_IN_REPORT: usize = 5;

/// Everything the engine needs, already resolved and validated by the caller.
#[derive(Debug, Clone)]
pub struct Plan {
    pub env: String,
    /// The task definition family Terraform registers into (from infra/envs).
    pub family: String,
    pub cluster: String,
    pub service: String,
    /// The image reference that goes into the task definition.
    pub image: String,
    /// APP_VERSION.
    pub version: String,
    pub dry_run: bool,
    pub no_wait: bool,
    /// The emulator runs no tasks: stop after verifying UpdateService took effect.
    pub local: bool,
    /// Deregister ACTIVE revisions older than the newest N after success.
    pub keep: Option<usize>,
    /// Budget of the rollout watch, counted from the start of the deploy.
    pub timeout: Duration,
    /// Budget of the rollback watch, when a rollback is needed.
    pub rollback_timeout: Duration,
    pub poll_interval: Duration,
    /// The migration task before UpdateService, or why there is none.
    pub migration: Migration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The same configuration already serves, settled; nothing was registered.
    AlreadyServing {
        revision: String,
    },
    DryRun,
    /// Registered and the service points at it, but nothing was watched (emulator or --no-wait).
    Unwatched {
        revision: String,
    },
    Deployed {
        revision: String,
    },
}

fn exit(code: u8, message: impl Into<String>) -> anyhow::Error {
    Exit::new(code, message).into()
}

/// An API error before the service was touched: nothing changed, exit 2.
fn before_change(plan: &Plan, err: ApiError) -> anyhow::Error {
    let message = match err.kind {
        ApiErrorKind::ClusterNotFound => format!(
            "ECS cluster '{}' not found (environment {}): apply the infrastructure for this environment first\n  \
             cause: {}",
            plan.cluster, plan.env, err.detail
        ),
        ApiErrorKind::ServiceNotFound => format!(
            "ECS service '{}' not found in cluster '{}': apply the app layer for environment {} first\n  cause: {}",
            plan.service, plan.cluster, plan.env, err.detail
        ),
        _ => format!("{err}\nNothing changed."),
    };
    exit(code::USAGE, message)
}

/// Where to look when deploy cannot say what happened.
fn look_command(plan: &Plan) -> String {
    format!("aws ecs describe-services --cluster {} --services {}", plan.cluster, plan.service)
}

pub async fn deploy(
    ecs: &impl Ecs,
    logs: &impl Logs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    plan: &Plan,
) -> Result<Outcome> {
    let mut start = clock.now();
    let watching = !plan.local && !plan.no_wait;
    if watching {
        let (migration, extra) = match &plan.migration {
            Migration::Run { timeout, .. } => (
                format!("the migration task runs for up to {} (--migration-timeout), then ", human(*timeout)),
                *timeout,
            ),
            Migration::Skip(_) => (String::new(), Duration::ZERO),
        };
        ui.line(&format!(
            "Time budget: {migration}the rollout is watched for up to {} (--timeout), a rollback for up to {} more \
             (--rollback-timeout): deploy ends within {}",
            human(plan.timeout),
            human(plan.rollback_timeout),
            human(extra + plan.timeout + plan.rollback_timeout)
        ));
    }
    if let Migration::Skip(reason) = &plan.migration {
        ui.line(reason);
    }

    // 1. Checks. Nothing is registered or changed until all of them pass.
    let found = match ecs.describe_service(&plan.cluster, &plan.service).await.map_err(|e| before_change(plan, e))? {
        ServiceLookup::Found(service) => service,
        ServiceLookup::Missing { reason } => {
            return Err(exit(
                code::USAGE,
                format!(
                    "ECS service '{}' not found in cluster '{}' (DescribeServices: {reason}): apply the app layer for \
                     environment {} first",
                    plan.service, plan.cluster, plan.env
                ),
            ));
        }
    };
    let before = ServiceSnapshot::from_service(&found);
    if before.task_definition.is_empty() {
        return Err(exit(code::USAGE, format!("ECS service '{}' has no task definition", plan.service)));
    }
    let previous = before.task_definition.clone();
    let (serving, serving_tags) = ecs.describe_task_definition(&previous).await.map_err(|e| before_change(plan, e))?;
    let (base, tags) = newest_revision(ecs, plan, &serving, serving_tags).await?;
    let next = taskdef::next_revision(&base, &plan.image, &plan.version).map_err(|e| exit(code::USAGE, e))?;
    let same = taskdef::same_registration(&next, &serving);
    let mut seen: HashSet<String> = before.events.iter().map(|e| e.id.clone()).collect();
    match decide::before_deploy(&before, same, watching, &plan.service) {
        Start::Refuse(why) => return Err(exit(code::USAGE, format!("{why}\nNothing changed."))),
        Start::NothingToDo => {
            let state = if watching {
                "its deployment is COMPLETED with every desired task running".to_owned()
            } else {
                format!("not checked ({})", decide::progress_line(&before, &previous))
            };
            ui.line(&format!(
                "{} already runs {} (revision {}) and the family has no newer configuration; {state}: nothing to do",
                plan.service,
                plan.image,
                short(&previous)
            ));
            return Ok(Outcome::AlreadyServing { revision: previous });
        }
        Start::WatchExisting { previous: back_to } => {
            ui.line(&format!(
                "{} already points at {} with this image and configuration, but it is not settled ({}): watching it \
                 like any rollout",
                plan.service,
                short(&previous),
                decide::progress_line(&before, &previous)
            ));
            if plan.dry_run {
                ui.line("--dry-run: not watching");
                return Ok(Outcome::DryRun);
            }
            let target = Target {
                revision: previous.clone(),
                previous: back_to,
                phase: Phase::Existing,
                old_events: seen.clone(),
            };
            let family = serving.family().unwrap_or(&plan.family).to_owned();
            return conclude(ecs, clock, ui, plan, start, target, &mut seen, &family).await;
        }
        Start::Deploy => {}
    }

    // 2. Show the change: what the service serves now -> what it will serve.
    ui.line(&format!(
        "Task definition {}: serving revision {}; the next revision is built from revision {} (the family's newest) \
         with only the image and {} replaced (cluster {}, service {})",
        serving.family().unwrap_or_default(),
        serving.revision(),
        base.revision(),
        taskdef::VERSION_VAR,
        plan.cluster,
        plan.service
    ));
    if base.revision() != serving.revision() {
        ui.line(&format!(
            "  revision {} is the family's newest (registered {}{}): its configuration reaches the service now",
            base.revision(),
            base.registered_at()
                .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
                .unwrap_or_else(|| "at an unknown time".into()),
            base.registered_by().map(|by| format!(" by {by}")).unwrap_or_default()
        ));
    }
    ui.line(&format!("Changes from the serving revision {}:", serving.revision()));
    for change in taskdef::diff(&serving, &next) {
        ui.line(&format!("  {change}"));
    }
    if plan.dry_run {
        if let Migration::Run { timeout, client_token, .. } = &plan.migration {
            let task = migrate::one_off(&found, &plan.cluster, "(new revision)", client_token);
            ui.line(&format!(
                "--dry-run: would run the migration task (command [\"{}\"], {}; up to {}) before UpdateService",
                migrate::COMMAND,
                migrate::placement(&task),
                human(*timeout)
            ));
        }
        ui.line("--dry-run: nothing registered, the service is unchanged");
        return Ok(Outcome::DryRun);
    }

    // 3. Register.
    let registered = ecs.register_task_definition(&next, &tags).await.map_err(|e| before_change(plan, e))?;
    let revision = registered.task_definition_arn().unwrap_or_default().to_owned();
    let family = registered.family().map_or_else(|| plan.family.clone(), str::to_owned);
    ui.line(&format!("Registered {}", short(&revision)));

    // 4. The migration task runs `revision` before the service points at it.
    let mut migrated = "";
    if let Migration::Run { timeout, poll_interval, client_token } = &plan.migration {
        let task = migrate::one_off(&found, &plan.cluster, &revision, client_token);
        let untouched = format!(
            "Not rolled out: the service was not touched and still runs {} ({} is registered, unused).",
            short(&previous),
            short(&revision)
        );
        migrate::run(ecs, logs, clock, ui, &task, &registered, *timeout, *poll_interval, &untouched).await?;
        // The rollout's --timeout counts from here.
        start = clock.now();
        migrated = " (The migration task DID apply its migrations: the serving revision runs against the new schema.)";
    }

    // 5. Point the service at it, and know whether that happened before saying anything.
    match update_checked(ecs, clock, ui, plan, &revision, &previous).await {
        Updated::Applied => ui.line(&format!("Updated service {} to {}", plan.service, short(&revision))),
        Updated::Rejected(err) => {
            return Err(exit(
                code::USAGE,
                format!(
                    "UpdateService was refused: {err}\n{}: the service still runs {}.{migrated}",
                    if migrated.is_empty() { "Nothing changed" } else { "The service is unchanged" },
                    short(&previous)
                ),
            ));
        }
        Updated::NotApplied(err) => {
            return Err(exit(
                code::USAGE,
                format!(
                    "UpdateService failed {UPDATE_ATTEMPTS} times and the service still points at {}: nothing changed.{migrated}\n  \
                     last error: {err}",
                    short(&previous)
                ),
            ));
        }
        Updated::Unknown(err) => {
            return Err(exit(
                code::UNOBSERVED,
                format!(
                    "UpdateService to {} got no answer and the service could not be read afterwards: it may or may not \
                     point at {} now, and a rollout may be running unwatched. Nothing was rolled back. Look: {}\n  \
                     cause: {err}",
                    short(&revision),
                    short(&revision),
                    look_command(plan)
                ),
            ));
        }
        Updated::Other(td) => {
            return Err(exit(
                code::LOOK_NOW,
                format!(
                    "while UpdateService to {} went unanswered, the service moved to {}: someone else changed it. Not \
                     touching it; look at the service now ({})",
                    short(&revision),
                    short(&td),
                    look_command(plan)
                ),
            ));
        }
    }

    if plan.local {
        return local_check(ecs, ui, plan, &family, &revision).await;
    }
    if plan.no_wait {
        ui.line("--no-wait: not watching the rollout; the deployment continues in ECS");
        if before.desired == 0 {
            ui.line(&format!(
                "The service is scaled to zero (desiredCount 0): nothing serves {} until it is scaled up",
                short(&revision)
            ));
        }
        return Ok(Outcome::Unwatched { revision });
    }

    // 6. Watch, and act on what the verdict says.
    let target = Target {
        revision: revision.clone(),
        previous: Some(previous),
        phase: Phase::Rollout,
        old_events: seen.clone(),
    };
    conclude(ecs, clock, ui, plan, start, target, &mut seen, &family).await
}

/// Watch `target` until a verdict, then: success (prune), a seen failure or timeout (roll back),
/// someone else's change (exit 4), or an unobservable rollout (exit 5, nothing rolled back).
#[allow(clippy::too_many_arguments)]
async fn conclude(
    ecs: &impl Ecs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    plan: &Plan,
    start: Duration,
    target: Target,
    seen: &mut HashSet<String>,
    family: &str,
) -> Result<Outcome> {
    let revision = target.revision.clone();
    let budget = plan.timeout.saturating_sub(clock.now() - start);
    let mut watch = Watch::new(target, plan.poll_interval, budget);
    let decision = run_watch(ecs, clock, ui, plan, &mut watch, seen).await;
    let last = watch.last.clone();
    match decision {
        Decision::Succeeded => {
            ui.line(&format!("Deployed: {} serves {} alone ({})", plan.service, short(&revision), plan.image));
            prune(ecs, ui, plan, family, &revision).await;
            Ok(Outcome::Deployed { revision })
        }
        Decision::Failed { reason, ecs_rolled_back } => {
            report(ecs, ui, plan, last.as_ref(), &revision).await;
            restore(ecs, clock, ui, plan, start, &watch.target, seen, reason, ecs_rolled_back, code::ROLLED_BACK).await
        }
        Decision::TimedOut { progress } => {
            report(ecs, ui, plan, last.as_ref(), &revision).await;
            let reason = format!("timed out after {} ({progress})", human(plan.timeout));
            restore(ecs, clock, ui, plan, start, &watch.target, seen, reason, false, code::TIMED_OUT).await
        }
        Decision::Interfered { reason } => {
            report(ecs, ui, plan, last.as_ref(), &revision).await;
            Err(exit(
                code::LOOK_NOW,
                format!(
                    "{reason}.\nNot rolling back or forward over it: look at the service now ({}).",
                    look_command(plan)
                ),
            ))
        }
        Decision::Unobserved { reason } => Err(exit(
            code::UNOBSERVED,
            format!(
                "could not observe the rollout of {}: {reason}.\nIt may still be rolling out; nothing was rolled back \
                 (a deployment not seen failing is not undone). Look: {}",
                short(&revision),
                look_command(plan)
            ),
        )),
        Decision::Wait { .. } => unreachable!("run_watch returns only final decisions"),
    }
}

/// Poll until the watch gives a verdict. Prints each new service event once, oldest first.
async fn run_watch(
    ecs: &impl Ecs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    plan: &Plan,
    watch: &mut Watch,
    seen: &mut HashSet<String>,
) -> Decision {
    let begin = clock.now();
    loop {
        let observation = match ecs.describe_service(&plan.cluster, &plan.service).await {
            Ok(ServiceLookup::Found(service)) => {
                let snapshot = ServiceSnapshot::from_service(&service);
                let mut fresh: Vec<_> = snapshot.events.iter().filter(|e| seen.insert(e.id.clone())).collect();
                fresh.sort_by(|a, b| a.epoch.total_cmp(&b.epoch));
                for event in fresh {
                    ui.line(&format!("  event {}: {}", event.at, event.message));
                }
                Observation::Service(snapshot)
            }
            Ok(ServiceLookup::Missing { reason }) => Observation::Missing(reason),
            Err(err) => {
                ui.line(&format!("warning: {} failed: {}", err.operation, err.detail));
                Observation::Error { transient: err.transient, message: err.to_string() }
            }
        };
        match watch.observe(&observation, clock.now() - begin) {
            Decision::Wait { progress, delay } => {
                ui.status(&progress);
                clock.sleep(delay).await;
            }
            decision => return decision,
        }
    }
}

/// What became of an UpdateService.
enum Updated {
    Applied,
    /// AWS answered with a refusal: nothing changed.
    Rejected(ApiError),
    /// No answer, and the service still shows the old revision after the retries.
    NotApplied(ApiError),
    /// No answer, and the service could not be read either.
    Unknown(ApiError),
    /// No answer, and the service now shows a third revision.
    Other(String),
}

/// UpdateService to `revision`; when the answer is lost (timeout, 5xx), read the service before
/// saying anything changed or not (allowing for lag), and try again only if it did not.
async fn update_checked(
    ecs: &impl Ecs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    plan: &Plan,
    revision: &str,
    from: &str,
) -> Updated {
    let mut last = None;
    for attempt in 1..=UPDATE_ATTEMPTS {
        let err = match ecs.update_service(&plan.cluster, &plan.service, revision).await {
            Ok(()) => return Updated::Applied,
            Err(err) if !err.transient => return Updated::Rejected(err),
            Err(err) => err,
        };
        ui.line(&format!(
            "UpdateService to {} got no answer ({}); reading the service before saying whether it changed",
            short(revision),
            err.detail
        ));
        let mut read = false;
        for _ in 0..NOT_SEEN_GRACE_POLLS {
            clock.sleep(plan.poll_interval).await;
            if let Ok(ServiceLookup::Found(service)) = ecs.describe_service(&plan.cluster, &plan.service).await {
                read = true;
                match decide::update_took_effect(&ServiceSnapshot::from_service(&service), revision, from) {
                    UpdateCheck::Applied => {
                        ui.line(&format!("It did: the service points at {}", short(revision)));
                        return Updated::Applied;
                    }
                    UpdateCheck::Other(td) => return Updated::Other(td),
                    UpdateCheck::NotApplied => {}
                }
            }
        }
        if !read {
            return Updated::Unknown(err);
        }
        if attempt < UPDATE_ATTEMPTS {
            ui.line(&format!("The service still points at {}: trying UpdateService again", short(from)));
        }
        last = Some(err);
    }
    Updated::NotApplied(last.expect("at least one attempt"))
}

/// The revision the next one is built from: the family's newest ACTIVE revision
/// (DescribeTaskDefinition on the family name), i.e. what the last `terraform apply` or the last
/// deploy registered, so a Terraform change to CPU, memory, environment, secrets, health check or
/// logging reaches the service on the next deploy. The serving revision wins only when it is newer
/// (it was deregistered, so the family lookup skips it). Returns the base and its tags.
async fn newest_revision(
    ecs: &impl Ecs,
    plan: &Plan,
    serving: &TaskDefinition,
    serving_tags: Vec<Tag>,
) -> Result<(TaskDefinition, Vec<Tag>)> {
    let family = serving.family().unwrap_or_default();
    if family != plan.family {
        return Err(exit(
            code::USAGE,
            format!(
                "ECS service '{}' runs task definition family '{family}', but infra/envs/{}.tfvars names the family \
                 '{}': Terraform's changes would never reach this service. Point the service at the Terraform family \
                 (apply the app layer) first",
                plan.service, plan.env, plan.family
            ),
        ));
    }
    let (newest, tags) = ecs.describe_task_definition(family).await.map_err(|e| before_change(plan, e))?;
    if newest.revision() >= serving.revision() { Ok((newest, tags)) } else { Ok((serving.clone(), serving_tags)) }
}

/// Local: the emulator records UpdateService but runs no tasks, so check the service points at
/// the new revision and stop (never wait for a rollout that cannot happen).
async fn local_check(ecs: &impl Ecs, ui: &mut impl Ui, plan: &Plan, family: &str, revision: &str) -> Result<Outcome> {
    let now = match ecs.describe_service(&plan.cluster, &plan.service).await.map_err(|e| before_change(plan, e))? {
        ServiceLookup::Found(s) => s.task_definition().unwrap_or_default().to_owned(),
        ServiceLookup::Missing { reason } => {
            return Err(exit(code::LOOK_NOW, format!("the service vanished after UpdateService ({reason})")));
        }
    };
    if now != revision {
        return Err(exit(
            code::LOOK_NOW,
            format!("after UpdateService the service points at {} instead of {}", short(&now), short(revision)),
        ));
    }
    ui.line(&format!(
        "Verified: service {} now points at {}. The local emulator runs no tasks, so the rollout cannot be watched \
         here; stopping (the watch and rollback logic is covered by the scripted tests).",
        plan.service,
        short(revision)
    ));
    prune(ecs, ui, plan, family, revision).await;
    Ok(Outcome::Unwatched { revision: revision.to_owned() })
}

/// Put the previous revision back (unless ECS already did), watch it, and exit with `code` when
/// the service is settled on it again, or with LOOK_NOW when that is not confirmed.
#[allow(clippy::too_many_arguments)]
async fn restore(
    ecs: &impl Ecs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    plan: &Plan,
    start: Duration,
    failed: &Target,
    seen: &mut HashSet<String>,
    reason: String,
    ecs_rolled_back: bool,
    code: u8,
) -> Result<Outcome> {
    let bad = short(&failed.revision);
    ui.line(&format!("Rollout failed: {reason}"));
    let Some(good_arn) = failed.previous.clone() else {
        return Err(exit(
            code::LOOK_NOW,
            format!(
                "{reason}\nThere is no previous revision in the service to go back to ({bad} was already alone in it): \
                 look at the service now ({}).",
                look_command(plan)
            ),
        ));
    };
    let good = short(&good_arn).to_owned();
    if ecs_rolled_back {
        ui.line(&format!("ECS is already rolling back to {good}; watching it"));
    } else {
        ui.line(&format!("Rolling back: UpdateService {} -> {good}", plan.service));
        let why = match update_checked(ecs, clock, ui, plan, &good_arn, &failed.revision).await {
            Updated::Applied => None,
            Updated::Rejected(err) | Updated::NotApplied(err) => {
                Some(format!("could not point the service back at {good}: {err}"))
            }
            Updated::Unknown(err) => {
                Some(format!("UpdateService back to {good} got no answer and the service could not be read: {err}"))
            }
            Updated::Other(td) => Some(format!("the service moved to {} meanwhile", short(&td))),
        };
        if let Some(why) = why {
            return Err(exit(
                code::LOOK_NOW,
                format!("{reason}\nROLLBACK FAILED: {why}\nLook at the service now ({}).", look_command(plan)),
            ));
        }
    }
    let back = Target {
        revision: good_arn.clone(),
        previous: Some(failed.revision.clone()),
        phase: Phase::Rollback,
        old_events: seen.clone(),
    };
    // The rollback gets its own budget, within the total printed at the start.
    let total_left = (plan.timeout + plan.rollback_timeout).saturating_sub(clock.now() - start);
    let mut watch = Watch::new(back, plan.poll_interval, plan.rollback_timeout.min(total_left));
    let why = match run_watch(ecs, clock, ui, plan, &mut watch, seen).await {
        Decision::Succeeded => None,
        Decision::Failed { reason, .. } => {
            report(ecs, ui, plan, watch.last.as_ref(), &good_arn).await;
            Some(reason)
        }
        Decision::TimedOut { progress } => {
            Some(format!("not settled after {} ({progress})", human(plan.rollback_timeout)))
        }
        Decision::Interfered { reason } => Some(reason),
        Decision::Unobserved { reason } => Some(format!("the rollback could not be observed: {reason}")),
        Decision::Wait { .. } => unreachable!("run_watch returns only final decisions"),
    };
    match why {
        None => Err(exit(
            code,
            format!("{reason}\nThe service is back on the previous revision {good} ({bad} is not serving)."),
        )),
        Some(why) => Err(exit(
            code::LOOK_NOW,
            format!(
                "{reason}\nROLLBACK NOT CONFIRMED: the service did not settle on {good}: {why}\nLook at the service now ({}).",
                look_command(plan)
            ),
        )),
    }
}

/// The last service events and why recent tasks of `revision` stopped.
async fn report(ecs: &impl Ecs, ui: &mut impl Ui, plan: &Plan, last: Option<&ServiceSnapshot>, revision: &str) {
    ui.line("Last service events:");
    let mut events: Vec<_> = last.map(|s| s.events.iter().collect()).unwrap_or_default();
    events.sort_by(|a, b| b.epoch.total_cmp(&a.epoch));
    if events.is_empty() {
        ui.line("  (none)");
    }
    for e in events.iter().take(EVENTS_IN_REPORT).rev() {
        ui.line(&format!("  {}: {}", e.at, e.message));
    }
    match ecs.stopped_tasks(&plan.cluster, &plan.service).await {
        Ok(tasks) => {
            let lines = stopped_task_lines(&tasks, revision);
            ui.line(&format!("Stopped tasks of {}:", short(revision)));
            if lines.is_empty() {
                ui.line("  (none found)");
            }
            for line in lines {
                ui.line(&format!("  {line}"));
            }
        }
        Err(err) => ui.line(&format!("(could not list stopped tasks: {err})")),
    }
}

/// One line per stopped task of `revision`, newest first: reason, stop code, containers' exits.
pub fn stopped_task_lines(tasks: &[Task], revision: &str) -> Vec<String> {
    let mut ours: Vec<&Task> = tasks.iter().filter(|t| t.task_definition_arn() == Some(revision)).collect();
    ours.sort_by(|a, b| {
        b.stopped_at()
            .map(|t| t.as_secs_f64())
            .partial_cmp(&a.stopped_at().map(|t| t.as_secs_f64()))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    ours.iter()
        .take(TASKS_IN_REPORT)
        .map(|t| {
            let id = t.task_arn().unwrap_or_default().rsplit('/').next().unwrap_or_default();
            let at = t.stopped_at().and_then(|d| d.fmt(DateTimeFormat::DateTime).ok()).unwrap_or_default();
            let mut line = format!("task {id} {at}: {}", t.stopped_reason().unwrap_or("no reason given"));
            if let Some(code) = t.stop_code() {
                line.push_str(&format!(" [{}]", code.as_str()));
            }
            for c in t.containers() {
                let exit = c.exit_code().map_or("-".to_owned(), |e| e.to_string());
                line.push_str(&format!("; container {} exit {exit}", c.name().unwrap_or("?")));
                if let Some(r) = c.reason() {
                    line.push_str(&format!(" ({r})"));
                }
            }
            line
        })
        .collect()
}

/// Revisions to deregister: ACTIVE ones of the family beyond the newest `keep`, never `serving`.
pub fn prune_list(active: &[String], keep: usize, serving: &str) -> Vec<String> {
    let number = |arn: &str| arn.rsplit(':').next().and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
    let mut sorted: Vec<&String> = active.iter().collect();
    sorted.sort_by_key(|arn| std::cmp::Reverse(number(arn)));
    sorted.into_iter().skip(keep).filter(|arn| arn.as_str() != serving).cloned().collect()
}

/// `--keep N`: failures here are warnings; the deploy itself has succeeded.
/// `family` is the registered revision's own family (not re-derived from the plan).
async fn prune(ecs: &impl Ecs, ui: &mut impl Ui, plan: &Plan, family: &str, serving: &str) {
    let Some(keep) = plan.keep else { return };
    let active = match ecs.active_revisions(family).await {
        Ok(a) => a,
        Err(err) => return ui.line(&format!("warning: not pruning old revisions: {err}")),
    };
    let doomed = prune_list(&active, keep, serving);
    if doomed.is_empty() {
        ui.line(&format!("--keep {keep}: no older revisions of {family} to deregister"));
    }
    for arn in doomed {
        match ecs.deregister(&arn).await {
            Ok(()) => ui.line(&format!("Deregistered {} (--keep {keep})", short(&arn))),
            Err(err) => ui.line(&format!("warning: could not deregister {}: {err}", short(&arn))),
        }
    }
}

/// `15m`, `90s`, `1h30m`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}
