//! The local environment end to end against a fresh emulator: local up -> plan -> apply ->
//! a second plan shows only the emulator read-back gaps listed in infra/envs/local.plan-gaps.txt
//! -> assertions through boto3 (incl. the database: the task definition's secret reference, no
//! password in its environment, the security-group rule pair app <-> database) -> destroy
//! leaves nothing behind -> local down. What happens on the applied stack after day 1 (drift,
//! deploys) is local_env_day2.rs, on its own emulator: most of either test's time is the AWS
//! provider's fixed waits (the database 160 s, the load balancer 60 s, a bucket lifecycle 55 s),
//! so the two run side by side. local.tfvars has `database_enabled = true`, so the RDS
//! instance (core layer) is created and destroyed here; `deploy --env local` skips the migration
//! task (the emulator runs no tasks).
//!
//! Needs terraform with the AWS provider (offline machines: XTASK_TF_MIRROR, set by .ci/run).
//! Runs in a scratch copy of infra/ so it never touches a developer's own local environment.
//!
//! It never builds or runs the app, so `cargo xtask ci` reuses its last result while only app/
//! changed (see xtask/src/commands/test/cache.rs):
//! test-cache-ignores: app/
//! test-expected-seconds: 480

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use support::{Scratch, XTASK, changes, free_port, gaps, have_terraform, run_checks};

#[test]
fn local_environment_end_to_end() {
    if !have_terraform() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    let s = Scratch::new("local-env");
    let root = s.root.clone();
    let port = free_port().to_string();

    s.ok(&["local", "up", "--port", &port]);
    let endpoint = format!("http://127.0.0.1:{port}");
    assert_eq!(std::fs::read_to_string(root.join("target/local/endpoint")).unwrap(), endpoint);

    // A first bootstrap is two reviewed passes: apply never plans the waiting app layer.
    let first = s.ok(&["plan", "--env", "local"]);
    assert!(first.contains("local/shared:") && first.contains("to create"), "{first}");
    assert!(first.contains("local/app: not planned yet (waiting)"), "app waits for its inputs: {first}");
    let pass_one = s.ok(&["apply", "--env", "local"]);
    assert!(pass_one.contains("pass 1 of 2 done: app not applied"), "{pass_one}");
    // Pass 2 through `--json`: stdout is the one document (terraform's output went to stderr).
    let second = s.ok(&["plan", "--env", "local", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&second).unwrap_or_else(|e| panic!("{e}: {second}"));
    assert_eq!(
        (doc["schema"].as_u64(), doc["ok"].as_bool(), doc["changes"].as_bool()),
        (Some(1), Some(true), Some(true))
    );
    let layers: Vec<(&str, &str)> = doc["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["layer"].as_str().unwrap(), l["status"].as_str().unwrap()))
        .collect();
    assert_eq!(layers.len(), 3, "{doc}");
    assert_eq!(layers[2], ("app", "changes"), "app is planned in pass 2, not waiting: {doc}");
    let app = &doc["layers"][2];
    assert!(app["create"].as_array().unwrap().iter().any(|a| a == "module.service.aws_ecs_service.app"), "{app}");
    assert_eq!(app["plan_json"], "target/plans/local/app.plan.json");
    s.ok(&["apply", "--env", "local"]);

    // Second plan: nothing but the documented emulator gaps.
    s.ok(&["plan", "--env", "local"]);
    let mut seen = BTreeSet::new();
    for layer in ["shared", "core", "app"] {
        seen.extend(changes(&root, layer));
    }
    // local.tfvars runs the database (as dev and prod do): its [database] gaps apply.
    let allowed = gaps("local.plan-gaps.txt", true);
    let unexpected: Vec<_> = seen.difference(&allowed).collect();
    assert!(unexpected.is_empty(), "second plan has changes beyond the allow-list: {unexpected:?}");

    // A stale plan is refused: change the env file after planning.
    let tfvars = root.join("infra/envs/local.tfvars");
    let original = std::fs::read_to_string(&tfvars).unwrap();
    std::fs::write(&tfvars, format!("{original}\n# edited after the plan\n")).unwrap();
    let stale = s.xtask(&["apply", "--env", "local"]);
    assert_eq!(stale.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("is stale"));
    std::fs::write(&tfvars, original).unwrap();

    // The alarms the checks expect are the ones Terraform's state holds (no hand-kept count).
    let alarms = serde_json::to_string(&alarm_names(&root)).unwrap();
    run_checks("local_env_checks.py", &[&endpoint, "applied", &alarms]);

    // Day 2 on an applied stack (drift, a deploy as the GitHub deploy role) is
    // local_env_day2.rs: its own emulator, run beside this one.
    s.ok(&["destroy", "--env", "local", "--yes"]);
    run_checks("local_env_checks.py", &[&endpoint, "destroyed"]);

    s.ok(&["local", "down"]);
    assert!(!root.join("target/local/endpoint").exists());
}

/// Every `aws_cloudwatch_metric_alarm`'s name in the prior state of the saved local plans.
fn alarm_names(root: &Path) -> BTreeSet<String> {
    fn walk(module: &serde_json::Value, out: &mut BTreeSet<String>) {
        for r in module["resources"].as_array().into_iter().flatten() {
            if r["type"] == "aws_cloudwatch_metric_alarm" {
                out.insert(r["values"]["alarm_name"].as_str().expect("alarm_name").to_owned());
            }
        }
        for child in module["child_modules"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    let mut out = BTreeSet::new();
    for layer in ["shared", "core", "app"] {
        let path = root.join(format!("target/plans/local/{layer}.plan.json"));
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        walk(&json["prior_state"]["values"]["root_module"], &mut out);
    }
    assert!(!out.is_empty(), "the saved plans' prior state holds no alarm");
    out
}

#[test]
fn unknown_env_lists_environments_and_dev_without_credentials_is_one_line() {
    let out = Command::new(XTASK).args(["plan", "--env", "staging"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown environment 'staging'") && err.contains("dev, local, prod"), "{err}");
    // With --json the same refusal is the one document on stdout, with its exit code.
    let out = Command::new(XTASK).args(["plan", "--env", "staging", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((doc["ok"].as_bool(), doc["exit_code"].as_u64()), (Some(false), Some(2)), "{doc}");
    assert!(doc["message"].as_str().unwrap().contains("unknown environment 'staging'"), "{doc}");
    assert_eq!(doc["layers"], serde_json::json!([]));

    let home = std::env::temp_dir().join(format!("xtask-nohome-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(XTASK);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.env("HOME", &home).args(["plan", "--env", "dev"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no AWS credentials for --env dev"), "{err}");
}

#[test]
fn prod_apply_needs_yes() {
    let out = Command::new(XTASK).args(["apply", "--env", "prod"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --yes"));
}

/// prod.tfvars ships without a certificate: plan refuses in one line naming the settings, before
/// asking for credentials or running terraform. (The two ways to satisfy it are planned against
/// the emulator in src/permissions/contract.rs.)
#[test]
fn prod_plan_without_https_is_one_line() {
    let mut cmd = Command::new(XTASK);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.env_remove("XTASK_ROOT").args(["plan", "--env", "prod"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "prod requires HTTPS (https_required): set domain_name and route53_zone_name, or alb_certificate_arn"
        ),
        "{err}"
    );
}
