//! The rollout: check, build the next revision, register, update the service, watch, and on any
//! failure put the previous revision back and watch that too. Generic over [`Ecs`], [`Clock`] and
//! [`Ui`], so the tests drive every path with scripted SDK values and no real time.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_ecs::primitives::DateTimeFormat;
use aws_sdk_ecs::types::{Tag, Task, TaskDefinition};

use super::api::{ApiError, ApiErrorKind, Clock, Ecs, ServiceLookup, Ui};
use super::decide::{Decision, ServiceSnapshot, Target, WatchHistory, decide, short};
use super::taskdef;
use crate::ctx::Exit;

/// Exit codes, documented in `cargo xtask deploy --help` and the README.
pub mod code {
    pub const ROLLED_BACK: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const TIMED_OUT: u8 = 3;
    pub const ROLLBACK_FAILED: u8 = 4;
}

/// Consecutive DescribeServices errors tolerated while watching before giving up.
const MAX_POLL_ERRORS: u32 = 3;
/// Service events shown in a failure report.
const EVENTS_IN_REPORT: usize = 10;
/// Stopped tasks shown in a failure report.
const TASKS_IN_REPORT: usize = 5;

/// Everything the engine needs, already resolved and validated by the caller.
#[derive(Debug, Clone)]
pub struct Plan {
    pub env: String,
    /// The task definition family, for `--keep`.
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
    pub timeout: Duration,
    pub poll_interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The image already serves; nothing was registered.
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

/// An API error before the service was touched: configuration problems exit 2.
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
        _ => err.to_string(),
    };
    exit(if err.is_configuration() { code::USAGE } else { code::ROLLED_BACK }, message)
}

pub async fn deploy(ecs: &impl Ecs, clock: &impl Clock, ui: &mut impl Ui, plan: &Plan) -> Result<Outcome> {
    // 1. Checks. Nothing is registered or changed until all of them pass.
    let service = match ecs.describe_service(&plan.cluster, &plan.service).await.map_err(|e| before_change(plan, e))? {
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
    let before = ServiceSnapshot::from_service(&service);
    if before.status != "ACTIVE" {
        return Err(exit(code::USAGE, format!("ECS service '{}' is {}, not ACTIVE", plan.service, before.status)));
    }
    if let Some(kind) = service.deployment_controller().map(|c| c.r#type().as_str())
        && kind != "ECS"
    {
        return Err(exit(
            code::USAGE,
            format!(
                "ECS service '{}' uses the {kind} deployment controller; deploy drives rolling (ECS) deployments only",
                plan.service
            ),
        ));
    }
    if before.task_definition.is_empty() {
        return Err(exit(code::USAGE, format!("ECS service '{}' has no task definition", plan.service)));
    }
    // The emulator never finishes deployments, so this check would block every second local deploy.
    if !plan.local && before.deployments.len() > 1 {
        return Err(exit(
            code::USAGE,
            format!(
                "ECS service '{}' already has a deployment in progress ({} deployments): wait for it to finish, then \
                 run deploy again",
                plan.service,
                before.deployments.len()
            ),
        ));
    }
    let previous = before.task_definition.clone();
    let (serving, serving_tags) = ecs.describe_task_definition(&previous).await.map_err(|e| before_change(plan, e))?;
    let (base, tags) = newest_revision(ecs, plan, &serving, serving_tags).await?;
    let next = taskdef::next_revision(&base, &plan.image, &plan.version).map_err(|e| exit(code::USAGE, e))?;
    if taskdef::same_registration(&next, &serving) {
        ui.line(&format!(
            "{} already runs {} (revision {}), and the family has no newer configuration: nothing to do",
            plan.service,
            plan.image,
            short(&previous)
        ));
        return Ok(Outcome::AlreadyServing { revision: previous });
    }

    // 2. Show the change: what the service serves now -> what it will serve.
    ui.line(&format!(
        "Task definition {}: serving revision {}; the new revision is revision {} with the image and {} replaced \
         (cluster {}, service {})",
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
        ui.line("--dry-run: nothing registered, the service is unchanged");
        return Ok(Outcome::DryRun);
    }

    // 3. Register and point the service at it.
    let registered = ecs.register_task_definition(&next, &tags).await.map_err(|e| before_change(plan, e))?;
    let revision = registered.task_definition_arn().unwrap_or_default().to_owned();
    let family = registered.family().map_or_else(|| plan.family.clone(), str::to_owned);
    ui.line(&format!("Registered {}", short(&revision)));
    ecs.update_service(&plan.cluster, &plan.service, &revision).await.map_err(|e| before_change(plan, e))?;
    ui.line(&format!("Updated service {} to {}", plan.service, short(&revision)));

    if plan.local {
        return local_check(ecs, ui, plan, &family, &revision).await;
    }
    if plan.no_wait {
        ui.line("--no-wait: not watching the rollout; the deployment continues in ECS");
        return Ok(Outcome::Unwatched { revision });
    }

    // 4. Watch, and restore the previous revision on any failure.
    let mut seen: HashSet<String> = before.events.iter().map(|e| e.id.clone()).collect();
    let target = Target { revision: revision.clone(), previous: previous.clone() };
    let (decision, last) = match watch(ecs, clock, ui, plan, &target, &mut seen).await {
        Ok(result) => result,
        Err(err) => {
            let reason = format!("lost track of the rollout: {err}");
            return restore(ecs, clock, ui, plan, &target, &mut seen, reason, false, code::ROLLED_BACK).await;
        }
    };
    match decision {
        Decision::Succeeded => {
            ui.line(&format!("Deployed: {} serves {} ({})", plan.service, short(&revision), plan.image));
            prune(ecs, ui, plan, &family, &revision).await;
            Ok(Outcome::Deployed { revision })
        }
        Decision::Failed { reason, ecs_rolled_back } => {
            report(ecs, ui, plan, &last, &revision).await;
            restore(ecs, clock, ui, plan, &target, &mut seen, reason, ecs_rolled_back, code::ROLLED_BACK).await
        }
        Decision::TimedOut { progress } => {
            report(ecs, ui, plan, &last, &revision).await;
            let reason = format!("timed out after {} ({progress})", human(plan.timeout));
            restore(ecs, clock, ui, plan, &target, &mut seen, reason, false, code::TIMED_OUT).await
        }
        Decision::Superseded { by } => Err(exit(
            code::ROLLBACK_FAILED,
            format!(
                "another deployment ({}) replaced ours ({}) while it rolled out; not rolling back over it: look at the \
                 service now",
                short(&by),
                short(&revision)
            ),
        )),
        Decision::Wait { .. } => unreachable!("watch returns only final decisions"),
    }
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
            return Err(exit(code::ROLLED_BACK, format!("the service vanished after UpdateService ({reason})")));
        }
    };
    if now != revision {
        return Err(exit(
            code::ROLLED_BACK,
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

/// Poll until a final decision. Prints each new service event once (by id, oldest first).
async fn watch(
    ecs: &impl Ecs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    plan: &Plan,
    target: &Target,
    seen: &mut HashSet<String>,
) -> Result<(Decision, ServiceSnapshot), ApiError> {
    let start = clock.now();
    let mut history = WatchHistory { timeout: plan.timeout, ..WatchHistory::default() };
    let mut errors = 0;
    loop {
        let snapshot = match ecs.describe_service(&plan.cluster, &plan.service).await {
            Ok(ServiceLookup::Found(s)) => {
                errors = 0;
                ServiceSnapshot::from_service(&s)
            }
            Ok(ServiceLookup::Missing { reason }) => {
                return Err(ApiError::new(ApiErrorKind::ServiceNotFound, "DescribeServices", reason));
            }
            Err(err) => {
                errors += 1;
                if errors >= MAX_POLL_ERRORS || clock.now() - start >= plan.timeout {
                    return Err(err);
                }
                ui.line(&format!("warning: {} (attempt {errors} of {MAX_POLL_ERRORS})", err.operation));
                clock.sleep(plan.poll_interval).await;
                continue;
            }
        };
        for event in snapshot.events.iter().rev() {
            if seen.insert(event.id.clone()) {
                ui.line(&format!("  event {}: {}", event.at, event.message));
            }
        }
        history.polls += 1;
        history.seen_target |= snapshot.deployment_of(&target.revision).is_some();
        history.elapsed = clock.now() - start;
        match decide(&snapshot, target, &history) {
            Decision::Wait { progress } => {
                ui.status(&progress);
                let left = plan.timeout.saturating_sub(history.elapsed);
                clock.sleep(plan.poll_interval.min(left).max(Duration::from_millis(1))).await;
            }
            decision => return Ok((decision, snapshot)),
        }
    }
}

/// Put the previous revision back (unless ECS already did), watch it, and exit with `code` when
/// the service is healthy on it again, or with ROLLBACK_FAILED when it is not.
#[allow(clippy::too_many_arguments)]
async fn restore(
    ecs: &impl Ecs,
    clock: &impl Clock,
    ui: &mut impl Ui,
    plan: &Plan,
    failed: &Target,
    seen: &mut HashSet<String>,
    reason: String,
    ecs_rolled_back: bool,
    code: u8,
) -> Result<Outcome> {
    let (bad, good) = (short(&failed.revision), short(&failed.previous));
    ui.line(&format!("Rollout failed: {reason}"));
    if ecs_rolled_back {
        ui.line(&format!("ECS is already rolling back to {good}; watching it"));
    } else {
        ui.line(&format!("Rolling back: UpdateService {} -> {good}", plan.service));
        if let Err(err) = ecs.update_service(&plan.cluster, &plan.service, &failed.previous).await {
            return Err(exit(
                code::ROLLBACK_FAILED,
                format!(
                    "{reason}\nROLLBACK FAILED: could not point the service back at {good}: {err}\nLook at the service now."
                ),
            ));
        }
    }
    let back = Target { revision: failed.previous.clone(), previous: failed.revision.clone() };
    let outcome = match watch(ecs, clock, ui, plan, &back, seen).await {
        Ok((Decision::Succeeded, _)) => None,
        Ok((Decision::Failed { reason, .. }, last)) => {
            report(ecs, ui, plan, &last, &back.revision).await;
            Some(reason)
        }
        Ok((Decision::TimedOut { progress }, _)) => {
            Some(format!("timed out after {} ({progress})", human(plan.timeout)))
        }
        Ok((Decision::Superseded { by }, _)) => Some(format!("another deployment ({}) took over", short(&by))),
        Ok((Decision::Wait { .. }, _)) => unreachable!("watch returns only final decisions"),
        Err(err) => Some(err.to_string()),
    };
    match outcome {
        None => Err(exit(
            code,
            format!("{reason}\nThe service is back on the previous revision {good} ({bad} is not serving)."),
        )),
        Some(why) => Err(exit(
            code::ROLLBACK_FAILED,
            format!("{reason}\nROLLBACK FAILED: the service did not return to {good}: {why}\nLook at the service now."),
        )),
    }
}

/// The last service events and why recent tasks of `revision` stopped.
async fn report(ecs: &impl Ecs, ui: &mut impl Ui, plan: &Plan, last: &ServiceSnapshot, revision: &str) {
    ui.line("Last service events:");
    if last.events.is_empty() {
        ui.line("  (none)");
    }
    for e in last.events.iter().take(EVENTS_IN_REPORT).rev() {
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
