//! What the commands hand the library and what they promise: durations, prod's image rules
//! (preflight), and the exit codes that `--help` and docs/commands.md document.

use std::cell::Cell;
use std::time::Duration;

use crate::deploy::api::{ApiError, Ecr};
use crate::deploy::image_ref::ImageRef;
use crate::deploy::outcome::{self, human, parse_duration};
use crate::deploy::preflight::ensure_immutable;
use crate::deploy::testkit::exit_code;
use crate::env::Env;

#[test]
fn durations() {
    assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
    assert_eq!(parse_duration("600s"), Ok(Duration::from_secs(600)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
    assert!(parse_duration("15x").is_err() && parse_duration("m").is_err() && parse_duration("10m5").is_err());
    assert_eq!(human(Duration::from_secs(5400)), "1h30m");
    assert_eq!(human(Duration::from_secs(45)), "45s");
}

/// ECR with one known tag.
struct FakeEcr {
    calls: Cell<u32>,
}

impl Ecr for FakeEcr {
    async fn image_digest(&self, repository: &str, tag: &str) -> Result<Option<String>, ApiError> {
        self.calls.set(self.calls.get() + 1);
        assert_eq!(repository, "rdeploy-prod-app");
        Ok((tag == "abc1234").then(|| format!("sha256:{}", "f".repeat(64))))
    }
}

#[tokio::test]
async fn prod_images_must_be_immutable() {
    let env = Env::parse("prod", "project = \"rdeploy\"\nenvironment = \"prod\"\nregion = \"eu-west-1\"\n").unwrap();
    let ecr = FakeEcr { calls: Cell::new(0) };
    let registry = "1.dkr.ecr.eu-west-1.amazonaws.com";

    // A digest is immutable by itself: no lookup.
    let mut pinned = ImageRef::parse(&format!("{registry}/anything@sha256:{}", "a".repeat(64))).unwrap();
    ensure_immutable(&ecr, &env, &mut pinned).await.unwrap();
    assert_eq!(ecr.calls.get(), 0);

    // A tag that exists in the env's ECR repository is pinned to its digest.
    let mut tagged = ImageRef::parse(&format!("{registry}/rdeploy-prod-app:abc1234")).unwrap();
    ensure_immutable(&ecr, &env, &mut tagged).await.unwrap();
    assert_eq!(tagged.reference(), format!("{registry}/rdeploy-prod-app@sha256:{}", "f".repeat(64)));
    assert_eq!(tagged.version(), "abc1234");

    for (uri, expected) in [
        (format!("{registry}/rdeploy-prod-app:nope"), "does not exist in ECR repository rdeploy-prod-app"),
        (format!("{registry}/other-repo:abc1234"), "not in the environment's ECR repository"),
        (format!("{registry}/rdeploy-prod-app"), "neither an @sha256: digest nor a tag"),
    ] {
        let err = ensure_immutable(&ecr, &env, &mut ImageRef::parse(&uri).unwrap()).await.unwrap_err();
        assert_eq!(exit_code(&err), 2, "{err:#}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
}

#[test]
fn the_commands_page_lists_the_same_exit_codes_as_help() {
    use outcome::code;
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/commands.md")).unwrap();
    let codes = outcome::DEPLOY_EXIT_CODES.split("\n\n").next().unwrap();
    assert!(page.contains(codes), "docs/commands.md's deploy exit codes differ from EXIT_CODES:\n{codes}");
    for c in [0, code::ROLLED_BACK, code::USAGE, code::TIMED_OUT, code::LOOK_NOW, code::UNOBSERVED] {
        assert!(codes.contains(&format!("\n  {c}  ")), "exit code {c} is not documented:\n{codes}");
    }
    assert!(!codes.contains("\n  6  "), "a code that does not exist");
}

#[test]
fn the_commands_page_lists_the_same_migrate_exit_codes_as_help() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/commands.md")).unwrap();
    assert!(
        page.contains(outcome::MIGRATE_EXIT_CODES),
        "docs/commands.md's migrate exit codes differ from MIGRATE_EXIT_CODES:\n{}",
        outcome::MIGRATE_EXIT_CODES
    );
}
