//! The rollout state machine: a pure function from one DescribeServices answer (plus what the
//! watch has seen so far) to a decision. Everything that decides success or failure is here, and
//! only here, so each rule has a unit test with no I/O.

use std::time::Duration;

use aws_sdk_ecs::primitives::DateTimeFormat;
use aws_sdk_ecs::types::{DeploymentRolloutState, Service};

/// A failed task count the new deployment may reach before we call it failed without waiting
/// for the circuit breaker (which needs at least 3, often many more). Two failures of a fresh
/// revision are a crash loop or a bad image, not a blip, and detecting them early is the point.
pub const FAILED_TASKS_LIMIT: i32 = 2;

/// Polls to wait for our deployment to show up in DescribeServices (eventual consistency) before
/// concluding that ECS has already dropped it.
pub const NOT_SEEN_GRACE_POLLS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    InProgress,
    Completed,
    Failed,
    /// No rolloutState (e.g. not the ECS deployment controller): never counts as completed.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventView {
    pub id: String,
    pub at: String,
    pub message: String,
}

/// What the engine needs from one DescribeServices answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSnapshot {
    pub status: String,
    /// The service-level task definition (what UpdateService set last).
    pub task_definition: String,
    pub deployments: Vec<DeploymentView>,
    /// Newest first, as ECS returns them.
    pub events: Vec<EventView>,
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
                message: e.message().unwrap_or_default().to_owned(),
            })
            .collect();
        Self {
            status: service.status().unwrap_or_default().to_owned(),
            task_definition: service.task_definition().unwrap_or_default().to_owned(),
            deployments,
            events,
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
}

/// What the watch is waiting for: `revision` serving alone, coming from `previous`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub revision: String,
    pub previous: String,
}

/// What the watch has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchHistory {
    pub polls: u32,
    /// Our deployment appeared in some earlier (or this) answer.
    pub seen_target: bool,
    pub elapsed: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Wait {
        progress: String,
    },
    Succeeded,
    /// The rollout failed. `ecs_rolled_back`: ECS has already put the previous revision back as
    /// PRIMARY (circuit breaker), so we must not issue our own rollback, only watch it.
    Failed {
        reason: String,
        ecs_rolled_back: bool,
    },
    /// Someone else deployed a third revision meanwhile: never roll back over it.
    Superseded {
        by: String,
    },
    TimedOut {
        progress: String,
    },
}

/// `family:revision` of an ARN, for messages.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

pub fn decide(snapshot: &ServiceSnapshot, target: &Target, history: &WatchHistory) -> Decision {
    let ours = snapshot.deployment_of(&target.revision);
    let progress = progress_line(snapshot, target);
    let timed_out = history.elapsed >= history.timeout;
    let (new, old) = (short(&target.revision), short(&target.previous));

    let Some(primary) = snapshot.primary() else {
        return if timed_out { Decision::TimedOut { progress } } else { Decision::Wait { progress } };
    };

    if primary.task_definition != target.revision {
        if primary.task_definition != target.previous {
            return Decision::Superseded { by: primary.task_definition.clone() };
        }
        // The previous revision is PRIMARY again: ECS rolled back (circuit breaker), unless our
        // deployment simply has not shown up yet.
        if let Some(d) = ours.filter(|d| d.rollout == Rollout::Failed) {
            let why = if d.rollout_reason.is_empty() { String::new() } else { format!(": {}", d.rollout_reason) };
            return Decision::Failed {
                reason: format!("the deployment of {new} FAILED and ECS rolled the service back to {old}{why}"),
                ecs_rolled_back: true,
            };
        }
        if history.seen_target || ours.is_some() {
            return Decision::Failed {
                reason: format!(
                    "ECS rolled the service back to {old} (deployment circuit breaker); {new} never completed"
                ),
                ecs_rolled_back: true,
            };
        }
        if history.polls < NOT_SEEN_GRACE_POLLS && !timed_out {
            return Decision::Wait { progress: format!("waiting for the deployment of {new} to appear") };
        }
        return Decision::Failed {
            reason: format!("ECS never showed a deployment of {new}; the service is still on {old}"),
            ecs_rolled_back: true,
        };
    }

    // Our revision is PRIMARY.
    if primary.rollout == Rollout::Failed {
        let why =
            if primary.rollout_reason.is_empty() { "no reason given".into() } else { primary.rollout_reason.clone() };
        return Decision::Failed { reason: format!("the rollout of {new} FAILED: {why}"), ecs_rolled_back: false };
    }
    if primary.failed >= FAILED_TASKS_LIMIT {
        return Decision::Failed {
            reason: format!(
                "{} tasks of {new} failed to start or stay healthy (failedTasks rose from 0 to {}; the limit is {})",
                primary.failed, primary.failed, FAILED_TASKS_LIMIT
            ),
            ecs_rolled_back: false,
        };
    }
    if primary.rollout == Rollout::Completed && primary.running == primary.desired && snapshot.deployments.len() == 1 {
        return Decision::Succeeded;
    }
    if timed_out {
        return Decision::TimedOut { progress };
    }
    Decision::Wait { progress }
}

/// `running 1/2 pending 1 | rollout IN_PROGRESS | 1 older deployment draining (3 running)`.
pub fn progress_line(snapshot: &ServiceSnapshot, target: &Target) -> String {
    let new = short(&target.revision);
    let Some(ours) = snapshot.deployment_of(&target.revision) else {
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
pub(crate) mod tests {
    use super::*;

    pub const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:4";
    pub const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:5";
    pub const OTHER: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:6";

    pub fn dep(id: &str, status: &str, td: &str, rollout: Rollout, running: i32, desired: i32) -> DeploymentView {
        DeploymentView {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            rollout,
            rollout_reason: String::new(),
            desired,
            running,
            pending: desired - running,
            failed: 0,
        }
    }

    fn snap(deployments: Vec<DeploymentView>) -> ServiceSnapshot {
        ServiceSnapshot { status: "ACTIVE".into(), task_definition: NEW.into(), deployments, events: vec![] }
    }

    fn target() -> Target {
        Target { revision: NEW.into(), previous: OLD.into() }
    }

    fn hist(polls: u32, seen: bool, elapsed_s: u64) -> WatchHistory {
        WatchHistory {
            polls,
            seen_target: seen,
            elapsed: Duration::from_secs(elapsed_s),
            timeout: Duration::from_secs(900),
        }
    }

    #[test]
    fn succeeds_only_when_completed_all_running_and_alone() {
        let done = dep("n", "PRIMARY", NEW, Rollout::Completed, 2, 2);
        assert_eq!(decide(&snap(vec![done.clone()]), &target(), &hist(5, true, 60)), Decision::Succeeded);

        // COMPLETED but the old deployment is still draining: not yet.
        let old = dep("o", "ACTIVE", OLD, Rollout::Completed, 1, 0);
        assert!(matches!(decide(&snap(vec![done.clone(), old]), &target(), &hist(5, true, 60)), Decision::Wait { .. }));
        // COMPLETED but not every task runs (a task was replaced meanwhile).
        let short_of = dep("n", "PRIMARY", NEW, Rollout::Completed, 1, 2);
        assert!(matches!(decide(&snap(vec![short_of]), &target(), &hist(5, true, 60)), Decision::Wait { .. }));
        // All running, alone, but rolloutState still IN_PROGRESS: ECS has not declared it steady.
        let steady_not_declared = dep("n", "PRIMARY", NEW, Rollout::InProgress, 2, 2);
        assert!(matches!(
            decide(&snap(vec![steady_not_declared]), &target(), &hist(5, true, 60)),
            Decision::Wait { .. }
        ));
        // No rolloutState at all (other deployment controllers): never success.
        let unknown = dep("n", "PRIMARY", NEW, Rollout::Unknown, 2, 2);
        assert!(matches!(decide(&snap(vec![unknown]), &target(), &hist(5, true, 60)), Decision::Wait { .. }));
    }

    #[test]
    fn a_completed_old_revision_is_not_our_success() {
        // The classic false "stable": the service is steady, but on the previous revision.
        let old = dep("o", "PRIMARY", OLD, Rollout::Completed, 2, 2);
        let d = decide(&snap(vec![old]), &target(), &hist(4, true, 60));
        assert!(matches!(d, Decision::Failed { ecs_rolled_back: true, .. }), "{d:?}");
    }

    #[test]
    fn rollout_failed_on_our_primary_means_we_roll_back() {
        let mut ours = dep("n", "PRIMARY", NEW, Rollout::Failed, 0, 2);
        ours.rollout_reason = "ECS deployment circuit breaker: tasks failed to start.".into();
        let d =
            decide(&snap(vec![ours, dep("o", "ACTIVE", OLD, Rollout::Completed, 2, 2)]), &target(), &hist(3, true, 30));
        match d {
            Decision::Failed { reason, ecs_rolled_back } => {
                assert!(!ecs_rolled_back);
                assert!(reason.contains("FAILED") && reason.contains("circuit breaker"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn circuit_breaker_rollback_is_a_failure_never_success() {
        let mut ours = dep("n", "ACTIVE", NEW, Rollout::Failed, 0, 0);
        ours.rollout_reason = "tasks failed to start".into();
        let rollback = dep("r", "PRIMARY", OLD, Rollout::InProgress, 1, 2);
        let d = decide(&snap(vec![rollback.clone(), ours]), &target(), &hist(3, true, 30));
        assert!(
            matches!(&d, Decision::Failed { ecs_rolled_back: true, reason } if reason.contains("rolled the service back"))
        );
        // Later, our deployment is gone and the old revision is steady: still a failure.
        let steady = dep("r", "PRIMARY", OLD, Rollout::Completed, 2, 2);
        let d = decide(&snap(vec![steady]), &target(), &hist(9, true, 90));
        assert!(matches!(d, Decision::Failed { ecs_rolled_back: true, .. }));
    }

    #[test]
    fn rising_failed_tasks_fail_fast() {
        let mut ours = dep("n", "PRIMARY", NEW, Rollout::InProgress, 0, 2);
        ours.failed = 1;
        let old = dep("o", "ACTIVE", OLD, Rollout::Completed, 2, 2);
        assert!(matches!(
            decide(&snap(vec![ours.clone(), old.clone()]), &target(), &hist(2, true, 20)),
            Decision::Wait { .. }
        ));
        ours.failed = FAILED_TASKS_LIMIT;
        let d = decide(&snap(vec![ours, old]), &target(), &hist(3, true, 30));
        assert!(matches!(&d, Decision::Failed { ecs_rolled_back: false, reason } if reason.contains("failedTasks")));
    }

    #[test]
    fn timeout_only_while_not_done() {
        let slow = dep("n", "PRIMARY", NEW, Rollout::InProgress, 1, 2);
        assert!(matches!(decide(&snap(vec![slow]), &target(), &hist(90, true, 900)), Decision::TimedOut { .. }));
        // Success observed at the deadline still counts.
        let done = dep("n", "PRIMARY", NEW, Rollout::Completed, 2, 2);
        assert_eq!(decide(&snap(vec![done]), &target(), &hist(90, true, 900)), Decision::Succeeded);
    }

    #[test]
    fn a_third_revision_is_superseded_not_rolled_back() {
        let other = dep("x", "PRIMARY", OTHER, Rollout::InProgress, 0, 2);
        assert_eq!(
            decide(&snap(vec![other]), &target(), &hist(3, true, 30)),
            Decision::Superseded { by: OTHER.into() }
        );
    }

    #[test]
    fn our_deployment_gets_a_grace_period_to_appear() {
        let old = dep("o", "PRIMARY", OLD, Rollout::Completed, 2, 2);
        assert!(matches!(decide(&snap(vec![old.clone()]), &target(), &hist(1, false, 10)), Decision::Wait { .. }));
        let d = decide(&snap(vec![old]), &target(), &hist(NOT_SEEN_GRACE_POLLS, false, 30));
        assert!(matches!(&d, Decision::Failed { ecs_rolled_back: true, reason } if reason.contains("never showed")));
    }

    #[test]
    fn progress_names_counts_state_and_draining() {
        let mut ours = dep("n", "PRIMARY", NEW, Rollout::InProgress, 1, 2);
        ours.failed = 1;
        let old = dep("o", "ACTIVE", OLD, Rollout::Completed, 2, 2);
        let line = progress_line(&snap(vec![ours, old]), &target());
        assert_eq!(
            line,
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
        assert_eq!(s.task_definition, NEW);
        let d = s.primary().unwrap();
        assert_eq!((d.rollout, d.running, d.desired, d.pending, d.failed), (Rollout::InProgress, 1, 2, 1, 1));
        assert_eq!(
            s.events[0],
            EventView { id: "e1".into(), at: "1970-01-01T00:00:00Z".into(), message: "has started 1 tasks".into() }
        );
    }
}
