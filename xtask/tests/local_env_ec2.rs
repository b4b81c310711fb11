//! The local environment with `compute = "ec2"` end to end against its own emulator: bad compute
//! settings fail the plan with one line naming the variable -> plan -> apply -> a second plan
//! shows only the emulator gaps in infra/envs/local.plan-gaps.txt + local.ec2.plan-gaps.txt ->
//! boto3 assertions on the Auto Scaling group, launch template, capacity provider and service
//! (local_env_ec2_checks.py) after the unchanged `cargo xtask deploy` -> destroy leaves nothing behind -> local down.
//!
//! Runs in a scratch copy of infra/ whose envs/local.tfvars says `compute = "ec2"`, so names
//! still derive from the env file and the developer's own local environment is never touched.
//! Independent of local_env.rs (own scratch root, own emulator port): nextest runs both at once.
//!
//! It never builds or runs the app (the deploy uses a made-up image URI), so `cargo xtask ci`
//! reuses its last result while only app/ changed (see xtask/src/commands/test/cache.rs):
//! test-cache-ignores: app/
//! test-expected-seconds: 260

mod support;

use support::{Scratch, changes, gaps, have_terraform, run_checks};

/// `text` with the top-level assignment of `key` replaced by `key = value` (exactly one).
fn set(text: &str, key: &str, value: &str) -> String {
    let mut hits = 0;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.split('=').next().is_some_and(|k| k.trim() == key) && !l.trim_start().starts_with('#') {
                hits += 1;
                format!("{key} = {value}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_eq!(hits, 1, "{key} must be set exactly once in the env file");
    out.join("\n") + "\n"
}

#[test]
fn local_environment_on_ec2_end_to_end() {
    if !have_terraform() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    let s = Scratch::new("local-env-ec2");
    let tfvars = s.tfvars("local");
    // The database is local_env.rs's part (it is the same on both compute types): off here, which
    // saves the emulator's fixed RDS create/delete waits (~80 s) in this test.
    let ec2 = set(&set(&std::fs::read_to_string(&tfvars).unwrap(), "compute", "\"ec2\""), "database_enabled", "false");
    let port = support::free_port().to_string();
    s.ok(&["local", "up", "--port", &port]);
    let endpoint = std::fs::read_to_string(s.root.join("target/local/endpoint")).unwrap();

    // Bad input: the plan fails at its first layer with exactly one error, whose message line
    // names the variable, and saves no plan.
    let too_small = set(&set(&ec2, "task_cpu", "1024"), "task_memory", "2048");
    let bad = [
        (set(&ec2, "compute", "\"lambda\""), "compute", "compute must be \"fargate\" or \"ec2\"."),
        (
            set(&ec2, "ec2_instance_type", "\"t3.nano\""),
            "ec2_instance_type",
            "ec2_instance_type must be one of: t3.small",
        ),
        (too_small, "ec2_instance_type", "ec2_instance_type is too small for the task"),
        (set(&ec2, "ec2_min_size", "3"), "ec2_max_size", "ec2_min_size must not exceed ec2_max_size."),
    ];
    for (text, var, message) in bad {
        std::fs::write(&tfvars, text).unwrap();
        let out = s.xtask(&["plan", "--env", "local", "--layer", "shared"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{var}: plan must fail");
        assert_eq!(err.matches("Error: Invalid value for variable").count(), 1, "{var}: one error\n{err}");
        assert_eq!(err.lines().filter(|l| l.trim() == message || l.trim().starts_with(message)).count(), 1, "{err}");
        assert!(err.contains(&format!("var.{var} is ")), "terraform names var.{var}:\n{err}");
        // xtask records a layer's plan (shared.json) only after a successful plan; apply needs it.
        assert!(!s.root.join("target/plans/local/shared.json").exists(), "{var}: no plan recorded");
    }
    let refused = s.xtask(&["apply", "--env", "local"]);
    assert_eq!(refused.status.code(), Some(2), "nothing planned, nothing to apply");
    std::fs::write(&tfvars, &ec2).unwrap();

    // A first bootstrap is two reviewed passes: the app layer reads shared's and core's outputs,
    // so it is planned (and applied) only once they exist; apply never plans.
    let first = s.ok(&["plan", "--env", "local"]);
    assert!(first.contains("local/shared:") && first.contains("to create"), "{first}");
    s.ok(&["apply", "--env", "local"]);
    let second = s.ok(&["plan", "--env", "local"]);
    assert!(second.contains("local/app:") && second.contains("to create"), "app is planned in pass 2: {second}");
    s.ok(&["apply", "--env", "local"]);

    // Second plan: nothing but the documented emulator gaps (fargate's and ec2's).
    s.ok(&["plan", "--env", "local"]);
    let mut seen = std::collections::BTreeSet::new();
    for layer in ["shared", "core", "app"] {
        seen.extend(changes(&s.root, layer));
    }
    let mut allowed = gaps("local.plan-gaps.txt", false);
    allowed.extend(gaps("local.ec2.plan-gaps.txt", false));
    let unexpected: Vec<_> = seen.difference(&allowed).collect();
    assert!(unexpected.is_empty(), "second plan has changes beyond the allow-lists: {unexpected:?}");

    // The same deploy as on Fargate: a new revision (still requiring EC2), UpdateService; the
    // emulator runs no tasks, so it stops there (exit 0).
    let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/rdeploy-local-app:ec2e2e";
    let out = s.ok(&["deploy", "--env", "local", "--image", image]);
    assert!(out.contains("emulator runs no tasks"), "{out}");

    let tfvars_arg = tfvars.to_string_lossy().into_owned();
    run_checks("local_env_ec2_checks.py", &[&endpoint, "applied", &tfvars_arg, image]);

    s.ok(&["destroy", "--env", "local", "--yes"]);
    run_checks("local_env_ec2_checks.py", &[&endpoint, "destroyed", &tfvars_arg]);

    s.ok(&["local", "down"]);
    assert!(!s.root.join("target/local/endpoint").exists());
}
