//! The deploy library: an ECS rolling deploy that never reports a failed rollout as success, and
//! the migration task. No clap here: `commands/deploy.rs` and `commands/migrate.rs` parse the
//! flags, build a [`Plan`] or a [`MigratePlan`] and call [`preflight::prepare`] then
//! [`Session::deploy`] or [`Session::migrate`].
//!
//! The modules, each pointing only down the list (no cycle):
//! - `rollout.rs`: the steps (check, diff, register, migrate, update, watch, roll back, prune) and
//!   the time budget (migration + rollout watch + rollback watch, printed first);
//! - `rollback.rs`: `rollback` (back to a revision that reached COMPLETED), the
//!   `rdeploy:completed` tag a successful watch writes, and the rule that a failed rollout goes
//!   back only to such a revision (never the bootstrap one); the alarm-rollback cause line;
//! - `restart.rs`: `deploy --force` of the serving revision, watched on its deployment id;
//! - `status.rs`: `status` (service, tasks, target health) and `revisions`, read only;
//! - `logs.rs`: `logs`, FilterLogEvents on the serving revision's awslogs group, polled for --follow;
//! - `one_off.rs`: `run -- <app subcommand>`, a one-off task of the serving revision on the
//!   migration task's machinery;
//! - `report.rs`: what a failed rollout shows (service events, stopped tasks);
//! - `migration.rs`: the migration task (a one-off ECS task running `app migrate` on the registered
//!   revision before UpdateService, when the environment has a database; `cargo xtask migrate`
//!   runs it alone);
//! - `preflight.rs`: what is checked and loaded before the first AWS call, and the live session;
//! - `revision.rs`: the [`Target`], and the service's revisions (lookup, family check, newest vs
//!   serving), shared by rollout and migration;
//! - `decide/`: every verdict, pure: whether to start, whether a lost UpdateService took effect,
//!   what each poll of a rollout or of the migration task means;
//! - `taskdef.rs`: the next revision and its diff against the serving one;
//! - `outcome.rs`: the exit codes and their documentation, the [`Outcome`], durations;
//! - `api.rs`: the seams (ECS, CloudWatch Logs, ECR, clock, output) as traits, and [`Session`];
//! - `sdk.rs`: the AWS SDK behind those traits; `ui.rs`: the terminal behind [`api::Ui`];
//! - `image_ref.rs`: image references; `images_file.rs`: `target/images/<env>.json`.
//!
//! Which configuration the new revision carries: the family's NEWEST ACTIVE revision
//! (DescribeTaskDefinition on the family name), with only the `app` container's image and
//! `APP_VERSION` replaced. Terraform registers a new revision whenever a tfvars change touches the
//! task definition (CPU, memory, environment, secrets, health check, logging) but the service
//! ignores `task_definition`, so building from the serving revision would silently drop those
//! changes. The newest revision is one of:
//! - the serving one (the last deploy registered it): only image and APP_VERSION change;
//! - Terraform's, with its stale bootstrap image: its configuration ships with our image;
//! - one a failed deploy registered (then rolled back): same configuration, its image is replaced;
//! - one registered by someone else: its configuration ships too, as anything registered into the
//!   family is its desired state. It is never silent: the diff printed before registering (and by
//!   `--dry-run`) compares the new revision with the SERVING one field by field, and names the
//!   newest revision, when and by whom it was registered.
//!
//! The serving revision is the base only when it is newer than the family's newest ACTIVE one
//! (it was deregistered). A service running another family than infra/envs names is refused.

mod api;
mod decide;
pub mod failure;
pub mod image_ref;
pub mod images_file;
pub mod logs;
pub mod migration;
pub mod one_off;
pub mod outcome;
pub mod preflight;
mod report;
mod restart;
pub mod revision;
pub mod rollback;
mod rollout;
pub mod sdk;
pub mod status;
mod taskdef;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
mod ui;

pub use migration::{MigratePlan, Migration};
pub use revision::Target;
pub use rollback::RollbackPlan;
pub use rollout::Plan;
