//! Every verdict on a one-off task (the migration task), pure like the rest of `decide/`: what a RunTask
//! answer means ([`launched`]) and what each DescribeTasks poll means ([`TaskWatch::observe`]).
//! `migration.rs` performs the calls these functions ask for and prints what they say.
//!
//! The rules, and the evidence each needs:
//! - succeeded: the task is STOPPED and the `app` container's exit code is 0;
//! - failed: STOPPED with a non-zero exit code of the `app` container (or it ran and has none);
//! - never started: RunTask answered with `failures` and no task, or the task stopped and the `app`
//!   container never ran (no exit code, and stopCode TaskFailedToStart or no startedAt; e.g.
//!   CannotPullContainerError, ResourceInitializationError);
//! - timed out: still not STOPPED at the deadline (the caller stops it);
//! - unobserved: DescribeTasks fails up to the deadline or with an error a retry cannot fix, or
//!   keeps answering MISSING: the outcome is unknown.

use std::time::Duration;

use aws_sdk_ecs::types::{Failure, Task, TaskStopCode};

use super::{MAX_BACKOFF, NOT_SEEN_GRACE_POLLS};

/// What a verdict needs from one described task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    pub arn: String,
    /// PROVISIONING, PENDING, RUNNING, DEPROVISIONING, STOPPED, ...
    pub last_status: String,
    pub stopped_reason: Option<String>,
    pub stop_code: Option<String>,
    pub started: bool,
    /// The named container's exit code and reason, when ECS reports them.
    pub exit_code: Option<i32>,
    pub container_reason: Option<String>,
}

impl TaskView {
    pub fn from_task(task: &Task, container: &str) -> Self {
        let app = task.containers().iter().find(|c| c.name() == Some(container));
        Self {
            arn: task.task_arn().unwrap_or_default().to_owned(),
            last_status: task.last_status().unwrap_or_default().to_owned(),
            stopped_reason: task.stopped_reason().map(str::to_owned),
            stop_code: task.stop_code().map(|c| c.as_str().to_owned()),
            started: task.started_at().is_some(),
            exit_code: app.and_then(|c| c.exit_code()),
            container_reason: app.and_then(|c| c.reason()).map(str::to_owned),
        }
    }

    /// The task id (the last part of its ARN), which is also the end of its awslogs stream name.
    pub fn id(&self) -> &str {
        task_id(&self.arn)
    }

    /// `stoppedReason: ... [stopCode]; container app exit 1 (reason)`: what ECS said, all of it.
    pub fn stopped_summary(&self, container: &str) -> String {
        let mut line = format!("stoppedReason: {}", self.stopped_reason.as_deref().unwrap_or("none given"));
        if let Some(code) = &self.stop_code {
            line.push_str(&format!(" [stopCode {code}]"));
        }
        let exit = self.exit_code.map_or_else(|| "none (it never ran)".to_owned(), |c| c.to_string());
        line.push_str(&format!("; container {container} exit code {exit}"));
        if let Some(reason) = &self.container_reason {
            line.push_str(&format!(" ({reason})"));
        }
        line
    }
}

/// The last part of a task ARN.
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// What a RunTask answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launched {
    Started { arn: String },
    NeverStarted { reason: String },
}

/// RunTask asks for one task: it started if the answer has one; otherwise `failures` say why.
pub fn launched(tasks: &[Task], failures: &[Failure]) -> Launched {
    if let Some(arn) = tasks.iter().find_map(|t| t.task_arn()) {
        return Launched::Started { arn: arn.to_owned() };
    }
    let reasons: Vec<String> = failures
        .iter()
        .map(|f| {
            let mut r = f.reason().unwrap_or("no reason given").to_owned();
            if let Some(detail) = f.detail() {
                r.push_str(&format!(" ({detail})"));
            }
            if let Some(arn) = f.arn() {
                r.push_str(&format!(" [{arn}]"));
            }
            r
        })
        .collect();
    Launched::NeverStarted {
        reason: if reasons.is_empty() {
            "RunTask returned no task and no failure".to_owned()
        } else {
            format!("RunTask failures: {}", reasons.join("; "))
        },
    }
}

/// One DescribeTasks attempt.
#[derive(Debug, Clone)]
pub enum TaskObservation {
    Task(TaskView),
    /// DescribeTasks answered the task in `failures` (MISSING): not visible yet, or gone.
    Missing(String),
    Error {
        transient: bool,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskVerdict {
    Wait {
        progress: String,
        delay: Duration,
    },
    Succeeded,
    /// The container ran and exited non-zero (or with no code): `exit_code` when known.
    Failed {
        exit_code: Option<i32>,
    },
    /// The container never ran.
    NeverStarted,
    /// Not stopped at the deadline: the caller must stop it.
    TimedOut {
        progress: String,
    },
    /// The outcome is unknown.
    Unobserved {
        reason: String,
    },
}

/// A watch on one task until it stops or the deadline passes.
#[derive(Debug, Clone)]
pub struct TaskWatch {
    poll_interval: Duration,
    deadline: Duration,
    errors: u32,
    missing: u32,
    /// The last description, for reports.
    pub last: Option<TaskView>,
}

impl TaskWatch {
    /// Watch a task, polling every `poll_interval`, for at most `deadline`.
    pub fn new(poll_interval: Duration, deadline: Duration) -> Self {
        Self { poll_interval, deadline, errors: 0, missing: 0, last: None }
    }

    /// The verdict after one DescribeTasks attempt, `elapsed` after the task was started.
    pub fn observe(&mut self, observation: &TaskObservation, elapsed: Duration) -> TaskVerdict {
        let left = self.deadline.saturating_sub(elapsed);
        let wait = |progress: String, delay: Duration| TaskVerdict::Wait { progress, delay: delay.min(left) };
        match observation {
            TaskObservation::Error { transient, message } => {
                self.errors += 1;
                if !transient {
                    return TaskVerdict::Unobserved {
                        reason: format!("DescribeTasks failed, and retrying will not help: {message}"),
                    };
                }
                if left.is_zero() {
                    return TaskVerdict::Unobserved {
                        reason: format!(
                            "DescribeTasks failed {} time(s) in a row up to the deadline: {message}",
                            self.errors
                        ),
                    };
                }
                let backoff = self.poll_interval.saturating_mul(1 << self.errors.min(6).saturating_sub(1));
                wait(format!("DescribeTasks failed ({message}); retrying"), backoff.min(MAX_BACKOFF))
            }
            TaskObservation::Missing(reason) => {
                self.errors = 0;
                self.missing += 1;
                if self.missing >= NOT_SEEN_GRACE_POLLS || left.is_zero() {
                    return TaskVerdict::Unobserved {
                        reason: format!(
                            "DescribeTasks answered MISSING {} time(s) in a row ({reason}): the task cannot be found",
                            self.missing
                        ),
                    };
                }
                wait(format!("the task is not visible yet ({reason})"), self.poll_interval)
            }
            TaskObservation::Task(view) => {
                self.errors = 0;
                self.missing = 0;
                self.last = Some(view.clone());
                if view.last_status == "STOPPED" {
                    return match view.exit_code {
                        Some(0) => TaskVerdict::Succeeded,
                        Some(code) => TaskVerdict::Failed { exit_code: Some(code) },
                        None if !view.started
                            || view.stop_code.as_deref() == Some(TaskStopCode::TaskFailedToStart.as_str()) =>
                        {
                            TaskVerdict::NeverStarted
                        }
                        None => TaskVerdict::Failed { exit_code: None },
                    };
                }
                let progress = format!("task {} is {}", view.id(), view.last_status);
                if left.is_zero() {
                    return TaskVerdict::TimedOut { progress };
                }
                wait(progress, self.poll_interval)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::testkit::{TASK, task};
    use aws_sdk_ecs::primitives::DateTime;
    use aws_sdk_ecs::types::Container;

    fn see(w: &mut TaskWatch, t: Task, elapsed: u64) -> TaskVerdict {
        w.observe(&TaskObservation::Task(TaskView::from_task(&t, "app")), Duration::from_secs(elapsed))
    }

    fn watch() -> TaskWatch {
        TaskWatch::new(Duration::from_secs(10), Duration::from_secs(600))
    }

    #[test]
    fn exit_0_of_the_app_container_is_success_and_only_once_stopped() {
        let stopped = |code| task("STOPPED", Some(code), true, Some(TaskStopCode::EssentialContainerExited));
        assert_eq!(see(&mut watch(), stopped(0), 30), TaskVerdict::Succeeded);
        assert_eq!(see(&mut watch(), stopped(1), 30), TaskVerdict::Failed { exit_code: Some(1) });
        // Exit 0 reported while still deprovisioning is not yet a verdict.
        assert!(matches!(see(&mut watch(), task("DEPROVISIONING", Some(0), true, None), 30), TaskVerdict::Wait { .. }));
    }

    #[test]
    fn another_containers_exit_code_does_not_count() {
        let t = Task::builder()
            .task_arn(TASK)
            .last_status("STOPPED")
            .started_at(DateTime::from_secs(1))
            .containers(Container::builder().name("sidecar").exit_code(0).build())
            .containers(Container::builder().name("app").exit_code(3).build())
            .build();
        assert_eq!(see(&mut watch(), t, 30), TaskVerdict::Failed { exit_code: Some(3) });
    }

    #[test]
    fn a_container_that_never_ran_is_never_started() {
        let pull = task("STOPPED", None, false, Some(TaskStopCode::TaskFailedToStart));
        assert_eq!(see(&mut watch(), pull, 30), TaskVerdict::NeverStarted);
        assert_eq!(see(&mut watch(), task("STOPPED", None, false, None), 30), TaskVerdict::NeverStarted);
        // It ran, was killed, and ECS gave no code: a failure, not "never started".
        assert_eq!(
            see(&mut watch(), task("STOPPED", None, true, Some(TaskStopCode::UserInitiated)), 30),
            TaskVerdict::Failed { exit_code: None }
        );
    }

    #[test]
    fn still_running_at_the_deadline_times_out_and_waits_never_pass_it() {
        let mut w = watch();
        match see(&mut w, task("RUNNING", None, true, None), 595) {
            TaskVerdict::Wait { delay, progress } => {
                assert_eq!(delay, Duration::from_secs(5), "not past the deadline");
                assert!(progress.contains("0123abcd is RUNNING"), "{progress}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(see(&mut w, task("RUNNING", None, true, None), 600), TaskVerdict::TimedOut { .. }));
    }

    #[test]
    fn missing_is_waited_out_briefly_then_unobserved() {
        let mut w = watch();
        let missing = TaskObservation::Missing("MISSING".into());
        for i in 1..NOT_SEEN_GRACE_POLLS {
            assert!(matches!(w.observe(&missing, Duration::from_secs(u64::from(i) * 10)), TaskVerdict::Wait { .. }));
        }
        assert!(matches!(w.observe(&missing, Duration::from_secs(40)), TaskVerdict::Unobserved { .. }));
    }

    #[test]
    fn api_errors_back_off_and_a_permanent_one_is_unobserved_at_once() {
        let mut w = watch();
        let err = |transient| TaskObservation::Error { transient, message: "throttled".into() };
        let delays: Vec<u64> = (1..=4)
            .map(|i| match w.observe(&err(true), Duration::from_secs(i * 10)) {
                TaskVerdict::Wait { delay, .. } => delay.as_secs(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, vec![10, 20, 40, 60]);
        assert!(matches!(w.observe(&err(true), Duration::from_secs(600)), TaskVerdict::Unobserved { .. }));
        assert!(matches!(watch().observe(&err(false), Duration::from_secs(1)), TaskVerdict::Unobserved { .. }));
    }

    #[test]
    fn run_task_answers() {
        let started = task("PROVISIONING", None, false, None);
        assert_eq!(launched(&[started], &[]), Launched::Started { arn: TASK.into() });
        let failure = Failure::builder().reason("RESOURCE:ENI").detail("no free ENI").arn("arn:c").build();
        assert_eq!(
            launched(&[], &[failure]),
            Launched::NeverStarted { reason: "RunTask failures: RESOURCE:ENI (no free ENI) [arn:c]".into() }
        );
        assert!(matches!(launched(&[], &[]), Launched::NeverStarted { reason } if reason.contains("no task")));
    }

    #[test]
    fn the_stopped_summary_says_everything_ecs_said() {
        let mut t = task("STOPPED", Some(1), true, Some(TaskStopCode::EssentialContainerExited));
        t.stopped_reason = Some("Essential container in task exited".into());
        t.containers.as_mut().unwrap()[0].reason = Some("migration 3 failed".into());
        assert_eq!(
            TaskView::from_task(&t, "app").stopped_summary("app"),
            "stoppedReason: Essential container in task exited [stopCode EssentialContainerExited]; container app \
             exit code 1 (migration 3 failed)"
        );
    }
}
