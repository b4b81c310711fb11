//! Ctrl-C or SIGTERM during a deploy or a migration: what the run leaves, and the exact command
//! that picks it up again. Nothing is rolled back on an interruption: the person (or the CI
//! runner cancelling the job) decides, and re-running deploy with the same image re-attaches:
//! `before_deploy` sees the same registration already in the service, not settled, and watches
//! it (`WatchExisting`) with the full verdicts and exit codes.
//!
//! What the watch loops need (phase 2): a cancellation future (`tokio::signal::ctrl_c()` and,
//! on Unix, `tokio::signal::unix::signal(SignalKind::terminate())`) raced against each
//! `clock.sleep(..)` and each AWS call with `tokio::select!`; on it, the loop stops polling, a
//! migration task it started is stopped (StopTask, reason "interrupted"), and it prints
//! [`interrupted`]'s message and exits with its code. In tests the fake clock's sleep resolves a
//! scripted cancellation at a chosen poll.

/// Which signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (a CI runner cancelling the job, a container stop).
    Terminate,
}

/// Where the run was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Before UpdateService: a revision may be registered, the service is untouched. Not raised
    /// yet: before the update the watch loops that check for a signal are the migration's
    /// (`Migrating`); a signal during UpdateService's grace polls is seen by the watch after it.
    #[cfg_attr(not(test), allow(dead_code))]
    BeforeUpdate { registered: Option<String> },
    /// The migration task was running; `stopped`: StopTask's outcome (Err: why it failed).
    Migrating { task_arn: String, cluster: String, stopped: Result<(), String> },
    /// UpdateService done, the rollout of `revision` (`image`) was being watched.
    Watching { revision: String, image: String },
    /// Our rollback to `revision` (`image`) was being watched.
    RollingBack { revision: String, image: String },
}

/// The message and exit code of an interrupted run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    pub code: u8,
    pub message: String,
}

/// `command`: deploy or migrate. `env`, `image`: what the run was given.
pub fn interrupted(signal: Signal, stage: &Stage, command: &str, env: &str, image: &str) -> Interruption {
    let by = match signal {
        Signal::Interrupt => "interrupted (Ctrl-C)",
        Signal::Terminate => "terminated (SIGTERM)",
    };
    let status = format!("`cargo xtask status --env {env}` shows the service");
    match stage {
        Stage::BeforeUpdate { registered } => Interruption {
            code: 2,
            message: format!(
                "{command} {by} before the service was updated: nothing serves differently{}. Run `cargo xtask {command} \
                 --env {env} --image {image}` to start again",
                registered
                    .as_deref()
                    .map_or(String::new(), |r| format!(" ({} is registered, unused)", super::short(r)))
            ),
        },
        Stage::Migrating { task_arn, cluster, stopped } => {
            let id = task_arn.rsplit('/').next().unwrap_or(task_arn);
            match stopped {
                Ok(()) => Interruption {
                    code: 5,
                    message: format!(
                        "{command} {by} during the migration: the migration task {id} was stopped (the schema is where the \
                         migrations that finished left it; `app migrate` goes on from there) and the service was not \
                         touched. Run `cargo xtask {command} --env {env} --image {image}` to run it again"
                    ),
                },
                Err(why) => Interruption {
                    code: 4,
                    message: format!(
                        "{command} {by} during the migration, and its task {id} could not be stopped ({why}): it may still \
                         run. Stop it: `aws ecs stop-task --cluster {cluster} --task {task_arn}`; the service was not touched"
                    ),
                },
            }
        }
        Stage::Watching { revision, image } => Interruption {
            code: 5,
            message: format!(
                "{command} {by} while {} rolled out: ECS goes on with the rollout (its circuit breaker and deployment \
                 alarms still roll back a failure), but nothing watches it now and nothing was rolled back. Re-attach: \
                 `cargo xtask deploy --env {env} --image {image}` (the same image watches the same rollout); {status}",
                super::short(revision)
            ),
        },
        Stage::RollingBack { revision, image } => Interruption {
            code: 5,
            message: format!(
                "{command} {by} while the service rolled back to {}: ECS goes on with it, unwatched. Re-attach: \
                 `cargo xtask deploy --env {env} --image {image}` (the previous image watches the rollback); {status}",
                super::short(revision)
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "1.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-dev-app@sha256:abc";
    const REV: &str = "arn:aws:ecs:eu-west-1:1:task-definition/rdeploy-dev-app:8";

    #[test]
    fn a_watch_interrupted_names_the_exact_command_that_re_attaches() {
        let stage = Stage::Watching { revision: REV.into(), image: IMAGE.into() };
        let i = interrupted(Signal::Interrupt, &stage, "deploy", "dev", IMAGE);
        assert_eq!(i.code, 5);
        assert!(
            i.message.starts_with("deploy interrupted (Ctrl-C) while rdeploy-dev-app:8 rolled out"),
            "{}",
            i.message
        );
        assert!(i.message.contains(&format!("`cargo xtask deploy --env dev --image {IMAGE}`")), "{}", i.message);
        assert!(i.message.contains("nothing was rolled back"), "{}", i.message);
        let t = interrupted(Signal::Terminate, &stage, "deploy", "dev", IMAGE);
        assert!(t.message.starts_with("deploy terminated (SIGTERM)"), "{}", t.message);
    }

    #[test]
    fn a_rollback_interrupted_re_attaches_with_the_previous_image() {
        let stage = Stage::RollingBack { revision: REV.replace(":8", ":7"), image: "repo@sha256:old".into() };
        let i = interrupted(Signal::Interrupt, &stage, "deploy", "prod", IMAGE);
        assert!(i.message.contains("rolled back to rdeploy-dev-app:7"), "{}", i.message);
        assert!(i.message.contains("`cargo xtask deploy --env prod --image repo@sha256:old`"), "{}", i.message);
    }

    #[test]
    fn a_migration_interrupted_says_whether_its_task_was_stopped() {
        let arn = "arn:aws:ecs:eu-west-1:1:task/rdeploy-dev-cluster/0123456789abcdef0123456789abcdef";
        let stopped = Stage::Migrating { task_arn: arn.into(), cluster: "rdeploy-dev-cluster".into(), stopped: Ok(()) };
        let i = interrupted(Signal::Terminate, &stopped, "migrate", "dev", IMAGE);
        assert_eq!(i.code, 5);
        assert!(i.message.contains("task 0123456789abcdef0123456789abcdef was stopped"), "{}", i.message);
        assert!(i.message.contains("`cargo xtask migrate --env dev --image"), "{}", i.message);
        let stuck = Stage::Migrating {
            task_arn: arn.into(),
            cluster: "rdeploy-dev-cluster".into(),
            stopped: Err("AccessDenied".into()),
        };
        let i = interrupted(Signal::Interrupt, &stuck, "deploy", "dev", IMAGE);
        assert_eq!(i.code, 4);
        assert!(
            i.message.contains(&format!("aws ecs stop-task --cluster rdeploy-dev-cluster --task {arn}")),
            "{}",
            i.message
        );
    }

    #[test]
    fn before_the_update_nothing_changed() {
        let stage = Stage::BeforeUpdate { registered: Some(REV.into()) };
        let i = interrupted(Signal::Interrupt, &stage, "deploy", "dev", IMAGE);
        assert_eq!(i.code, 2);
        assert!(i.message.contains("rdeploy-dev-app:8 is registered, unused"), "{}", i.message);
    }
}
