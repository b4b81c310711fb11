//! The bootstrap state moves into the bucket it created, against a fresh emulator:
//! `local up` applies infra/bootstrap with local state (target/local/bootstrap.tfstate), then
//! `bootstrap migrate-state` copies it to `s3://rdeploy-local-tfstate/local/bootstrap.tfstate`.
//! The laptop is then "lost" (local file, its backup and the working copy deleted) and
//! `bootstrap plan` still finds every resource in the bucket's copy: nothing to create.
//!
//! Needs terraform with the AWS provider (offline: XTASK_TF_MIRROR) and moto.
//! test-cache-ignores: app/
//! test-expected-seconds: 110

mod support;

use std::process::Command;

use support::{Scratch, free_port};

#[test]
fn bootstrap_state_moves_into_its_bucket_and_survives_the_laptop() {
    if Command::new("terraform").arg("version").output().is_err() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    let s = Scratch::new("bootstrap-state");
    let root = s.root.clone();
    let port = free_port().to_string();
    s.ok(&["local", "up", "--port", &port]);
    let local = root.join("target/local/bootstrap.tfstate");
    assert!(local.is_file());
    let state = local.display().to_string();

    // --dry-run prints the steps and changes nothing.
    let dry = s.ok(&["--dry-run", "bootstrap", "migrate-state", "--env", "local", "--state", &state]);
    assert!(dry.contains("init -input=false -no-color -lockfile=readonly -migrate-state -force-copy"), "{dry}");
    assert!(dry.contains("-backend-config=key=local/bootstrap.tfstate"), "{dry}");
    assert!(local.is_file(), "dry run moved nothing");

    // A missing local state is a usage error naming --state.
    let missing = s.xtask(&["bootstrap", "migrate-state", "--env", "local", "--state", "/nonexistent.tfstate"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("pass --state"));

    let out = s.ok(&["bootstrap", "migrate-state", "--env", "local", "--state", &state]);
    assert!(out.contains("is now s3://rdeploy-local-tfstate/local/bootstrap.tfstate"), "{out}");
    assert!(!local.exists(), "the local file is renamed so nobody applies from it again");
    assert!(root.join("target/local/bootstrap.tfstate.migrated").is_file());

    // Lose the laptop: no local state, no backup, no working copy, no terraform data dir.
    let _ = std::fs::remove_file(root.join("target/local/bootstrap.tfstate.migrated"));
    let _ = std::fs::remove_dir_all(root.join("target/bootstrap"));
    let _ = std::fs::remove_dir_all(root.join("target/terraform"));
    let plan = s.ok(&["bootstrap", "plan", "--env", "local"]);
    assert!(!plan.contains("will be created"), "the bucket's own state was lost:\n{plan}");
    assert!(plan.contains("No changes.") || plan.contains("0 to add"), "{plan}");
}
