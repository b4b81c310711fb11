//! `deploy --force` when the image and configuration already serve: a new deployment of the
//! serving revision (UpdateService forceNewDeployment: new tasks, the same revision), watched like
//! any rollout. The revision alone cannot tell the new deployment from the old one, so the watch
//! is keyed on the deployment id (`WatchTarget::replaces`). There is no other revision to roll
//! back to: a failure says what ECS did, and the exit code says whether a person must look.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;

use super::api::{Clock, Ecs, Logs, Session, Ui};
use super::decide::{Decision, Phase, ServiceSnapshot, Watch, WatchTarget, short};
use super::failure::interruption;
use super::outcome::{Outcome, code, fail, human};
use super::rollout::Plan;
use crate::ops::interrupt::Stage;

impl<E: Ecs, L: Logs, C: Clock, U: Ui> Session<'_, E, L, C, U> {
    pub(super) async fn restart(&mut self, plan: &Plan, before: &ServiceSnapshot, start: Duration) -> Result<Outcome> {
        let t = &plan.target;
        let revision = before.task_definition.clone();
        let rev = short(&revision).to_owned();
        self.ui.line(&format!(
            "--force: {} already runs {} ({rev}); starting a new deployment of it (new tasks, the same revision)",
            t.service, t.image
        ));
        if t.dry_run {
            self.ui.line(&format!(
                "--dry-run: would call UpdateService --cluster {} --service {} --force-new-deployment; nothing changed",
                t.cluster, t.service
            ));
            return Ok(Outcome::DryRun);
        }
        let ids: HashSet<String> = before.deployments.iter().map(|d| d.id.clone()).collect();
        match self.ecs.force_new_deployment(&t.cluster, &t.service).await {
            Ok(()) => self.ui.line(&format!("Started a new deployment of {rev} (UpdateService forceNewDeployment)")),
            Err(err) if !err.transient => {
                return Err(fail(
                    code::USAGE,
                    format!("UpdateService (forceNewDeployment) was refused: {err}\nNothing changed."),
                ));
            }
            Err(err) => {
                return Err(fail(
                    code::UNOBSERVED,
                    format!(
                        "UpdateService (forceNewDeployment) got no answer: a new deployment may or may not have \
                         started. Look: {}\n  cause: {err}",
                        t.look_command()
                    ),
                ));
            }
        }
        if plan.local || plan.no_wait {
            self.ui.line("not watching the new deployment (--no-wait or --env local); it continues in ECS");
            return Ok(Outcome::Unwatched { revision });
        }
        let target = WatchTarget {
            revision: revision.clone(),
            previous: None,
            phase: Phase::Rollout,
            old_events: before.events.iter().map(|e| e.id.clone()).collect(),
            replaces: Some(ids),
        };
        let mut seen = target.old_events.clone();
        let budget = plan.timeout.saturating_sub(self.clock.now() - start);
        let mut watch = Watch::new(target, plan.poll_interval, budget);
        let decision = self.run_watch(plan, &mut watch, &mut seen).await;
        let kept = format!(
            "The service still points at {rev}: a restart changes no revision, so there is nothing to roll back to"
        );
        let look = t.look_command();
        match decision {
            Decision::Succeeded => {
                self.ui.line(&format!("Restarted: {} runs new tasks of {rev} alone", t.service));
                self.mark_completed(&revision).await;
                Ok(Outcome::Deployed { revision })
            }
            Decision::Failed { reason, ecs_rolled_back } => {
                self.report(t, watch.last.as_ref(), &revision).await;
                if ecs_rolled_back {
                    Err(fail(code::ROLLED_BACK, format!("{reason}\n{kept}; ECS put the earlier deployment back.")))
                } else {
                    Err(fail(code::LOOK_NOW, format!("{reason}\n{kept}; look at the service now ({look}).")))
                }
            }
            Decision::TimedOut { progress } => {
                self.report(t, watch.last.as_ref(), &revision).await;
                Err(fail(
                    code::LOOK_NOW,
                    format!(
                        "the new deployment of {rev} timed out after {} ({progress})\n{kept}; look at the service now \
                         ({look}).",
                        human(plan.timeout)
                    ),
                ))
            }
            Decision::Interfered { reason } => {
                Err(fail(code::LOOK_NOW, format!("{reason}.\nLook at the service now ({look}).")))
            }
            Decision::Unobserved { reason } => Err(fail(
                code::UNOBSERVED,
                format!("could not observe the new deployment of {rev}: {reason}.\nLook: {look}"),
            )),
            Decision::Interrupted { signal } => {
                let stage = Stage::Watching { revision: revision.clone(), image: t.image.clone() };
                Err(interruption(signal, &stage, t, &t.image))
            }
            Decision::Wait { .. } => unreachable!("run_watch returns only final decisions"),
        }
    }
}
