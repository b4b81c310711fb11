//! Day 2 on the local environment, against a fresh emulator of its own (local_env.rs covers
//! the first apply and the destroy; the two run side by side): local up -> the two reviewed
//! apply passes -> `drift` is clean, then names a change made behind Terraform's back -> a
//! deploy, a Terraform change to the task definition, and a deploy as the GitHub deploy role
//! with the emulator's IAM enforcement on -> local down.
//!
//! Needs terraform with the AWS provider (offline machines: XTASK_TF_MIRROR, set by .ci/run).
//! Runs in a scratch copy of infra/ so it never touches a developer's own local environment.
//!
//! It never builds or runs the app (see local_env.rs):
//! test-cache-ignores: app/
//! test-expected-seconds: 420

mod support;

use std::path::Path;
use std::process::Command;

use support::{Scratch, XTASK, free_port, have_terraform, repo, run_checks, tools_python};

#[test]
fn drift_and_deploys_on_the_applied_local_environment() {
    if !have_terraform() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    let s = Scratch::new("local-day2");
    let port = free_port().to_string();
    s.ok(&["local", "up", "--port", &port]);
    let endpoint = format!("http://127.0.0.1:{port}");
    // The first bootstrap's two passes (local_env.rs asserts what each one prints).
    for _pass in 0..2 {
        s.ok(&["plan", "--env", "local"]);
        s.ok(&["apply", "--env", "local"]);
    }
    let python = tools_python();
    let checks = repo().join("xtask/tests/local_env_checks.py");
    drift_reports_a_change_made_behind_terraforms_back(&s, &python, &endpoint);
    deploy_terraform_changes_as_the_deploy_role(&s, &python, &checks, &endpoint);
    s.ok(&["local", "down"]);
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

    run_checks("local_env_checks.py", &[endpoint, "deployed", "1024", IMAGE_B]);
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
