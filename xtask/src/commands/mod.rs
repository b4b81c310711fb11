//! The top layer below `main`: one module per `cargo xtask` subcommand, each with its clap
//! `Args` and a `run`. Commands use the libraries below them and never each other, except for
//! orchestration through a command's public entry points: `ci` runs lint, test and coverage;
//! `coverage` runs the test suite instrumented. (The tidy test holds this rule.)

pub mod apply;
pub mod bench;
pub mod bootstrap;
pub mod ci;
pub mod completions;
pub mod contract;
pub mod coverage;
pub mod deploy;
pub mod docs;
pub mod doctor;
pub mod drift;
pub mod image;
pub mod lint;
pub mod local;
pub mod logs;
pub mod migrate;
pub mod permissions;
pub mod plan;
pub mod revisions;
pub mod rollback;
pub mod run;
pub mod setup;
pub mod status;
pub mod test;
