//! The local environment end to end against a fresh emulator: local up -> plan -> apply ->
//! a second plan shows only the emulator read-back gaps listed in infra/envs/local.plan-gaps.txt
//! -> assertions through boto3 (incl. the database: the task definition's secret reference, no
//! password in its environment, the security-group rule pair app <-> database) -> destroy
//! leaves nothing behind -> local down. local.tfvars has `database_enabled = true`, so the RDS
//! instance (core layer) is created and destroyed here; `deploy --env local` skips the migration
//! task (the emulator runs no tasks).
//!
//! Needs terraform with the AWS provider (offline machines: XTASK_TF_MIRROR, set by .ci/run).
//! Runs in a scratch copy of infra/ so it never touches a developer's own local environment.
//!
//! It never builds or runs the app, so `cargo xtask ci` reuses its last result while only app/
//! changed (see xtask/src/commands/test/cache.rs):
//! test-cache-ignores: app/
//! test-expected-seconds: 470

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use support::{Scratch, XTASK, changes, free_port, gaps, repo, tools_python};

#[test]
fn local_environment_end_to_end() {
    if Command::new("terraform").arg("version").output().is_err() {
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

    let python = tools_python();
    let checks = repo().join("xtask/tests/local_env_checks.py");
    // The alarms the checks expect are the ones Terraform's state holds (no hand-kept count).
    let alarms = serde_json::to_string(&alarm_names(&root)).unwrap();
    let out = Command::new(&python).arg(&checks).arg(&endpoint).args(["applied", &alarms]).output().unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "checks after apply failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    drift_reports_a_change_made_behind_terraforms_back(&s, &python, &endpoint);
    deploy_terraform_changes_as_the_deploy_role(&s, &python, &checks, &endpoint);

    s.ok(&["destroy", "--env", "local", "--yes"]);
    let out = Command::new(&python).arg(&checks).arg(&endpoint).arg("destroyed").output().unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "leftovers after destroy:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

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

/// Issue #12 item 5 and the deploy role's own permissions:
/// 1. deploy image A (admin credentials): the service runs a deploy-registered revision;
/// 2. change task_memory in the tfvars, plan + apply: Terraform registers a newer revision of
///    the family, the service (which ignores task_definition) stays put;
/// 3. take the GitHub deploy role's credentials, switch the emulator's IAM enforcement on, and
///    deploy image B with those credentials only (XTASK_EMULATOR_CREDENTIALS=caller);
/// 4. the service now runs a revision with the new memory AND image B.
fn deploy_terraform_changes_as_the_deploy_role(s: &Scratch, python: &Path, checks: &Path, endpoint: &str) {
    const IMAGE_A: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/rdeploy-local-app:aaaaaaa";
    const IMAGE_B: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/rdeploy-local-app:bbbbbbb";
    s.ok(&["deploy", "--env", "local", "--image", IMAGE_A]);

    let tfvars = s.root.join("infra/envs/local.tfvars");
    let text = std::fs::read_to_string(&tfvars).unwrap();
    assert!(text.contains("task_memory   = 512"), "local.tfvars sets task_memory = 512");
    std::fs::write(&tfvars, text.replace("task_memory   = 512", "task_memory   = 1024")).unwrap();
    s.ok(&["plan", "--env", "local"]);
    s.ok(&["apply", "--env", "local"]);

    let out = Command::new(python).arg(checks).arg(endpoint).arg("assume-deploy-role").output().unwrap();
    assert!(out.status.success(), "assume role: {}", String::from_utf8_lossy(&out.stderr));
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let creds_file = s.root.join("target/local/deploy-role.json");
    std::fs::write(&creds_file, &out.stdout).unwrap();
    let mut deploy = Command::new(XTASK);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            deploy.env_remove(k);
        }
    }
    for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
        deploy.env(key, creds[key].as_str().unwrap());
    }
    let out = deploy
        .env("XTASK_ROOT", &s.root)
        .env("XTASK_EMULATOR_CREDENTIALS", "caller")
        .args(["deploy", "--env", "local", "--image", IMAGE_B])
        .output()
        .unwrap();
    // Whatever happened, turn enforcement off again (and prove it was on) before asserting.
    let role = Command::new(python).arg(checks).arg(endpoint).arg("as-deploy-role").arg(&creds_file).output().unwrap();
    println!("{}", String::from_utf8_lossy(&role.stdout));
    assert!(
        out.status.success(),
        "deploy as the deploy role failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        role.status.success(),
        "IAM enforcement was not on during the deploy: {}",
        String::from_utf8_lossy(&role.stderr)
    );

    let out = Command::new(python).arg(checks).arg(endpoint).args(["deployed", "1024", IMAGE_B]).output().unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "after the deploy:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue #13, drift: on the applied stack, `drift` is clean (the emulator's known read-back gaps
/// are not drift); after boto3 changes the ECR repository behind Terraform's back, it exits 3
/// and names the resource and the attribute; once changed back, it is clean again.
fn drift_reports_a_change_made_behind_terraforms_back(s: &Scratch, python: &Path, endpoint: &str) {
    let clean = s.xtask(&["drift", "--env", "local"]);
    let out = String::from_utf8_lossy(&clean.stdout).into_owned();
    assert_eq!(clean.status.code(), Some(0), "no drift right after apply:\n{out}");
    assert!(out.contains("drift local/shared: none") && out.contains("drift local/app: none"), "{out}");

    let mutability = |value: &str| {
        let script = format!(
            "import boto3\nboto3.client('ecr', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test').put_image_tag_mutability(repositoryName='rdeploy-local-app', imageTagMutability='{value}')"
        );
        let out = Command::new(python).args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "boto3: {}", String::from_utf8_lossy(&out.stderr));
    };
    mutability("MUTABLE");
    let drifted = s.xtask(&["drift", "--env", "local"]);
    let out = String::from_utf8_lossy(&drifted.stdout).into_owned();
    assert_eq!(drifted.status.code(), Some(3), "drift exits 3:\n{out}");
    assert!(
        out.contains("update aws_ecr_repository.app") || out.contains("update module.ecr.aws_ecr_repository"),
        "names the resource: {out}"
    );
    assert!(out.contains("image_tag_mutability"), "names the attribute: {out}");
    assert!(out.contains("drift local/core: none"), "the other layers stay clean: {out}");
    assert!(String::from_utf8_lossy(&drifted.stderr).contains("drift in local: layer(s) shared"));

    mutability("IMMUTABLE");
    assert_eq!(s.xtask(&["drift", "--env", "local"]).status.code(), Some(0), "clean again once reverted");
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
