//! `run -- <app subcommand...>`: a one-off task of the SERVING revision, on the migration task's
//! machinery (`migration::one_off` for the RunTask, `run_migration` for the watch, the verdicts,
//! the exit codes and the last log lines), with its own command, startedBy and group.

use std::time::Duration;

use anyhow::Result;

use super::api::{Clock, Ecs, Logs, Session, Ui};
use super::decide::short;
use super::migration::{self, MigrationInterrupted};
use super::outcome::{code, fail};
use super::revision::{self, Target};
use crate::ops::one_off::{self, OneOff};

/// What `run` runs, checked by the command.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub target: Target,
    pub one_off: OneOff,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub client_token: String,
}

impl<E: Ecs, L: Logs, C: Clock, U: Ui> Session<'_, E, L, C, U> {
    /// Ok with the serving revision when the app container exited 0.
    pub async fn run_one_off(&mut self, plan: &RunPlan) -> Result<String> {
        let t = &plan.target;
        let found = revision::lookup(self.ecs, t).await?;
        let revision = found.serving.task_definition_arn().unwrap_or_default().to_owned();
        let mut task = migration::one_off(&found.service, &t.cluster, &revision, &plan.client_token);
        task.command = plan.one_off.command.clone();
        task.started_by = plan.one_off.started_by.to_owned();
        task.group = plan.one_off.group.to_owned();
        self.ui.line(&format!(
            "Running `{}` on the serving revision {}",
            one_off::shown(&plan.one_off),
            short(&revision)
        ));
        if t.dry_run {
            self.ui.line(&format!(
                "--dry-run: would run: {}. Nothing run.",
                migration::request(&task, short(&revision), plan.timeout)
            ));
            return Ok(revision);
        }
        let untouched = format!("The service {} was not touched.", t.service);
        match self.run_migration(&task, &found.serving, plan.timeout, plan.poll_interval, &untouched).await {
            Ok(()) => Ok(revision),
            Err(err) => match err.downcast::<MigrationInterrupted>() {
                Ok(m) => {
                    let id = m.task_arn.rsplit('/').next().unwrap_or(&m.task_arn).to_owned();
                    Err(match m.stopped {
                        Ok(()) => fail(code::UNOBSERVED, format!("run interrupted: the one-off task {id} was stopped")),
                        Err(why) => fail(
                            code::LOOK_NOW,
                            format!(
                                "run interrupted, and the one-off task {id} could not be stopped ({why}): it may still \
                                 run. Stop it: `aws ecs stop-task --cluster {} --task {}`",
                                m.cluster, m.task_arn
                            ),
                        ),
                    })
                }
                Err(err) => Err(err),
            },
        }
    }
}
