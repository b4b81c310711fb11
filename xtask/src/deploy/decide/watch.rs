//! What each poll of a rollout (or a rollback) means: [`Watch::observe`].

use std::collections::HashSet;
use std::time::Duration;

use super::service::{EventView, Rollout, ServiceSnapshot, progress_line, short};

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
pub struct WatchTarget {
    pub revision: String,
    /// What served before (the rollback target); None when there is nothing to go back to.
    pub previous: Option<String>,
    pub phase: Phase,
    /// Event ids that existed before this watch's update: never evidence about it.
    pub old_events: HashSet<String>,
    /// A forced new deployment of the revision already serving (`deploy --force`): the ids of
    /// the deployments that existed before it. The verdict is then keyed on OUR deployment (the
    /// first PRIMARY with another id), since the revision alone cannot tell it from the old one.
    pub replaces: Option<HashSet<String>>,
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
    /// Ctrl-C or SIGTERM (from the session's clock, never from [`Watch::observe`]).
    Interrupted {
        signal: crate::ops::interrupt::Signal,
    },
}

/// A watch in progress: the target, its deadline, and what the polls have shown so far.
#[derive(Debug, Clone)]
pub struct Watch {
    pub target: WatchTarget,
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
    /// A forced deployment's id, once seen (see [`WatchTarget::replaces`]).
    ours: Option<String>,
}

impl Watch {
    pub fn new(target: WatchTarget, poll_interval: Duration, deadline: Duration) -> Self {
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
            ours: None,
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
        if let Some(old_ids) = &t.replaces {
            if self.ours.is_none() && !old_ids.contains(&primary.id) {
                self.ours = Some(primary.id.clone());
            }
            match self.ours.as_deref() {
                None if self.polls < NOT_SEEN_GRACE_POLLS && !timed_out => {
                    return wait(format!("waiting for ECS to show the new deployment of {new}"));
                }
                None => {
                    return Decision::Unobserved {
                        reason: format!(
                            "ECS never showed the new deployment of {new}: after {} polls the PRIMARY deployment is still the earlier one ({})",
                            self.polls, primary.id
                        ),
                    };
                }
                Some(id) if id != primary.id => {
                    // Another deployment took PRIMARY: ECS's rollback when ours FAILED, else someone else's.
                    let failed = s.deployments.iter().find(|d| d.id == id && d.rollout == Rollout::Failed);
                    return match failed {
                        Some(d) => Decision::Failed {
                            reason: format!(
                                "the new deployment {id} of {new} FAILED and ECS rolled it back: {}",
                                if d.rollout_reason.is_empty() { "no reason given" } else { &d.rollout_reason }
                            ),
                            ecs_rolled_back: true,
                        },
                        None => Decision::Interfered {
                            reason: format!(
                                "another deployment ({}) replaced the new deployment {id} of {new} while it rolled out",
                                primary.id
                            ),
                        },
                    };
                }
                Some(_) => {}
            }
        }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::testkit::{NEW, OLD, OTHER, dep, snap};

    fn event(id: &str, message: &str) -> EventView {
        EventView { id: id.into(), at: String::new(), epoch: 0.0, message: message.into() }
    }

    fn watch(phase: Phase) -> Watch {
        let target = WatchTarget {
            revision: NEW.into(),
            previous: Some(OLD.into()),
            phase,
            old_events: HashSet::new(),
            replaces: None,
        };
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
        let target = WatchTarget {
            revision: OLD.into(),
            previous: Some(NEW.into()),
            phase: Phase::Rollback,
            old_events: HashSet::new(),
            replaces: None,
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
}
