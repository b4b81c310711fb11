//! A deployment that ECS failed, and rolled back, because one of its deployment alarms went into
//! ALARM (infra/modules/ecs-service: `alarms { enable = true, rollback = true }`, the target-5xx and
//! error-rate alarms). The deploy's watch already sees the failure (our deployment FAILED, the
//! previous revision PRIMARY again); this says that an ALARM caused it, and which one, so the cause
//! line points at the app's answers (5xx), not at tasks that failed to start.
//!
//! The evidence, in the order ECS writes it: our deployment's rolloutStateReason, then the service
//! events since our update. ECS's exact wording is not part of its API (DescribeServices documents
//! `rolloutStateReason` as free text), so the match is deliberately narrow in meaning and loose in
//! form: the word "alarm" in the FAILED deployment's reason, or in a new event that also names a
//! configured alarm or reports a failed deployment / rollback. Which alarms: those of the
//! service's `deploymentConfiguration.alarms.alarmNames` that the texts name, else all of them.

use std::collections::HashSet;

use aws_sdk_ecs::types::{DeploymentRolloutState, Service};

/// An alarm-caused failure of the deployment of one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRollback {
    /// The configured deployment alarms the evidence names (all configured ones when it names none).
    pub alarms: Vec<String>,
    /// The text that showed it (the rolloutStateReason or the event message).
    pub evidence: String,
}

/// The service's configured deployment alarms (enabled ones only).
pub fn configured(service: &Service) -> Vec<String> {
    service
        .deployment_configuration()
        .and_then(|c| c.alarms())
        .filter(|a| a.enable())
        .map(|a| a.alarm_names().to_vec())
        .unwrap_or_default()
}

/// Whether the deployment of `revision` failed because of an alarm. `old_events`: event ids that
/// existed before our update (never evidence about it). The deploy's watch keeps snapshots, not
/// the SDK's Service, and calls [`from_evidence`] (`deploy/rollback.rs`); this reads a Service.
#[cfg_attr(not(test), allow(dead_code))]
pub fn detect(service: &Service, revision: &str, old_events: &HashSet<String>) -> Option<AlarmRollback> {
    let failed_reason = service
        .deployments()
        .iter()
        .find(|d| d.task_definition() == Some(revision) && d.rollout_state() == Some(&DeploymentRolloutState::Failed))
        .and_then(|d| d.rollout_state_reason());
    let new_events: Vec<&str> = service
        .events()
        .iter()
        .filter(|e| !old_events.contains(e.id().unwrap_or_default()))
        .filter_map(|e| e.message())
        .collect();
    from_evidence(&configured(service), failed_reason, &new_events)
}

/// The same verdict from the pieces a watch keeps (the deploy's `ServiceSnapshot` holds the
/// deployments and events; add the configured alarm names to it): `failed_reason` is our
/// deployment's rolloutStateReason when it is FAILED, `new_events` the messages since our update.
pub fn from_evidence(configured: &[String], failed_reason: Option<&str>, new_events: &[&str]) -> Option<AlarmRollback> {
    let named =
        |text: &str| -> Vec<String> { configured.iter().filter(|n| text.contains(n.as_str())).cloned().collect() };
    let mentions_alarm = |text: &str| text.to_ascii_lowercase().contains("alarm");
    let pick = |text: &str| {
        let hit = named(text);
        AlarmRollback { alarms: if hit.is_empty() { configured.to_vec() } else { hit }, evidence: text.to_owned() }
    };
    if let Some(reason) = failed_reason.filter(|r| mentions_alarm(r)) {
        return Some(pick(reason));
    }
    new_events
        .iter()
        .find(|m| {
            let lower = m.to_ascii_lowercase();
            mentions_alarm(m)
                && (!named(m).is_empty()
                    || ["deployment failed", "rolling back", "rolled back"].iter().any(|k| lower.contains(k)))
        })
        .map(|m| pick(m))
}

/// The cause line the deploy prints (exit 1: the rollout failed, the service is back on
/// `previous`).
pub fn cause_line(alarm: &AlarmRollback, revision: &str, previous: Option<&str>) -> String {
    let which = match alarm.alarms.as_slice() {
        [] => "a deployment alarm".to_owned(),
        [one] => format!("the deployment alarm {one}"),
        many => format!("a deployment alarm ({})", many.join(", ")),
    };
    let back = previous.map_or(String::new(), |p| format!("; ECS rolled the service back to {}", super::short(p)));
    format!(
        "{} failed: {which} went into ALARM while it rolled out (the app answered errors, though its tasks passed /health){back}. \
         ECS said: {}",
        super::short(revision),
        alarm.evidence
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{Deployment, DeploymentAlarms, DeploymentConfiguration, ServiceEvent};

    const NEW: &str = "arn:aws:ecs:eu-west-1:1:task-definition/rdeploy-dev-app:8";
    const OLD: &str = "arn:aws:ecs:eu-west-1:1:task-definition/rdeploy-dev-app:7";
    const ALARMS: [&str; 2] = ["rdeploy-dev-target-5xx", "rdeploy-dev-error-rate"];

    fn service(reason: &str, state: DeploymentRolloutState, events: &[(&str, &str)]) -> Service {
        let mut s = Service::builder()
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .alarms(
                        DeploymentAlarms::builder()
                            .set_alarm_names(Some(ALARMS.map(String::from).to_vec()))
                            .enable(true)
                            .rollback(true)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .deployments(
                Deployment::builder()
                    .status("PRIMARY")
                    .task_definition(OLD)
                    .rollout_state(DeploymentRolloutState::InProgress)
                    .build(),
            )
            .deployments(
                Deployment::builder()
                    .status("ACTIVE")
                    .task_definition(NEW)
                    .rollout_state(state)
                    .rollout_state_reason(reason)
                    .build(),
            );
        for (id, message) in events {
            s = s.events(ServiceEvent::builder().id(*id).message(*message).build());
        }
        s.build()
    }

    #[test]
    fn a_failed_deployment_whose_reason_names_an_alarm() {
        let s = service(
            "ECS deployment ecs-svc/123 failed: alarm rdeploy-dev-error-rate in ALARM state.",
            DeploymentRolloutState::Failed,
            &[],
        );
        let a = detect(&s, NEW, &HashSet::new()).expect("an alarm rollback");
        assert_eq!(a.alarms, vec!["rdeploy-dev-error-rate".to_owned()]);
        let line = cause_line(&a, NEW, Some(OLD));
        assert!(
            line.starts_with("rdeploy-dev-app:8 failed: the deployment alarm rdeploy-dev-error-rate went into ALARM"),
            "{line}"
        );
        assert!(
            line.contains("rolled the service back to rdeploy-dev-app:7") && line.contains("ECS said: ECS deployment"),
            "{line}"
        );
    }

    #[test]
    fn an_event_since_the_update_that_reports_an_alarm_failure() {
        let s = service(
            "",
            DeploymentRolloutState::InProgress,
            &[
                ("e2", "(service rdeploy-dev-app) (deployment ecs-svc/123) deployment failed: alarm detected."),
                ("e1", "old"),
            ],
        );
        let a = detect(&s, NEW, &HashSet::new()).expect("an alarm rollback");
        // The event names no alarm: all configured ones are candidates.
        assert_eq!(a.alarms, ALARMS.map(String::from).to_vec());
        assert!(
            cause_line(&a, NEW, None).contains("a deployment alarm (rdeploy-dev-target-5xx, rdeploy-dev-error-rate)")
        );
        // The same event before our update is no evidence.
        assert_eq!(detect(&s, NEW, &HashSet::from(["e2".to_owned()])), None);
    }

    #[test]
    fn other_failures_are_not_alarm_rollbacks() {
        for (reason, state, events) in [
            ("ECS deployment circuit breaker: tasks failed to start.", DeploymentRolloutState::Failed, vec![]),
            ("alarm", DeploymentRolloutState::InProgress, vec![]),
            ("", DeploymentRolloutState::InProgress, vec![("e1", "(service x) has reached a steady state.")]),
            // "alarm" alone, with no failure and no configured name, is not enough.
            ("", DeploymentRolloutState::InProgress, vec![("e1", "(service x) alarm configuration updated")]),
        ] {
            assert_eq!(detect(&service(reason, state, &events), NEW, &HashSet::new()), None, "{reason} {events:?}");
        }
        // The pieces alone: an event that names a configured alarm is enough.
        let names = ALARMS.map(String::from).to_vec();
        let a = from_evidence(&names, None, &["service x: alarm rdeploy-dev-target-5xx changed to ALARM"]).unwrap();
        assert_eq!(a.alarms, vec!["rdeploy-dev-target-5xx".to_owned()]);
        assert_eq!(from_evidence(&names, Some("tasks failed to start"), &["steady state"]), None);
        // Another revision's alarm failure is not ours.
        let s = service("failed: alarm rdeploy-dev-target-5xx", DeploymentRolloutState::Failed, &[]);
        assert_eq!(detect(&s, OLD, &HashSet::new()), None);
    }
}
