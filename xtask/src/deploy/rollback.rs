//! `cargo xtask rollback`: the service back to an older revision that reached COMPLETED, watched
//! like a deploy (the same exit codes); and what deploy and rollback share about "reached
//! COMPLETED": the `rdeploy:completed` tag a successful watch puts on its revision, and the rule
//! that a failed rollout never goes back to a revision without it (the bootstrap one).
//!
//! Which revision: `ops::rollback::choose` over the family's ACTIVE revisions as
//! DescribeTaskDefinition (with TAGS) answers them, plus the one `--to` names (it may be
//! INACTIVE, then refused as deregistered). No migration runs: the schema changes only
//! expand/contract, so an older revision runs against the current schema.

use std::time::Duration;

use anyhow::Result;
use aws_sdk_ecs::primitives::{DateTime, DateTimeFormat};

use super::api::{ApiErrorKind, Clock, Ecs, Logs, Session, Ui};
use super::decide::{self, Phase, ServiceSnapshot, Start, WatchTarget, short};
use super::migration::Migration;
use super::outcome::{Outcome, code, fail};
use super::revision::{self, Target};
use super::rollout::{Plan, Watched, update_failure};
use crate::ops::family_and_number;
use crate::ops::revisions::{COMPLETED_TAG, Revision, completed_tag};
use crate::ops::rollback::{self, AfterFailure};

/// How many of the family's newest ACTIVE revisions rollback reads (one DescribeTaskDefinition
/// each); `--to N` reads N as well.
pub const RECENT: usize = 30;

/// Everything a rollback needs, resolved by the command. `target.image` is unused (the chosen
/// revision's image is what serves).
#[derive(Debug, Clone)]
pub struct RollbackPlan {
    pub target: Target,
    /// `--to`: a number, `family:N` or an ARN.
    pub to: Option<String>,
    pub no_wait: bool,
    pub local: bool,
    pub timeout: Duration,
    pub rollback_timeout: Duration,
    pub poll_interval: Duration,
}

/// The line every rollback prints.
pub const NO_MIGRATION: &str = "No migration runs: the schema changes only expand/contract, so the older revision runs \
against the current schema (migrations are never undone).";

impl<E: Ecs, L: Logs, C: Clock, U: Ui> Session<'_, E, L, C, U> {
    pub async fn rollback(&mut self, rb: &RollbackPlan) -> Result<Outcome> {
        let start = self.clock.now();
        let t = &rb.target;
        let found = revision::lookup(self.ecs, t).await?;
        let serving = found.serving.task_definition_arn().unwrap_or_default().to_owned();
        let revisions = self.family_revisions(t, rb.to.as_deref()).await?;
        let chosen = rollback::choose(&revisions, &t.family, &serving, rb.to.as_deref(), &t.env)
            .map_err(|e| fail(code::USAGE, e))?;
        self.ui.line(&format!(
            "Rollback of {}: {} -> {} (image {}, digest {}; reached COMPLETED {})",
            t.service,
            short(&serving),
            chosen.short(),
            chosen.image,
            chosen.digest().unwrap_or("none: the image is not pinned by digest"),
            chosen.completed_at.as_deref().unwrap_or("?")
        ));
        self.ui.line(NO_MIGRATION);
        let before = ServiceSnapshot::from_service(&found.service);
        let watching = !rb.local && !rb.no_wait;
        if let Start::Refuse(why) = decide::before_deploy(&before, false, watching, &t.service) {
            return Err(fail(code::USAGE, format!("{why}\nNothing changed.")));
        }
        if t.dry_run {
            self.ui.line("--dry-run: the service is unchanged");
            return Ok(Outcome::DryRun);
        }
        let plan = Plan {
            target: Target { image: chosen.image.clone(), ..t.clone() },
            no_wait: rb.no_wait,
            local: rb.local,
            keep: None,
            timeout: rb.timeout,
            rollback_timeout: rb.rollback_timeout,
            poll_interval: rb.poll_interval,
            migration: Migration::Skip(String::new()),
            terraform_revision: None,
            force: false,
        };
        let updated = self.update_checked(&plan, &chosen.arn, &serving).await;
        if let Some(err) = update_failure(updated, &plan, &chosen.arn, &serving, "") {
            return Err(err);
        }
        self.ui.line(&format!("Updated service {} to {}", t.service, chosen.short()));
        if rb.local {
            return self.local_check(&plan, &t.family, &chosen.arn).await;
        }
        if rb.no_wait {
            self.ui.line("--no-wait: not watching the rollback; the deployment continues in ECS");
            return Ok(Outcome::Unwatched { revision: chosen.arn });
        }
        let seen: std::collections::HashSet<String> = before.events.iter().map(|e| e.id.clone()).collect();
        let target = WatchTarget {
            revision: chosen.arn.clone(),
            previous: Some(serving.clone()),
            phase: Phase::Rollout,
            old_events: seen.clone(),
            replaces: None,
        };
        let settled_before = before.settled_on(&serving).then(|| serving.clone());
        let mut w = Watched { plan: &plan, start, seen, family: t.family.clone(), settled_before };
        self.conclude(&mut w, target).await
    }

    /// The family's newest [`RECENT`] ACTIVE revisions, and the one `to` names if it is not
    /// among them. A revision ECS does not know is left out (choose names it unknown).
    pub(super) async fn family_revisions(&mut self, t: &Target, to: Option<&str>) -> Result<Vec<Revision>> {
        let mut arns: Vec<(i32, String)> = self
            .ecs
            .active_revisions(&t.family)
            .await
            .map_err(|e| t.before_change(e))?
            .into_iter()
            .filter_map(|arn| family_and_number(&arn).filter(|(f, _)| *f == t.family).map(|(_, n)| (n, arn.clone())))
            .collect();
        arns.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        arns.truncate(RECENT);
        let wanted = to.and_then(|to| match to.trim().parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => family_and_number(to.trim()).filter(|(f, _)| *f == t.family).map(|(_, n)| n),
        });
        if let Some(n) = wanted.filter(|n| *n > 0 && !arns.iter().any(|(m, _)| m == n)) {
            arns.push((n, format!("{}:{n}", t.family)));
        }
        let mut out = Vec::new();
        for (_, name) in arns {
            match self.ecs.describe_task_definition(&name).await {
                Ok((def, tags)) => out.push(Revision::from_sdk(&def, &tags)),
                Err(e) if matches!(e.kind, ApiErrorKind::Other | ApiErrorKind::NotFound) && !e.transient => {}
                Err(e) => return Err(t.before_change(e)),
            }
        }
        Ok(out)
    }

    /// After a watch saw `revision` COMPLETED: tag it, so rollback may go back to it. A failure
    /// is a warning: the deploy itself succeeded.
    pub(super) async fn mark_completed(&mut self, revision: &str) {
        let at = DateTime::from(self.clock.wall()).fmt(DateTimeFormat::DateTime).unwrap_or_default();
        match self.ecs.tag_resource(revision, &[completed_tag(&at)]).await {
            Ok(()) => self.ui.line(&format!("Tagged {} {COMPLETED_TAG}={at}", short(revision))),
            Err(err) => self.ui.line(&format!(
                "warning: could not tag {} {COMPLETED_TAG} ({}): `cargo xtask rollback` will not offer it",
                short(revision),
                err.to_string().lines().next().unwrap_or_default()
            )),
        }
    }

    /// Whether a failed rollout may go back to `arn`: only when it reached COMPLETED (its tag, or
    /// the service was settled on it before this change). When its tags cannot be read, it may
    /// (what served before is the best guess), with a warning.
    /// Also its image (for the re-attach command), when read.
    pub(super) async fn may_go_back_to(
        &mut self,
        arn: &str,
        settled_before: Option<&str>,
        env: &str,
    ) -> (AfterFailure, Option<String>) {
        let mut previous = match self.ecs.describe_task_definition(arn).await {
            Ok((def, tags)) => Revision::from_sdk(&def, &tags),
            Err(err) => {
                self.ui.line(&format!(
                    "warning: could not read whether {} reached COMPLETED ({}); rolling back to it",
                    short(arn),
                    err.operation
                ));
                return (AfterFailure::RollBack(arn.to_owned()), None);
            }
        };
        if previous.completed_at.is_none() && settled_before == Some(arn) {
            previous.completed_at = Some("(settled before this deploy)".into());
        }
        (rollback::after_failure(Some(&previous), env), Some(previous.image))
    }
}
