//! Whether a deploy starts at all, and whether an UpdateService whose answer was lost took effect.

use super::service::{ServiceSnapshot, short};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::decide::Rollout;
    use crate::deploy::testkit::{NEW, OLD, dep, snap};

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
}
