//! The deploy library's stories, on a session of fakes from `testkit.rs`:
//! - `rollout.rs`: rollouts from the first check to success, rollback or refusal;
//! - `false_reports.rs`: issue #14's false reports, each as the story that used to produce it;
//! - `migration.rs`: the migration task, before a rollout and alone;
//! - `cli.rs`: what the commands rely on: durations, prod's image rules, documented exit codes.

mod cli;
mod day2;
mod false_reports;
mod migration;
mod rollout;
