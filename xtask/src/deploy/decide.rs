//! Every verdict of a deploy is made here, in pure functions with no I/O: whether to start at
//! all ([`before_deploy`]), whether an UpdateService whose answer was lost took effect
//! ([`update_took_effect`]), and what each poll of a rollout means ([`Watch::observe`]). The
//! engine only performs the calls these functions ask for and prints what they say. The verdicts
//! on the one-off migration task (succeeded, failed, never started, timed out) are in the pure
//! sibling `decide_task.rs`.
//!
//! The rules, and the evidence each needs:
//! - success: our revision is PRIMARY, rolloutState COMPLETED, running == desired > 0, alone;
//! - failure (seen): our PRIMARY is FAILED, or its failedTasks reach [`FAILED_TASKS_LIMIT`], or
//!   "unable to place a task" events continue for [`PLACEMENT_POLLS`] polls without a new task
//!   of ours running (failedTasks stays 0 then, so the circuit breaker never fires);
//! - ECS rolled back: the previous revision is PRIMARY again AND ECS says so (our deployment is
//!   FAILED, or an event since our update reports a failed deployment / a rollback);
//! - lag: until DescribeServices shows our update (service taskDefinition or PRIMARY), an answer
//!   that still shows the old state is stale: waited out for [`NOT_SEEN_GRACE_POLLS`] polls;
//! - someone else: another revision took over, or the service went back to the previous one with
//!   no failure reported by ECS within [`EVIDENCE_GRACE_POLLS`] polls, or it was scaled to zero,
//!   or deleted: never rolled back or forward over, a person must look;
//! - unobserved: DescribeServices fails past the deadline (retried with backoff meanwhile), fails
//!   with an error a retry cannot fix, or ECS never shows the update: the outcome is unknown, so
//!   nothing is rolled back.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_ecs::primitives::DateTimeFormat;
use aws_sdk_ecs::types::{DeploymentRolloutState, Service};

/// A failed task count the new deployment may reach before we call it failed without waiting
/// for the circuit breaker (which needs at least 3, often many more). Two failures of a fresh
/// revision are a crash loop or a bad image, not a blip, and detecting them early is the point.
pub const FAILED_TASKS_LIMIT: i32 = 2;

/// Polls to wait for our UpdateService to show in DescribeServices (eventual consistency) before
/// concluding that ECS never took it.
pub const NOT_SEEN_GRACE_POLLS: u32 = 3;

/// Polls to wait, once the service is back on the previous revision, for the ECS event or
/// rollout state that says why (events can arrive late and out of order).
pub const EVIDENCE_GRACE_POLLS: u32 = 2;

/// Polls after the first "unable to place a task" event, with no new task of ours running, before
/// the rollout counts as failed.
pub const PLACEMENT_POLLS: u32 = 3;

/// The longest wait between DescribeServices retries after API errors.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Service event texts that are ECS reporting a failed deployment or its own rollback.
const ROLLBACK_EVENTS: [&str; 3] = ["deployment failed", "rolling back", "circuit breaker"];
/// Service event text of a task ECS cannot place (capacity, quota, constraints, ENIs, ...).
const PLACEMENT_EVENT: &str = "unable to place a task";

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

/// What the engine needs from one DescribeServices answer.
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
    fn settled_on(&self, revision: &str) -> bool {
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

/// What to do, decided from the service as found and whether the new registration would equal
/// the serving one (the image already serves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Exit 2, nothing changed.
    Refuse(String),
    /// The same configuration serves, settled: exit 0.
    NothingToDo,
    /// The same configuration is what the service runs, but it is not settled (still rolling out,
    /// crash-looping, short of tasks): watch it like any rollout. `previous` is the other
    /// revision still in the service, if any (the rollback target).
    WatchExisting { previous: Option<String> },
    /// Register and roll out.
    Deploy,
}

/// `watching`: the deploy will watch the rollout (not --no-wait, not the emulator).
pub fn before_deploy(s: &ServiceSnapshot, same_registration: bool, watching: bool, service: &str) -> Start {
    if s.status != "ACTIVE" {
        return Start::Refuse(format!("ECS service '{service}' is {}, not ACTIVE", s.status));
    }
    if let Some(kind) = s.controller.as_deref().filter(|k| *k != "ECS") {
        return Start::Refuse(format!(
            "ECS service '{service}' uses the {kind} deployment controller; deploy drives rolling (ECS) deployments only"
        ));
    }
    if s.task_definition.is_empty() {
        return Start::Refuse(format!("ECS service '{service}' has no task definition"));
    }
    let rev = short(&s.task_definition);
    if watching && s.desired == 0 {
        return Start::Refuse(format!(
            "ECS service '{service}' is scaled to zero (desiredCount 0): nothing would run {}, so deploy could not \
             show that it serves. Scale the service up first, or pass --no-wait to only register the revision and \
             point the service at it (nothing serves it until the service is scaled up)",
            if same_registration { rev.to_owned() } else { "the new revision".to_owned() }
        ));
    }
    if same_registration {
        if !watching || s.settled_on(&s.task_definition) {
            return Start::NothingToDo;
        }
        let previous =
            s.deployments.iter().find(|d| d.task_definition != s.task_definition).map(|d| d.task_definition.clone());
        return Start::WatchExisting { previous };
    }
    if watching && s.deployments.len() > 1 {
        return Start::Refuse(format!(
            "ECS service '{service}' already has a deployment in progress ({} deployments): wait for it to finish, \
             then run deploy again",
            s.deployments.len()
        ));
    }
    Start::Deploy
}

/// After an UpdateService whose answer was lost (timeout, 5xx): did it take effect?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateCheck {
    /// The service points at the revision.
    Applied,
    /// Still on `from`: not (yet) applied.
    NotApplied,
    /// A third revision: someone else changed the service.
    Other(String),
}

pub fn update_took_effect(s: &ServiceSnapshot, revision: &str, from: &str) -> UpdateCheck {
    if s.task_definition == revision || s.primary().is_some_and(|p| p.task_definition == revision) {
        UpdateCheck::Applied
    } else if s.task_definition == from {
        UpdateCheck::NotApplied
    } else {
        UpdateCheck::Other(s.task_definition.clone())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Our UpdateService to a new revision.
    Rollout,
    /// Our UpdateService back to the previous revision, or ECS's own rollback.
    Rollback,
    /// A deployment that was already in the service (the image already serves, not settled).
    Existing,
}

/// What a watch waits for: `revision` serving alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub revision: String,
    /// What served before (the rollback target); None when there is nothing to go back to.
    pub previous: Option<String>,
    pub phase: Phase,
    /// Event ids that existed before this watch's update: never evidence about it.
    pub old_events: HashSet<String>,
}

/// One DescribeServices attempt.
#[derive(Debug, Clone)]
pub enum Observation {
    Service(ServiceSnapshot),
    /// DescribeServices answered, in `failures`: the service is gone.
    Missing(String),
    /// The call failed. `transient`: a retry may succeed (timeouts, 5xx, throttling).
    Error {
        transient: bool,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Wait {
        progress: String,
        delay: Duration,
    },
    Succeeded,
    /// The rollout failed, seen. `ecs_rolled_back`: ECS has already put the previous revision
    /// back as PRIMARY (circuit breaker), so we must not issue our own rollback, only watch it.
    Failed {
        reason: String,
        ecs_rolled_back: bool,
    },
    TimedOut {
        progress: String,
    },
    /// Someone else changed the service meanwhile: never roll back or forward over it.
    Interfered {
        reason: String,
    },
    /// The rollout could not be observed: its outcome is unknown, so nothing is rolled back.
    Unobserved {
        reason: String,
    },
}

/// A watch in progress: the target, its deadline, and what the polls have shown so far.
#[derive(Debug, Clone)]
pub struct Watch {
    pub target: Target,
    poll_interval: Duration,
    /// Relative to the start of the watch.
    deadline: Duration,
    /// Successful DescribeServices answers.
    pub polls: u32,
    /// Consecutive failed DescribeServices calls.
    errors: u32,
    /// Our update has shown in some answer (service taskDefinition or PRIMARY).
    visible: bool,
    /// Events since the update, by id (they may arrive late and out of order).
    news: Vec<EventView>,
    /// First poll of the current run of placement failures, our running count then, the event.
    placement: Option<(u32, i32, String)>,
    /// First poll at which the service was back on the previous revision after our update showed.
    reverted_at: Option<u32>,
    /// The last answer, for reports.
    pub last: Option<ServiceSnapshot>,
}

impl Watch {
    pub fn new(target: Target, poll_interval: Duration, deadline: Duration) -> Self {
        // Watching a deployment that already exists: there is no update to wait for.
        let visible = target.phase == Phase::Existing;
        Self {
            target,
            poll_interval,
            deadline,
            polls: 0,
            errors: 0,
            visible,
            news: Vec::new(),
            placement: None,
            reverted_at: None,
            last: None,
        }
    }

    /// The verdict after one DescribeServices attempt, `elapsed` after the watch began.
    pub fn observe(&mut self, observation: &Observation, elapsed: Duration) -> Decision {
        let left = self.deadline.saturating_sub(elapsed);
        let new = short(&self.target.revision).to_owned();
        match observation {
            Observation::Error { transient, message } => {
                self.errors += 1;
                let seen = match &self.last {
                    Some(s) => format!("last seen: {}", progress_line(s, &self.target.revision)),
                    None => "nothing seen yet".into(),
                };
                if !transient {
                    return Decision::Unobserved {
                        reason: format!("cannot read the service, and retrying will not help ({seen}): {message}"),
                    };
                }
                if left.is_zero() {
                    return Decision::Unobserved {
                        reason: format!(
                            "DescribeServices failed {} time(s) in a row up to the deadline ({seen}): {message}",
                            self.errors
                        ),
                    };
                }
                let backoff = self.poll_interval.saturating_mul(1 << (self.errors - 1).min(6)).min(MAX_BACKOFF);
                let delay = backoff.min(left).max(Duration::from_millis(1));
                Decision::Wait {
                    progress: format!(
                        "DescribeServices failed ({} in a row); retrying in {}s",
                        self.errors,
                        delay.as_secs()
                    ),
                    delay,
                }
            }
            Observation::Missing(reason) => Decision::Interfered {
                reason: format!("the service disappeared while {new} rolled out (DescribeServices: {reason})"),
            },
            Observation::Service(s) => {
                self.errors = 0;
                self.polls += 1;
                self.last = Some(s.clone());
                let decision = self.decide(s, left.is_zero());
                match decision {
                    Decision::Wait { progress, .. } => {
                        Decision::Wait { progress, delay: self.poll_interval.min(left).max(Duration::from_millis(1)) }
                    }
                    other => other,
                }
            }
        }
    }

    fn decide(&mut self, s: &ServiceSnapshot, timed_out: bool) -> Decision {
        let t = &self.target;
        let rev = t.revision.as_str();
        let new = short(rev);
        let old = t.previous.as_deref().map_or("(none)", short);
        for e in &s.events {
            if !t.old_events.contains(&e.id) && !self.news.iter().any(|n| n.id == e.id) {
                self.news.push(e.clone());
            }
        }
        let progress = progress_line(s, rev);
        let wait = |progress: String| Decision::Wait { progress, delay: Duration::ZERO };
        let primary = s.primary();
        self.visible |= s.task_definition == rev || primary.is_some_and(|p| p.task_definition == rev);

        if s.desired == 0 {
            return Decision::Interfered {
                reason: format!(
                    "the service was scaled to zero (desiredCount 0) while {new} rolled out: nothing serves it"
                ),
            };
        }
        let Some(primary) = primary else {
            return if timed_out { Decision::TimedOut { progress } } else { wait(progress) };
        };

        if primary.task_definition == rev {
            self.reverted_at = None;
            if primary.rollout == Rollout::Failed {
                let why = if primary.rollout_reason.is_empty() { "no reason given" } else { &primary.rollout_reason };
                return Decision::Failed {
                    reason: format!("the rollout of {new} FAILED: {why}"),
                    ecs_rolled_back: false,
                };
            }
            if primary.failed >= FAILED_TASKS_LIMIT {
                return Decision::Failed {
                    reason: format!(
                        "{} tasks of {new} failed to start or stay healthy (failedTasks rose from 0 to {}; the limit is \
                         {FAILED_TASKS_LIMIT})",
                        primary.failed, primary.failed
                    ),
                    ecs_rolled_back: false,
                };
            }
            if s.settled_on(rev) {
                return Decision::Succeeded;
            }
            if let Some(event) =
                self.news.iter().rev().find(|e| e.message.to_ascii_lowercase().contains(PLACEMENT_EVENT))
            {
                let (first, running) = match &self.placement {
                    Some((first, running, _)) if primary.running <= *running => (*first, *running),
                    _ => (self.polls, primary.running),
                };
                self.placement = Some((first, running, event.message.clone()));
                if self.polls - first >= PLACEMENT_POLLS {
                    return Decision::Failed {
                        reason: format!(
                            "ECS cannot place tasks of {new} ({} polls since the first placement failure, no new task \
                             running; failedTasks stays 0 so the circuit breaker would not stop it): \"{}\"",
                            self.polls - first,
                            event.message
                        ),
                        ecs_rolled_back: false,
                    };
                }
            }
            return if timed_out { Decision::TimedOut { progress } } else { wait(progress) };
        }

        if t.previous.as_deref() == Some(primary.task_definition.as_str()) {
            // The service is on the previous revision. Which of: our update not visible yet (lag),
            // ECS rolled back (it says so), or someone else put it back (nobody says why)?
            let ours = s.deployment_of(rev).filter(|d| d.rollout == Rollout::Failed);
            let said = self.news.iter().find(|e| {
                let m = e.message.to_ascii_lowercase();
                ROLLBACK_EVENTS.iter().any(|p| m.contains(p))
            });
            if t.phase != Phase::Rollback && (ours.is_some() || said.is_some()) {
                let why = match (ours, said) {
                    (Some(d), _) if !d.rollout_reason.is_empty() => format!(": {}", d.rollout_reason),
                    (_, Some(e)) => format!("; ECS: \"{}\"", e.message),
                    _ => String::new(),
                };
                return Decision::Failed {
                    reason: format!("the deployment of {new} FAILED and ECS rolled the service back to {old}{why}"),
                    ecs_rolled_back: true,
                };
            }
            if !self.visible {
                if self.polls < NOT_SEEN_GRACE_POLLS && !timed_out {
                    return wait(format!(
                        "waiting for ECS to show the update to {new} (the service still reads {old})"
                    ));
                }
                return Decision::Unobserved {
                    reason: format!(
                        "ECS never showed the update to {new}: after {} polls the service still points at {} with its \
                         earlier deployment, and no event mentions a new one. UpdateService was accepted; whether it \
                         takes effect is unknown",
                        self.polls,
                        short(&s.task_definition)
                    ),
                };
            }
            let since = *self.reverted_at.get_or_insert(self.polls);
            if self.polls - since < EVIDENCE_GRACE_POLLS && !timed_out {
                return wait(format!("the service is back on {old}; waiting for the ECS events that say why"));
            }
            return Decision::Interfered {
                reason: format!(
                    "the service was pointed back at {old} while {new} rolled out, and ECS reported no failure of {new} \
                     (no FAILED rollout, no failure or rollback event): someone else changed it (a person, Terraform, \
                     another pipeline; CloudTrail's UpdateService events name who)"
                ),
            };
        }

        Decision::Interfered {
            reason: format!(
                "another revision, {}, took over the service while {new} rolled out (service taskDefinition {})",
                short(&primary.task_definition),
                short(&s.task_definition)
            ),
        }
    }
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

    fn snap(td: &str, deployments: Vec<DeploymentView>) -> ServiceSnapshot {
        ServiceSnapshot {
            status: "ACTIVE".into(),
            task_definition: td.into(),
            desired: 2,
            controller: Some("ECS".into()),
            deployments,
            events: vec![],
        }
    }

    fn event(id: &str, message: &str) -> EventView {
        EventView { id: id.into(), at: String::new(), epoch: 0.0, message: message.into() }
    }

    fn watch(phase: Phase) -> Watch {
        let target = Target { revision: NEW.into(), previous: Some(OLD.into()), phase, old_events: HashSet::new() };
        Watch::new(target, Duration::from_secs(10), Duration::from_secs(900))
    }

    fn see(w: &mut Watch, s: ServiceSnapshot, elapsed: u64) -> Decision {
        w.observe(&Observation::Service(s), Duration::from_secs(elapsed))
    }

    fn is_wait(d: &Decision) -> bool {
        matches!(d, Decision::Wait { .. })
    }

    #[test]
    fn succeeds_only_when_completed_all_running_and_alone() {
        let done = dep("n", "PRIMARY", NEW, Rollout::Completed, 2, 2);
        assert_eq!(see(&mut watch(Phase::Rollout), snap(NEW, vec![done.clone()]), 60), Decision::Succeeded);
        let old = dep("o", "ACTIVE", OLD, Rollout::Completed, 1, 0);
        for not_yet in [
            vec![done.clone(), old],
            vec![dep("n", "PRIMARY", NEW, Rollout::Completed, 1, 2)],
            vec![dep("n", "PRIMARY", NEW, Rollout::InProgress, 2, 2)],
            vec![dep("n", "PRIMARY", NEW, Rollout::Unknown, 2, 2)],
        ] {
            assert!(is_wait(&see(&mut watch(Phase::Rollout), snap(NEW, not_yet.clone()), 60)), "{not_yet:?}");
        }
    }

    #[test]
    fn zero_desired_is_never_success() {
        let mut s = snap(NEW, vec![dep("n", "PRIMARY", NEW, Rollout::Completed, 0, 0)]);
        s.desired = 0;
        assert!(
            matches!(see(&mut watch(Phase::Rollout), s, 60), Decision::Interfered { reason } if reason.contains("scaled to zero"))
        );
    }

    #[test]
    fn a_stale_answer_after_our_update_is_waited_out_then_unobserved() {
        let stale = || snap(OLD, vec![dep("o", "PRIMARY", OLD, Rollout::Completed, 2, 2)]);
        let mut w = watch(Phase::Rollout);
        for poll in 1..NOT_SEEN_GRACE_POLLS {
            assert!(is_wait(&see(&mut w, stale(), u64::from(poll) * 10)));
        }
        let d = see(&mut w, stale(), 30);
        assert!(matches!(&d, Decision::Unobserved { reason } if reason.contains("never showed")), "{d:?}");
    }

    #[test]
    fn the_rollback_watch_has_the_same_grace_for_lag() {
        // After our rollback UpdateService, the failed revision can still read as PRIMARY.
        let target = Target {
            revision: OLD.into(),
            previous: Some(NEW.into()),
            phase: Phase::Rollback,
            old_events: HashSet::new(),
        };
        let mut w = Watch::new(target, Duration::from_secs(10), Duration::from_secs(600));
        let stale = snap(
            NEW,
            vec![
                dep("n", "PRIMARY", NEW, Rollout::InProgress, 0, 2),
                dep("o", "ACTIVE", OLD, Rollout::Completed, 2, 2),
            ],
        );
        assert!(is_wait(&see(&mut w, stale.clone(), 10)));
        assert!(is_wait(&see(&mut w, stale, 20)));
        let back = snap(OLD, vec![dep("b", "PRIMARY", OLD, Rollout::Completed, 2, 2)]);
        assert_eq!(see(&mut w, back, 30), Decision::Succeeded);
    }

    #[test]
    fn ecs_rollback_needs_ecs_to_say_so() {
        let back = || snap(OLD, vec![dep("o", "PRIMARY", OLD, Rollout::Completed, 2, 2)]);
        let ours = snap(
            NEW,
            vec![
                dep("n", "PRIMARY", NEW, Rollout::InProgress, 0, 2),
                dep("o", "ACTIVE", OLD, Rollout::Completed, 2, 2),
            ],
        );
        // Said by an event (even one that arrives a poll late): the circuit breaker.
        let mut w = watch(Phase::Rollout);
        assert!(is_wait(&see(&mut w, ours.clone(), 10)));
        assert!(is_wait(&see(&mut w, back(), 20)));
        let mut said = back();
        said.events = vec![event("e", "(service x) rolling back to deployment ecs-svc/o.")];
        assert!(
            matches!(see(&mut w, said, 30), Decision::Failed { ecs_rolled_back: true, reason } if reason.contains("rolling back to deployment"))
        );
        // Nobody says why: someone else reverted it.
        let mut w = watch(Phase::Rollout);
        see(&mut w, ours, 10);
        assert!(is_wait(&see(&mut w, back(), 20)));
        assert!(is_wait(&see(&mut w, back(), 30)));
        let d = see(&mut w, back(), 40);
        assert!(matches!(&d, Decision::Interfered { reason } if reason.contains("someone else")), "{d:?}");
    }

    #[test]
    fn rollout_failed_on_our_primary_means_we_roll_back() {
        let mut ours = dep("n", "PRIMARY", NEW, Rollout::Failed, 0, 2);
        ours.rollout_reason = "ECS deployment circuit breaker: tasks failed to start.".into();
        let d = see(
            &mut watch(Phase::Rollout),
            snap(NEW, vec![ours, dep("o", "ACTIVE", OLD, Rollout::Completed, 2, 2)]),
            30,
        );
        assert!(
            matches!(&d, Decision::Failed { ecs_rolled_back: false, reason } if reason.contains("circuit breaker")),
            "{d:?}"
        );
    }

    #[test]
    fn rising_failed_tasks_fail_fast() {
        let mut ours = dep("n", "PRIMARY", NEW, Rollout::InProgress, 0, 2);
        ours.failed = 1;
        let old = dep("o", "ACTIVE", OLD, Rollout::Completed, 2, 2);
        let mut w = watch(Phase::Rollout);
        assert!(is_wait(&see(&mut w, snap(NEW, vec![ours.clone(), old.clone()]), 20)));
        ours.failed = FAILED_TASKS_LIMIT;
        assert!(
            matches!(see(&mut w, snap(NEW, vec![ours, old]), 30), Decision::Failed { ecs_rolled_back: false, reason } if reason.contains("failedTasks"))
        );
    }

    #[test]
    fn placement_failures_fail_after_a_bounded_number_of_polls_without_progress() {
        let mut s = snap(
            NEW,
            vec![
                dep("n", "PRIMARY", NEW, Rollout::InProgress, 0, 2),
                dep("o", "ACTIVE", OLD, Rollout::Completed, 2, 2),
            ],
        );
        let mut w = watch(Phase::Rollout);
        assert!(is_wait(&see(&mut w, s.clone(), 10)));
        s.events =
            vec![event("p", "(service x) was unable to place a task. Reason: Capacity is unavailable at this time.")];
        for poll in 0..PLACEMENT_POLLS {
            assert!(is_wait(&see(&mut w, s.clone(), 20 + u64::from(poll) * 10)), "poll {poll}");
        }
        let d = see(&mut w, s, 60);
        assert!(
            matches!(&d, Decision::Failed { ecs_rolled_back: false, reason } if reason.contains("Capacity is unavailable")),
            "{d:?}"
        );
    }

    #[test]
    fn api_errors_back_off_then_are_unobserved_at_the_deadline() {
        let mut w = watch(Phase::Rollout);
        let err = |transient| Observation::Error { transient, message: "throttled".into() };
        let delays: Vec<u64> = (1..=4)
            .map(|i| match w.observe(&err(true), Duration::from_secs(i * 10)) {
                Decision::Wait { delay, .. } => delay.as_secs(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, vec![10, 20, 40, 60]);
        assert!(matches!(w.observe(&err(true), Duration::from_secs(900)), Decision::Unobserved { .. }));
        assert!(matches!(
            watch(Phase::Rollout).observe(&err(false), Duration::from_secs(1)),
            Decision::Unobserved { .. }
        ));
    }

    #[test]
    fn timeout_only_while_not_done() {
        let slow = snap(NEW, vec![dep("n", "PRIMARY", NEW, Rollout::InProgress, 1, 2)]);
        assert!(matches!(see(&mut watch(Phase::Rollout), slow, 900), Decision::TimedOut { .. }));
        let done = snap(NEW, vec![dep("n", "PRIMARY", NEW, Rollout::Completed, 2, 2)]);
        assert_eq!(see(&mut watch(Phase::Rollout), done, 900), Decision::Succeeded);
    }

    #[test]
    fn a_third_revision_is_interference() {
        let other = snap(OTHER, vec![dep("x", "PRIMARY", OTHER, Rollout::InProgress, 0, 2)]);
        assert!(
            matches!(see(&mut watch(Phase::Rollout), other, 30), Decision::Interfered { reason } if reason.contains("rdeploy-dev-app:6"))
        );
    }

    #[test]
    fn before_deploy_rules() {
        let steady = snap(OLD, vec![dep("o", "PRIMARY", OLD, Rollout::Completed, 2, 2)]);
        assert_eq!(before_deploy(&steady, false, true, "s"), Start::Deploy);
        assert_eq!(before_deploy(&steady, true, true, "s"), Start::NothingToDo);
        let sick = snap(OLD, vec![dep("o", "PRIMARY", OLD, Rollout::InProgress, 0, 2)]);
        assert_eq!(before_deploy(&sick, true, true, "s"), Start::WatchExisting { previous: None });
        let rolling = snap(
            NEW,
            vec![
                dep("n", "PRIMARY", NEW, Rollout::InProgress, 1, 2),
                dep("o", "ACTIVE", OLD, Rollout::Completed, 1, 1),
            ],
        );
        assert_eq!(before_deploy(&rolling, true, true, "s"), Start::WatchExisting { previous: Some(OLD.into()) });
        assert!(matches!(before_deploy(&rolling, false, true, "s"), Start::Refuse(m) if m.contains("in progress")));
        let mut zero = steady.clone();
        zero.desired = 0;
        assert!(matches!(before_deploy(&zero, false, true, "s"), Start::Refuse(m) if m.contains("scaled to zero")));
        assert_eq!(before_deploy(&zero, false, false, "s"), Start::Deploy, "--no-wait may point a scaled-down service");
    }

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
