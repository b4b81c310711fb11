//! `status` and `revisions`: what the service runs, read only. `status` reads the service
//! (DescribeServices), its tasks (ListTasks + DescribeTasks) and the health of its target
//! group's targets (ELBv2 DescribeTargetHealth, from the service's `loadBalancers`); the verdict
//! and the `--json` document are `ops::status`. `revisions` reads the family's recent ACTIVE
//! revisions with their tags; the rows are `ops::revisions`.

use anyhow::Result;
use serde::Serialize;

use super::api::{Clock, Ecs, Logs, ServiceLookup, Session, TargetHealth, Ui};
use super::decide::ServiceSnapshot;
use super::outcome::{code, fail};
use super::revision::Target;
use crate::ops::revisions::{self, RevisionRow};
use crate::ops::status::{self, Status};

/// `cargo xtask revisions --json`: `schema` 1 grows only by new fields.
#[derive(Debug, Clone, Serialize)]
pub struct RevisionsDoc {
    pub schema: u32,
    pub environment: String,
    pub family: String,
    /// The service's task definition ARN.
    pub serving: String,
    /// Newest first.
    pub revisions: Vec<RevisionRow>,
}

impl<E: Ecs, L: Logs, C: Clock, U: Ui> Session<'_, E, L, C, U> {
    /// The service, its tasks and its targets, and the verdict. A target group that cannot be
    /// read is a reason (degraded), named with the error; it never passes for healthy.
    pub async fn status(&mut self, t: &Target, elb: &impl TargetHealth) -> Result<Status> {
        let service = match self.ecs.describe_service(&t.cluster, &t.service).await.map_err(|e| t.before_change(e))? {
            ServiceLookup::Found(s) => *s,
            ServiceLookup::Missing { reason } => {
                return Err(fail(
                    code::USAGE,
                    format!(
                        "ECS service '{}' not found in cluster '{}' ({reason}): apply the app layer for environment {} first",
                        t.service, t.cluster, t.env
                    ),
                ));
            }
        };
        let tasks = self.ecs.running_tasks(&t.cluster, &t.service).await.map_err(|e| t.before_change(e))?;
        let mut targets = Vec::new();
        let mut unread = Vec::new();
        for group in service.load_balancers().iter().filter_map(|lb| lb.target_group_arn()) {
            match elb.target_health(group).await {
                Ok(found) => targets.extend(found),
                Err(err) => unread.push(format!(
                    "target health not read ({}): {}",
                    group.rsplit('/').nth(1).unwrap_or(group),
                    err.to_string().lines().next().unwrap_or_default()
                )),
            }
        }
        let mut s = status::status(&t.env, &t.cluster, &service, &tasks, &targets);
        if service.load_balancers().is_empty() {
            unread.push("the service has no load balancer: target health not read".into());
        }
        if !unread.is_empty() {
            s.reasons.extend(unread);
            s.healthy = false;
        }
        Ok(s)
    }

    /// The family's recent ACTIVE revisions as rows, newest first.
    pub async fn revisions(&mut self, t: &Target, terraform: Option<&str>) -> Result<RevisionsDoc> {
        let found = super::revision::lookup(self.ecs, t).await?;
        let serving = found.serving.task_definition_arn().unwrap_or_default().to_owned();
        let settled = ServiceSnapshot::from_service(&found.service).settled_on(&serving);
        let list = self.family_revisions(t, None).await?;
        Ok(RevisionsDoc {
            schema: 1,
            environment: t.env.clone(),
            family: t.family.clone(),
            revisions: revisions::rows(&list, &serving, settled, terraform),
            serving,
        })
    }
}
