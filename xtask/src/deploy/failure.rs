//! How a watch that did not succeed is worded: an interruption (Ctrl-C, SIGTERM) and a
//! deployment that a CloudWatch alarm failed. Shared by the rollout and the rollback, so neither
//! imports the other.

use super::decide::{Rollout, ServiceSnapshot, WatchTarget};
use super::outcome::fail;
use super::revision::Target;
use crate::ops::alarm;
use crate::ops::interrupt::{self, Signal, Stage};

/// Ctrl-C or SIGTERM during a watch: nothing is rolled back; the message says what the run
/// leaves and the command that re-attaches (`deploy` with `image` watches the same rollout).
pub(super) fn interruption(signal: Signal, stage: &Stage, t: &Target, image: &str) -> anyhow::Error {
    let i = interrupt::interrupted(signal, stage, "deploy", &t.env, image);
    fail(i.code, i.message)
}

/// The cause line when a deployment alarm failed the deployment of `target.revision` (ECS then
/// rolls it back); None for any other failure.
pub(super) fn alarm_cause(s: &ServiceSnapshot, target: &WatchTarget) -> Option<String> {
    let failed_reason = s
        .deployments
        .iter()
        .find(|d| d.task_definition == target.revision && d.rollout == Rollout::Failed)
        .map(|d| d.rollout_reason.as_str());
    let new: Vec<&str> =
        s.events.iter().filter(|e| !target.old_events.contains(&e.id)).map(|e| e.message.as_str()).collect();
    let found = alarm::from_evidence(&s.alarms, failed_reason, &new)?;
    Some(alarm::cause_line(&found, &target.revision, target.previous.as_deref()))
}
