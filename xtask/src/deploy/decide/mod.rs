//! Every verdict of a deploy, in pure functions with no I/O. `rollout.rs` and `migration.rs` only
//! perform the calls these functions ask for and print what they say.
//!
//! - `service.rs`: one DescribeServices answer as plain values, and a revision's progress line;
//! - `start.rs`: whether to start at all ([`before_deploy`]), and whether an UpdateService whose
//!   answer was lost took effect ([`update_took_effect`]);
//! - `watch.rs`: what each poll of a rollout means ([`Watch::observe`]);
//! - `task.rs`: the verdicts on the one-off migration task (succeeded, failed, never started,
//!   timed out, unobserved).
//!
//! The rules of a rollout watch, and the evidence each needs:
//! - success: our revision is PRIMARY, rolloutState COMPLETED, running == desired > 0, alone;
//! - failure (seen): our PRIMARY is FAILED, or its failedTasks reach [`watch::FAILED_TASKS_LIMIT`], or
//!   "unable to place a task" events continue for [`watch::PLACEMENT_POLLS`] polls without a new task
//!   of ours running (failedTasks stays 0 then, so the circuit breaker never fires);
//! - ECS rolled back: the previous revision is PRIMARY again AND ECS says so (our deployment is
//!   FAILED, or an event since our update reports a failed deployment / a rollback);
//! - lag: until DescribeServices shows our update (service taskDefinition or PRIMARY), an answer
//!   that still shows the old state is stale: waited out for [`watch::NOT_SEEN_GRACE_POLLS`] polls;
//! - someone else: another revision took over, or the service went back to the previous one with
//!   no failure reported by ECS within [`watch::EVIDENCE_GRACE_POLLS`] polls, or it was scaled to zero,
//!   or deleted: never rolled back or forward over, a person must look;
//! - unobserved: DescribeServices fails past the deadline (retried with backoff meanwhile), fails
//!   with an error a retry cannot fix, or ECS never shows the update: the outcome is unknown, so
//!   nothing is rolled back.

mod service;
mod start;
pub mod task;
mod watch;

#[cfg(test)]
pub use service::DeploymentView;
pub use service::Rollout;
pub use service::{ServiceSnapshot, progress_line, short};
pub use start::{Start, UpdateCheck, before_deploy, update_took_effect};
#[cfg(test)]
pub use watch::PLACEMENT_POLLS;
pub use watch::{Decision, MAX_BACKOFF, NOT_SEEN_GRACE_POLLS, Observation, Phase, Watch, WatchTarget};
