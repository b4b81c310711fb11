//! What the verdicts read from one DescribeServices answer: the service, its deployments and its
//! events, reduced to plain values ([`ServiceSnapshot`]), and the one-line progress of a revision.

use aws_sdk_ecs::primitives::DateTimeFormat;
use aws_sdk_ecs::types::{DeploymentRolloutState, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    InProgress,
    Completed,
    Failed,
    /// No rolloutState (e.g. not the ECS deployment controller): never counts as completed.
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentView {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    pub rollout: Rollout,
    pub rollout_reason: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    pub id: String,
    pub at: String,
    /// Seconds since the epoch (ECS's clock), to order events that arrive out of order.
    pub epoch: f64,
    pub message: String,
}

/// What the verdicts need from one DescribeServices answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSnapshot {
    pub status: String,
    /// The service-level task definition (what UpdateService set last).
    pub task_definition: String,
    /// The service-level desiredCount.
    pub desired: i32,
    /// The deployment controller type, when ECS reports one.
    pub controller: Option<String>,
    pub deployments: Vec<DeploymentView>,
    /// Newest first, as ECS returns them.
    pub events: Vec<EventView>,
    /// The service's enabled deployment alarms (deploymentConfiguration.alarms).
    pub alarms: Vec<String>,
}

impl ServiceSnapshot {
    pub fn from_service(service: &Service) -> Self {
        let deployments = service
            .deployments()
            .iter()
            .map(|d| DeploymentView {
                id: d.id().unwrap_or_default().to_owned(),
                status: d.status().unwrap_or_default().to_owned(),
                task_definition: d.task_definition().unwrap_or_default().to_owned(),
                rollout: match d.rollout_state() {
                    Some(DeploymentRolloutState::Completed) => Rollout::Completed,
                    Some(DeploymentRolloutState::Failed) => Rollout::Failed,
                    Some(DeploymentRolloutState::InProgress) => Rollout::InProgress,
                    _ => Rollout::Unknown,
                },
                rollout_reason: d.rollout_state_reason().unwrap_or_default().to_owned(),
                desired: d.desired_count(),
                running: d.running_count(),
                pending: d.pending_count(),
                failed: d.failed_tasks(),
            })
            .collect();
        let events = service
            .events()
            .iter()
            .map(|e| EventView {
                id: e.id().unwrap_or_default().to_owned(),
                at: e.created_at().and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()).unwrap_or_default(),
                epoch: e.created_at().map_or(0.0, |t| t.as_secs_f64()),
                message: e.message().unwrap_or_default().to_owned(),
            })
            .collect();
        Self {
            status: service.status().unwrap_or_default().to_owned(),
            task_definition: service.task_definition().unwrap_or_default().to_owned(),
            desired: service.desired_count(),
            controller: service.deployment_controller().map(|c| c.r#type().as_str().to_owned()),
            deployments,
            events,
            alarms: crate::ops::alarm::configured(service),
        }
    }

    pub fn primary(&self) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    pub fn deployment_of(&self, task_definition: &str) -> Option<&DeploymentView> {
        // Prefer the PRIMARY one when the same revision appears twice.
        self.primary()
            .filter(|d| d.task_definition == task_definition)
            .or_else(|| self.deployments.iter().find(|d| d.task_definition == task_definition))
    }

    /// Alone, COMPLETED, every desired task running, and something to run.
    pub(crate) fn settled_on(&self, revision: &str) -> bool {
        self.primary().is_some_and(|p| {
            p.task_definition == revision
                && p.rollout == Rollout::Completed
                && p.running == p.desired
                && p.desired > 0
                && self.deployments.len() == 1
        })
    }
}

/// `family:revision` of an ARN, for messages.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `running 1/2 pending 1 | rollout IN_PROGRESS | 1 older deployment draining (3 running)`.
pub fn progress_line(snapshot: &ServiceSnapshot, revision: &str) -> String {
    let new = short(revision);
    let Some(ours) = snapshot.deployment_of(revision) else {
        return format!("{new}: no deployment yet");
    };
    let rollout = match ours.rollout {
        Rollout::InProgress => "IN_PROGRESS",
        Rollout::Completed => "COMPLETED",
        Rollout::Failed => "FAILED",
        Rollout::Unknown => "unknown",
    };
    let mut line =
        format!("{new}: running {}/{} pending {} | rollout {rollout}", ours.running, ours.desired, ours.pending);
    if ours.failed > 0 {
        line.push_str(&format!(" | failed tasks {}", ours.failed));
    }
    let others: Vec<&DeploymentView> = snapshot.deployments.iter().filter(|d| d.id != ours.id).collect();
    if !others.is_empty() {
        let running: i32 = others.iter().map(|d| d.running).sum();
        line.push_str(&format!(" | {} other deployment(s) draining ({running} running)", others.len()));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::testkit::{NEW, OLD, dep, snap};

    #[test]
    fn progress_names_counts_state_and_draining() {
        let mut ours = dep("n", "PRIMARY", NEW, Rollout::InProgress, 1, 2);
        ours.failed = 1;
        let old = dep("o", "ACTIVE", OLD, Rollout::Completed, 2, 2);
        assert_eq!(
            progress_line(&snap(NEW, vec![ours, old]), NEW),
            "rdeploy-dev-app:5: running 1/2 pending 1 | rollout IN_PROGRESS | failed tasks 1 | 1 other deployment(s) \
             draining (2 running)"
        );
    }

    #[test]
    fn snapshot_from_the_sdk_service_type() {
        use aws_sdk_ecs::primitives::DateTime;
        use aws_sdk_ecs::types::{Deployment, ServiceEvent};
        let service = Service::builder()
            .status("ACTIVE")
            .task_definition(NEW)
            .desired_count(2)
            .deployments(
                Deployment::builder()
                    .id("ecs-svc/1")
                    .status("PRIMARY")
                    .task_definition(NEW)
                    .rollout_state(DeploymentRolloutState::InProgress)
                    .rollout_state_reason("in progress")
                    .desired_count(2)
                    .running_count(1)
                    .pending_count(1)
                    .failed_tasks(1)
                    .build(),
            )
            .events(
                ServiceEvent::builder()
                    .id("e1")
                    .message("has started 1 tasks")
                    .created_at(DateTime::from_secs(0))
                    .build(),
            )
            .build();
        let s = ServiceSnapshot::from_service(&service);
        assert_eq!((s.task_definition.as_str(), s.desired), (NEW, 2));
        let d = s.primary().unwrap();
        assert_eq!((d.rollout, d.running, d.desired, d.pending, d.failed), (Rollout::InProgress, 1, 2, 1, 1));
        assert_eq!(
            s.events[0],
            EventView {
                id: "e1".into(),
                at: "1970-01-01T00:00:00Z".into(),
                epoch: 0.0,
                message: "has started 1 tasks".into()
            }
        );
    }
}
