//! The pure cores of the day-2 commands (issue #25): what `rollback`, `revisions`, `status`,
//! `logs` and `run` decide, and the deploy's alarm-rollback and interruption verdicts. No clap,
//! no I/O: SDK values in (`aws_sdk_ecs::types`), decisions and text out, each tested beside it.
//! The commands wire them to the AWS calls (the deploy's SDK seam) and to their flags.
//!
//! - `revisions.rs`: one task definition revision as the commands see it (image, registered at/by,
//!   whether a deploy saw it COMPLETED: the `rdeploy:completed` tag), and the listing's rows
//! - `rollback.rs`: which revision `rollback [--to N]` goes back to, and what a failed deploy may
//!   roll back to (never a revision that never reached COMPLETED, such as the bootstrap one)
//! - `keep.rs`: which revisions `--keep N` deregisters (never Terraform's, the serving one, or the
//!   deploy's rollback target)
//! - `status.rs`: healthy or degraded, with reasons; the `--json` shape and the human rendering
//! - `logs.rs`: `--since`, `--task`, `--filter`, following by polling, and one readable line per
//!   JSON log event
//! - `one_off.rs`: `run -- <app subcommand...>`: the argv check and the RunTask it asks for
//! - `alarm.rs`: a deployment ECS failed (and rolled back) because a deployment alarm fired
//! - `interrupt.rs`: what Ctrl-C or SIGTERM during a deploy or a migration leaves, and the exact
//!   command that re-attaches
//!
//! Errors are one line (`String`) that says what to do: the commands exit 2 with them, nothing
//! changed.

pub mod alarm;
pub mod interrupt;
pub mod keep;
pub mod logs;
pub mod one_off;
pub mod revisions;
pub mod rollback;
pub mod status;

/// `family:revision` of a task definition ARN (or the text itself when it is no ARN).
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The family and revision number of `family:N` or a task definition ARN.
pub fn family_and_number(arn: &str) -> Option<(&str, i32)> {
    let (family, number) = short(arn).rsplit_once(':')?;
    let number = number.parse().ok().filter(|n: &i32| *n > 0)?;
    (!family.is_empty()).then_some((family, number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_and_number_of_arns_and_short_names() {
        assert_eq!(
            family_and_number("arn:aws:ecs:eu-west-1:1:task-definition/rdeploy-dev-app:7"),
            Some(("rdeploy-dev-app", 7))
        );
        assert_eq!(family_and_number("rdeploy-dev-app:12"), Some(("rdeploy-dev-app", 12)));
        for bad in ["rdeploy-dev-app", "rdeploy-dev-app:", "rdeploy-dev-app:0", ":3", "f:-1", "f:x"] {
            assert_eq!(family_and_number(bad), None, "{bad}");
        }
    }
}
