//! The rollout: check, build the next revision, register, update the service, watch, and on a
//! failure it saw, put the previous revision back and watch that too. Every verdict comes from
//! `decide/`; this file performs the calls those verdicts need and reports them, as methods of a
//! [`Session`] (generic over [`Ecs`], [`Logs`], [`Clock`] and [`Ui`]), so the tests drive every
//! path with scripted SDK values and no real time.
//!
//! The order of steps, with room for more: checks (`revision.rs`) -> next revision -> diff ->
//! register -> the migration task (`migration.rs`: the registered revision runs `migrate` as a
//! one-off task before the service points at it; anything but exit 0 stops here, the service
//! untouched) -> UpdateService -> watch -> roll back or prune.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_ecs::primitives::DateTimeFormat;

use super::api::{ApiError, Clock, Ecs, Logs, ServiceLookup, Session, Ui};
use super::decide::{
    self, Decision, NOT_SEEN_GRACE_POLLS, Observation, Phase, ServiceSnapshot, Start, UpdateCheck, Watch, WatchTarget,
    short,
};
use super::failure::{alarm_cause, interruption};
use super::migration::{self, Migration};
use super::outcome::{Outcome, code, fail, human};
use super::revision::{self, Target};
use super::taskdef;
use crate::ops::interrupt::Stage;
use crate::ops::keep;
use crate::ops::revisions::COMPLETED_TAG;
use crate::ops::rollback::AfterFailure;

/// UpdateService calls tried when the answer is lost and the service shows it did not take effect.
const UPDATE_ATTEMPTS: u32 = 2;

/// Everything a rollout needs, already resolved and validated by the caller.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
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
    /// The revision Terraform's state holds (the app layer's `task_definition_arn` output), read
    /// only for `--keep`: pruning never deregisters it.
    pub terraform_revision: Option<String>,
    /// `--force`: when the image and configuration already serve, a new deployment of the
    /// serving revision (new tasks), watched like any rollout.
    pub force: bool,
}

/// What became of an UpdateService.
pub(super) enum Updated {
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

/// A rollout being watched: the plan, when its budget started, and the service events already
/// printed (or older than the rollout, so never evidence about it).
pub(super) struct Watched<'p> {
    pub(super) plan: &'p Plan,
    pub(super) start: Duration,
    pub(super) seen: HashSet<String>,
    /// The registered (or serving) revision's own family, for pruning.
    pub(super) family: String,
    /// The revision the service was settled on (COMPLETED, alone) before this change: it reached
    /// COMPLETED even when no deploy tagged it.
    pub(super) settled_before: Option<String>,
}

impl<E: Ecs, L: Logs, C: Clock, U: Ui> Session<'_, E, L, C, U> {
    pub async fn deploy(&mut self, plan: &Plan) -> Result<Outcome> {
        let mut start = self.clock.now();
        let watching = !plan.local && !plan.no_wait;
        if watching {
            let (migration, extra) = match &plan.migration {
                Migration::Run { timeout, .. } => (
                    format!("the migration task runs for up to {} (--migration-timeout), then ", human(*timeout)),
                    *timeout,
                ),
                Migration::Skip(_) => (String::new(), Duration::ZERO),
            };
            self.ui.line(&format!(
                "Time budget: {migration}the rollout is watched for up to {} (--timeout), a rollback for up to {} more \
             (--rollback-timeout): deploy ends within {}",
                human(plan.timeout),
                human(plan.rollback_timeout),
                human(extra + plan.timeout + plan.rollback_timeout)
            ));
        }
        if let Migration::Skip(reason) = &plan.migration {
            self.ui.line(reason);
        }

        // 1. Checks. Nothing is registered or changed until all of them pass.
        let found = revision::lookup(self.ecs, &plan.target).await?;
        let before = ServiceSnapshot::from_service(&found.service);
        let previous = before.task_definition.clone();
        let (serving, (base, tags)) = (&found.serving, found.base());
        let next = found.next(&plan.target)?;
        let same = taskdef::same_registration(&next, serving);
        let seen: HashSet<String> = before.events.iter().map(|e| e.id.clone()).collect();
        match decide::before_deploy(&before, same, watching, &plan.target.service) {
            Start::Refuse(why) => return Err(fail(code::USAGE, format!("{why}\nNothing changed."))),
            Start::NothingToDo if plan.force => return self.restart(plan, &before, start).await,
            Start::NothingToDo => {
                let state = if watching {
                    "its deployment is COMPLETED with every desired task running".to_owned()
                } else {
                    format!("not checked ({})", decide::progress_line(&before, &previous))
                };
                self.ui.line(&format!(
                "{} already runs {} (revision {}) and the family has no newer configuration; {state}: nothing to do \
                 (`--force` replaces its tasks)",
                plan.target.service,
                plan.target.image,
                short(&previous)
            ));
                return Ok(Outcome::AlreadyServing { revision: previous });
            }
            Start::WatchExisting { previous: back_to } => {
                self.ui.line(&format!(
                "{} already points at {} with this image and configuration, but it is not settled ({}): watching it \
                 like any rollout",
                plan.target.service,
                short(&previous),
                decide::progress_line(&before, &previous)
            ));
                if plan.target.dry_run {
                    self.ui.line("--dry-run: not watching");
                    return Ok(Outcome::DryRun);
                }
                let target = WatchTarget {
                    revision: previous.clone(),
                    previous: back_to,
                    phase: Phase::Existing,
                    old_events: seen.clone(),
                    replaces: None,
                };
                let family = serving.family().unwrap_or(&plan.target.family).to_owned();
                return self.conclude(&mut Watched { plan, start, seen, family, settled_before: None }, target).await;
            }
            Start::Deploy => {}
        }

        // 2. Show the change: what the service serves now -> what it will serve.
        self.ui.line(&format!(
        "Task definition {}: serving revision {}; the next revision is built from revision {} (the family's newest) \
         with only the image and {} replaced (cluster {}, service {})",
        serving.family().unwrap_or_default(),
        serving.revision(),
        base.revision(),
        taskdef::VERSION_VAR,
        plan.target.cluster,
        plan.target.service
    ));
        if base.revision() != serving.revision() {
            self.ui.line(&format!(
                "  revision {} is the family's newest (registered {}{}): its configuration reaches the service now",
                base.revision(),
                base.registered_at()
                    .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
                    .unwrap_or_else(|| "at an unknown time".into()),
                base.registered_by().map(|by| format!(" by {by}")).unwrap_or_default()
            ));
        }
        self.ui.line(&format!("Changes from the serving revision {}:", serving.revision()));
        for change in taskdef::diff(serving, &next) {
            self.ui.line(&format!("  {change}"));
        }
        if plan.target.dry_run {
            if let Migration::Run { timeout, client_token, .. } = &plan.migration {
                let shown = "(the new revision)";
                let task = migration::one_off(&found.service, &plan.target.cluster, shown, client_token);
                self.ui.line(&format!(
                    "--dry-run: would run the migration task before UpdateService: {}",
                    migration::request(&task, shown, *timeout)
                ));
            }
            self.ui.line("--dry-run: nothing registered, the service is unchanged");
            return Ok(Outcome::DryRun);
        }

        // 3. Register.
        // The base's `rdeploy:completed` tag says the BASE served; the new revision has not yet.
        let tags: Vec<_> = tags.iter().filter(|t| t.key() != Some(COMPLETED_TAG)).cloned().collect();
        let registered =
            self.ecs.register_task_definition(&next, &tags).await.map_err(|e| plan.target.before_change(e))?;
        let revision = registered.task_definition_arn().unwrap_or_default().to_owned();
        let family = registered.family().map_or_else(|| plan.target.family.clone(), str::to_owned);
        self.ui.line(&format!("Registered {}", short(&revision)));

        // 4. The migration task runs `revision` before the service points at it.
        let mut migrated = "";
        if let Migration::Run { timeout, poll_interval, client_token } = &plan.migration {
            // The migration family's revision with the new image (the master credentials), or the
            // new serving revision where the infrastructure has no migration family yet.
            let migrating = self.migration_family_revision(&plan.target).await?.unwrap_or_else(|| registered.clone());
            let migrating_arn = migrating.task_definition_arn().unwrap_or_default().to_owned();
            let task = migration::one_off(&found.service, &plan.target.cluster, &migrating_arn, client_token);
            let untouched = format!(
                "Not rolled out: the service was not touched and still runs {} ({} is registered, unused).",
                short(&previous),
                short(&revision)
            );
            self.run_migration(&task, &migrating, *timeout, *poll_interval, &untouched)
                .await
                .map_err(|e| migration::interrupted_as(e, "deploy", &plan.target))?;
            // The rollout's --timeout counts from here.
            start = self.clock.now();
            migrated =
                " (The migration task DID apply its migrations: the serving revision runs against the new schema.)";
        }

        // 5. Point the service at it, and know whether that happened before saying anything.
        let updated = self.update_checked(plan, &revision, &previous).await;
        if let Some(err) = update_failure(updated, plan, &revision, &previous, migrated) {
            return Err(err);
        }
        self.ui.line(&format!("Updated service {} to {}", plan.target.service, short(&revision)));

        if plan.local {
            return self.local_check(plan, &family, &revision).await;
        }
        if plan.no_wait {
            self.ui.line("--no-wait: not watching the rollout; the deployment continues in ECS");
            if before.desired == 0 {
                self.ui.line(&format!(
                    "The service is scaled to zero (desiredCount 0): nothing serves {} until it is scaled up",
                    short(&revision)
                ));
            }
            return Ok(Outcome::Unwatched { revision });
        }

        // 6. Watch, and act on what the verdict says.
        let settled_before = before.settled_on(&previous).then(|| previous.clone());
        let target = WatchTarget {
            revision: revision.clone(),
            previous: Some(previous),
            phase: Phase::Rollout,
            old_events: seen.clone(),
            replaces: None,
        };
        self.conclude(&mut Watched { plan, start, seen, family, settled_before }, target).await
    }

    /// Watch `target` until a verdict, then: success (prune), a seen failure or timeout (roll back),
    /// someone else's change (exit 4), or an unobservable rollout (exit 5, nothing rolled back).
    pub(super) async fn conclude(&mut self, w: &mut Watched<'_>, target: WatchTarget) -> Result<Outcome> {
        let plan = w.plan;
        let revision = target.revision.clone();
        let budget = plan.timeout.saturating_sub(self.clock.now() - w.start);
        let mut watch = Watch::new(target, plan.poll_interval, budget);
        let decision = self.run_watch(plan, &mut watch, &mut w.seen).await;
        let last = watch.last.clone();
        match decision {
            Decision::Succeeded => {
                self.ui.line(&format!(
                    "Deployed: {} serves {} alone ({})",
                    plan.target.service,
                    short(&revision),
                    plan.target.image
                ));
                self.mark_completed(&revision).await;
                self.prune(plan, &w.family, &revision, watch.target.previous.as_deref()).await;
                Ok(Outcome::Deployed { revision })
            }
            Decision::Failed { reason, ecs_rolled_back } => {
                self.report(&plan.target, last.as_ref(), &revision).await;
                // A deployment alarm caused it: say so (the app answered errors), not "tasks failed".
                let reason = last.as_ref().and_then(|s| alarm_cause(s, &watch.target)).unwrap_or(reason);
                self.restore(w, &watch.target, reason, ecs_rolled_back, code::ROLLED_BACK).await
            }
            Decision::TimedOut { progress } => {
                self.report(&plan.target, last.as_ref(), &revision).await;
                let reason = format!("timed out after {} ({progress})", human(plan.timeout));
                self.restore(w, &watch.target, reason, false, code::TIMED_OUT).await
            }
            Decision::Interfered { reason } => {
                self.report(&plan.target, last.as_ref(), &revision).await;
                Err(fail(
                    code::LOOK_NOW,
                    format!(
                        "{reason}.\nNot rolling back or forward over it: look at the service now ({}).",
                        plan.target.look_command()
                    ),
                ))
            }
            Decision::Unobserved { reason } => Err(fail(
                code::UNOBSERVED,
                format!(
                    "could not observe the rollout of {}: {reason}.\nIt may still be rolling out; nothing was rolled back \
                 (a deployment not seen failing is not undone). Look: {}",
                    short(&revision),
                    plan.target.look_command()
                ),
            )),
            Decision::Interrupted { signal } => {
                let stage = Stage::Watching { revision: revision.clone(), image: plan.target.image.clone() };
                Err(interruption(signal, &stage, &plan.target, &plan.target.image))
            }
            Decision::Wait { .. } => unreachable!("run_watch returns only final decisions"),
        }
    }

    /// Poll until the watch gives a verdict. Prints each new service event once, oldest first.
    pub(super) async fn run_watch(&mut self, plan: &Plan, watch: &mut Watch, seen: &mut HashSet<String>) -> Decision {
        let begin = self.clock.now();
        loop {
            let observation = match self.ecs.describe_service(&plan.target.cluster, &plan.target.service).await {
                Ok(ServiceLookup::Found(service)) => {
                    let snapshot = ServiceSnapshot::from_service(&service);
                    let mut fresh: Vec<_> = snapshot.events.iter().filter(|e| seen.insert(e.id.clone())).collect();
                    fresh.sort_by(|a, b| a.epoch.total_cmp(&b.epoch));
                    for event in fresh {
                        self.ui.line(&format!("  event {}: {}", event.at, event.message));
                    }
                    Observation::Service(snapshot)
                }
                Ok(ServiceLookup::Missing { reason }) => Observation::Missing(reason),
                Err(err) => {
                    self.ui.line(&format!("warning: {} failed: {}", err.operation, err.detail));
                    Observation::Error { transient: err.transient, message: err.to_string() }
                }
            };
            match watch.observe(&observation, self.clock.now() - begin) {
                Decision::Wait { progress, delay } => {
                    self.ui.status(&progress);
                    self.clock.sleep(delay).await;
                    if let Some(signal) = self.clock.cancelled() {
                        return Decision::Interrupted { signal };
                    }
                }
                decision => return decision,
            }
        }
    }

    /// UpdateService to `revision`; when the answer is lost (timeout, 5xx), read the service before
    /// saying anything changed or not (allowing for lag), and try again only if it did not.
    pub(super) async fn update_checked(&mut self, plan: &Plan, revision: &str, from: &str) -> Updated {
        let mut last = None;
        for attempt in 1..=UPDATE_ATTEMPTS {
            let err = match self.ecs.update_service(&plan.target.cluster, &plan.target.service, revision).await {
                Ok(()) => return Updated::Applied,
                Err(err) if !err.transient => return Updated::Rejected(err),
                Err(err) => err,
            };
            self.ui.line(&format!(
                "UpdateService to {} got no answer ({}); reading the service before saying whether it changed",
                short(revision),
                err.detail
            ));
            let mut read = false;
            for _ in 0..NOT_SEEN_GRACE_POLLS {
                self.clock.sleep(plan.poll_interval).await;
                if let Ok(ServiceLookup::Found(service)) =
                    self.ecs.describe_service(&plan.target.cluster, &plan.target.service).await
                {
                    read = true;
                    match decide::update_took_effect(&ServiceSnapshot::from_service(&service), revision, from) {
                        UpdateCheck::Applied => {
                            self.ui.line(&format!("It did: the service points at {}", short(revision)));
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
                self.ui.line(&format!("The service still points at {}: trying UpdateService again", short(from)));
            }
            last = Some(err);
        }
        Updated::NotApplied(last.expect("at least one attempt"))
    }

    /// Local: the emulator records UpdateService but runs no tasks, so check the service points at
    /// the new revision and stop (never wait for a rollout that cannot happen).
    pub(super) async fn local_check(&mut self, plan: &Plan, family: &str, revision: &str) -> Result<Outcome> {
        let now = match self
            .ecs
            .describe_service(&plan.target.cluster, &plan.target.service)
            .await
            .map_err(|e| plan.target.before_change(e))?
        {
            ServiceLookup::Found(s) => s.task_definition().unwrap_or_default().to_owned(),
            ServiceLookup::Missing { reason } => {
                return Err(fail(code::LOOK_NOW, format!("the service vanished after UpdateService ({reason})")));
            }
        };
        if now != revision {
            return Err(fail(
                code::LOOK_NOW,
                format!("after UpdateService the service points at {} instead of {}", short(&now), short(revision)),
            ));
        }
        self.ui.line(&format!(
            "Verified: service {} now points at {}. The local emulator runs no tasks, so the rollout cannot be watched \
         here; stopping (the watch and rollback logic is covered by the scripted tests).",
            plan.target.service,
            short(revision)
        ));
        self.prune(plan, family, revision, None).await;
        Ok(Outcome::Unwatched { revision: revision.to_owned() })
    }

    /// Put the previous revision back (unless ECS already did), watch it, and exit with `code` when
    /// the service is settled on it again, or with LOOK_NOW when that is not confirmed.
    async fn restore(
        &mut self,
        w: &mut Watched<'_>,
        failed: &WatchTarget,
        reason: String,
        ecs_rolled_back: bool,
        code: u8,
    ) -> Result<Outcome> {
        let plan = w.plan;
        let bad = short(&failed.revision);
        self.ui.line(&format!("Rollout failed: {reason}"));
        let Some(good_arn) = failed.previous.clone() else {
            return Err(fail(
                code::LOOK_NOW,
                format!(
                    "{reason}\nThere is no previous revision in the service to go back to ({bad} was already alone in it): \
                 look at the service now ({}).",
                    plan.target.look_command()
                ),
            ));
        };
        let good = short(&good_arn).to_owned();
        // Never back to a revision that never reached COMPLETED (the bootstrap one, after a failed
        // first deploy): it cannot start either, so watching it would only wait out a second failure.
        let (verdict, good_image) = self.may_go_back_to(&good_arn, w.settled_before.as_deref(), &plan.target.env).await;
        if let AfterFailure::Stay(why) = verdict {
            return Err(fail(code::LOOK_NOW, format!("{reason}\n{why}")));
        }
        if ecs_rolled_back {
            self.ui.line(&format!("ECS is already rolling back to {good}; watching it"));
        } else {
            self.ui.line(&format!("Rolling back: UpdateService {} -> {good}", plan.target.service));
            let why = match self.update_checked(plan, &good_arn, &failed.revision).await {
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
                return Err(fail(
                    code::LOOK_NOW,
                    format!(
                        "{reason}\nROLLBACK FAILED: {why}\nLook at the service now ({}).",
                        plan.target.look_command()
                    ),
                ));
            }
        }
        let back = WatchTarget {
            revision: good_arn.clone(),
            previous: Some(failed.revision.clone()),
            phase: Phase::Rollback,
            old_events: w.seen.clone(),
            replaces: None,
        };
        // The rollback gets its own budget, within the total printed at the start.
        let total_left = (plan.timeout + plan.rollback_timeout).saturating_sub(self.clock.now() - w.start);
        let mut watch = Watch::new(back, plan.poll_interval, plan.rollback_timeout.min(total_left));
        let why = match self.run_watch(plan, &mut watch, &mut w.seen).await {
            Decision::Succeeded => None,
            Decision::Failed { reason, .. } => {
                self.report(&plan.target, watch.last.as_ref(), &good_arn).await;
                Some(reason)
            }
            Decision::TimedOut { progress } => {
                Some(format!("not settled after {} ({progress})", human(plan.rollback_timeout)))
            }
            Decision::Interfered { reason } => Some(reason),
            Decision::Unobserved { reason } => Some(format!("the rollback could not be observed: {reason}")),
            Decision::Interrupted { signal } => {
                let image = good_image.unwrap_or_else(|| "<the previous image>".into());
                let stage = Stage::RollingBack { revision: good_arn.clone(), image: image.clone() };
                return Err(interruption(signal, &stage, &plan.target, &image));
            }
            Decision::Wait { .. } => unreachable!("run_watch returns only final decisions"),
        };
        match why {
            None => Err(fail(
                code,
                format!("{reason}\nThe service is back on the previous revision {good} ({bad} is not serving)."),
            )),
            Some(why) => Err(fail(
                code::LOOK_NOW,
                format!(
                    "{reason}\nROLLBACK NOT CONFIRMED: the service did not settle on {good}: {why}\nLook at the service now ({}).",
                    plan.target.look_command()
                ),
            )),
        }
    }

    /// `--keep N`: failures here are warnings; the deploy itself has succeeded.
    /// `family` is the registered revision's own family (not re-derived from the plan).
    /// Never deregistered: the serving revision, Terraform's (`plan.terraform_revision`) and the
    /// previous one (what a rollback would go to).
    async fn prune(&mut self, plan: &Plan, family: &str, serving: &str, previous: Option<&str>) {
        let Some(keep) = plan.keep else { return };
        let active = match self.ecs.active_revisions(family).await {
            Ok(a) => a,
            Err(err) => return self.ui.line(&format!("warning: not pruning old revisions: {err}")),
        };
        let terraform = plan.terraform_revision.as_deref();
        let doomed = keep::to_deregister(&active, keep, family, serving, terraform, previous);
        if doomed.is_empty() {
            self.ui.line(&format!("--keep {keep}: no older revisions of {family} to deregister"));
        }
        for arn in doomed {
            match self.ecs.deregister(&arn).await {
                Ok(()) => self.ui.line(&format!("Deregistered {} (--keep {keep})", short(&arn))),
                Err(err) => self.ui.line(&format!("warning: could not deregister {}: {err}", short(&arn))),
            }
        }
    }
}

/// What a failed UpdateService to `revision` (from `previous`) means, as the error that ends the
/// command; None when it took effect. `migrated`: a note when the migration task already ran.
pub(super) fn update_failure(
    updated: Updated,
    plan: &Plan,
    revision: &str,
    previous: &str,
    migrated: &str,
) -> Option<anyhow::Error> {
    match updated {
        Updated::Applied => None,
        Updated::Rejected(err) => Some(fail(
            code::USAGE,
            format!(
                "UpdateService was refused: {err}\n{}: the service still runs {}.{migrated}",
                if migrated.is_empty() { "Nothing changed" } else { "The service is unchanged" },
                short(previous)
            ),
        )),
        Updated::NotApplied(err) => Some(fail(
            code::USAGE,
            format!(
                "UpdateService failed {UPDATE_ATTEMPTS} times and the service still points at {}: nothing changed.{migrated}\n  \
                 last error: {err}",
                short(previous)
            ),
        )),
        Updated::Unknown(err) => Some(fail(
            code::UNOBSERVED,
            format!(
                "UpdateService to {} got no answer and the service could not be read afterwards: it may or may not \
                 point at {} now, and a rollout may be running unwatched. Nothing was rolled back. Look: {}\n  \
                 cause: {err}",
                short(revision),
                short(revision),
                plan.target.look_command()
            ),
        )),
        Updated::Other(td) => Some(fail(
            code::LOOK_NOW,
            format!(
                "while UpdateService to {} went unanswered, the service moved to {}: someone else changed it. Not \
                 touching it; look at the service now ({})",
                short(revision),
                short(&td),
                plan.target.look_command()
            ),
        )),
    }
}
