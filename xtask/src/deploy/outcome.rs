//! How a deploy or a migration ends: the exit codes (each documented in `--help` and docs/commands.md),
//! the error that carries one, what a deploy that ends well reports, and the durations its
//! messages and flags use.

use crate::base::error::CodedError;

/// Exit codes, documented in `cargo xtask deploy --help` ([`DEPLOY_EXIT_CODES`]), `cargo xtask
/// migrate --help` ([`MIGRATE_EXIT_CODES`]) and docs/commands.md (generated from `--help`).
pub mod code {
    /// The rollout failed (seen) and the service is back on the previous revision.
    pub const ROLLED_BACK: u8 = 1;
    /// The migration task ran and failed; the service was not touched.
    pub const MIGRATION_FAILED: u8 = 1;
    /// Nothing changed: usage or configuration error, a refused call, a refused start.
    pub const USAGE: u8 = 2;
    /// The rollout timed out and the service is back on the previous revision.
    pub const TIMED_OUT: u8 = 3;
    /// A person must look now: the rollback failed or is unconfirmed, or someone else changed the
    /// service, or a failing deployment had nothing to go back to.
    pub const LOOK_NOW: u8 = 4;
    /// The outcome is unknown: the rollout (or the update) could not be observed. Nothing was
    /// rolled back.
    pub const UNOBSERVED: u8 = 5;
}

/// An error that ends the command with `code`.
pub fn fail(code: u8, message: impl Into<String>) -> anyhow::Error {
    CodedError::new(code, message).into()
}

/// How a deploy that exits 0 ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The same configuration already serves, settled; nothing was registered.
    AlreadyServing {
        revision: String,
    },
    DryRun,
    /// Registered and the service points at it, but nothing was watched (emulator or --no-wait).
    Unwatched {
        revision: String,
    },
    Deployed {
        revision: String,
    },
}

/// `cargo xtask deploy --help`'s exit codes and notes; docs/commands.md renders it.
pub const DEPLOY_EXIT_CODES: &str = "\
Exit codes:
  0  deployed: the new revision serves alone (COMPLETED, every desired task running); or nothing to do
     (the same image and configuration already serve, settled); or --dry-run, --no-wait, --env local
  1  the rollout failed (seen: FAILED, failed tasks, placement failures, ECS's own rollback); the service
     is back on the previous revision. Or the migration task failed (its app container exited non-zero):
     the service was not touched
  2  nothing changed: usage or configuration error, a refused AWS call, a service scaled to zero or with a
     deployment in progress, an UpdateService that did not take effect, a migration task that never
     started (RunTask failures, CannotPullContainerError, ...)
  3  the rollout timed out; the service is back on the previous revision. Or the migration task timed out
     and was stopped: the service was not touched
  4  a person must look now: the rollback failed or is not confirmed, someone else changed the service
     during the deploy (another revision, a revert with no failure reported, a scale to zero), a
     failing deployment had no previous revision to go back to, or a timed-out migration task could
     not be stopped
  5  the outcome is unknown: the rollout or the update could not be observed (the AWS API kept failing,
     or ECS never showed the update); nothing was rolled back. Or the migration task could not be
     observed: the service was not touched

Migrations: when infra/envs/<ENV>.tfvars has database_enabled = true, the new revision first runs
as a one-off task with the command [\"migrate\"] (RunTask in the service's subnets and security
groups, startedBy rdeploy-migrate, group migrate); only its exit 0 lets the rollout start.
--skip-migrations bypasses it. `cargo xtask migrate --env ENV` runs it alone.

--env local: the emulator records but runs no tasks, so deploy stops after verifying that the
service points at the new revision (exit 0) instead of watching a rollout that cannot happen; it
skips the migration task (and says so): the Rust SDK cannot parse the emulator's RunTask answers.";

/// `cargo xtask migrate --help`'s exit codes; docs/commands.md renders them.
pub const MIGRATE_EXIT_CODES: &str = "\
Exit codes:
  0  the migration task exited 0 (or --dry-run)
  1  the migration failed: the app container exited non-zero (its stop reason, exit code and last log
     lines are shown); the service was not touched
  2  nothing ran: usage or configuration error (no database in this environment, --env local), a
     refused AWS call, or the task never started (RunTask failures, CannotPullContainerError, ...)
  3  the migration task timed out and was stopped (StopTask); the service was not touched
  4  a person must look now: a timed-out migration task could not be stopped (it may still run)
  5  the outcome is unknown: the task could not be observed (RunTask or DescribeTasks kept failing)";

/// The `--json` result of deploy and rollback (schema 1; fields are only ever added), printed on
/// stdout whatever the outcome (progress goes to stderr):
/// `{"schema":1,"command","environment","ok","exit_code","outcome","revision","message"}`;
/// `outcome` is deployed, already_serving, unwatched, dry_run or failed; `revision` the task
/// definition ARN the service was left pointing at when known, else null; `message` the error's
/// text when not ok, else null.
pub fn result_json(command: &str, env: &str, result: &anyhow::Result<Outcome>) -> serde_json::Value {
    let (outcome, revision) = match result {
        Ok(Outcome::Deployed { revision }) => ("deployed", Some(revision.as_str())),
        Ok(Outcome::AlreadyServing { revision }) => ("already_serving", Some(revision.as_str())),
        Ok(Outcome::Unwatched { revision }) => ("unwatched", Some(revision.as_str())),
        Ok(Outcome::DryRun) => ("dry_run", None),
        Err(_) => ("failed", None),
    };
    let exit_code = match result {
        Ok(_) => 0,
        Err(err) => err.downcast_ref::<CodedError>().map_or(1, |e| e.code),
    };
    serde_json::json!({
        "schema": 1,
        "command": command,
        "environment": env,
        "ok": result.is_ok(),
        "exit_code": exit_code,
        "outcome": outcome,
        "revision": revision,
        "message": result.as_ref().err().map(|e| format!("{e:#}")),
    })
}

// integrator: use crate::base::duration (parse and human) instead of these two
pub use crate::base::duration::{human, parse as parse_duration};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_json_has_one_stable_shape_for_success_and_failure() {
        let ok: anyhow::Result<Outcome> = Ok(Outcome::Deployed { revision: "arn:x:task-definition/f:5".into() });
        let v = result_json("deploy", "dev", &ok);
        assert_eq!(
            v,
            serde_json::json!({"schema": 1, "command": "deploy", "environment": "dev", "ok": true, "exit_code": 0,
                "outcome": "deployed", "revision": "arn:x:task-definition/f:5", "message": null})
        );
        let failed: anyhow::Result<Outcome> = Err(fail(code::TIMED_OUT, "timed out after 15m"));
        let v = result_json("rollback", "dev", &failed);
        assert_eq!(
            (v["ok"].as_bool(), v["exit_code"].as_u64(), v["outcome"].as_str()),
            (Some(false), Some(3), Some("failed"))
        );
        assert_eq!(v["message"], "timed out after 15m");
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&v), keys(&result_json("deploy", "dev", &Ok(Outcome::DryRun))), "the same fields either way");
    }
}
