//! Plans of the app layer for dev, without AWS. `compute = "fargate" | "ec2"`, both in one test:
//! infra/layers/app/tests/compute.tftest.hcl runs `terraform test` plans of the app layer with a
//! mocked provider and fixed shared/core outputs, using envs/dev.tfvars, and asserts what each
//! compute type creates (and that bad compute settings fail on the right variable).

mod support;

use support::{have_terraform, terraform_test};

#[test]
fn dev_plans_with_fargate_and_with_ec2() {
    if !have_terraform() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    let (ok, text) = terraform_test(
        "compute",
        "layers/app",
        &["-filter=tests/compute.tftest.hcl", "-var-file=../../envs/dev.tfvars"],
    );
    println!("{text}");
    assert!(ok, "terraform test failed:\n{text}");
    for run in ["fargate", "ec2", "unknown_compute", "instance_too_small", "min_above_max"] {
        assert!(text.contains(&format!("run \"{run}\"... pass")), "run {run} did not pass:\n{text}");
    }
}

/// Hostile traffic (issue #26), planned for dev: infra/layers/app/tests/hostile_traffic.tftest.hcl
/// (the ALB answers the probes itself from outside, on the listener that forwards; the task
/// definition drops every Linux capability).
#[test]
fn dev_plans_the_hostile_traffic_defences() {
    if !have_terraform() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    let (ok, text) = terraform_test(
        "hostile-traffic",
        "layers/app",
        &["-filter=tests/hostile_traffic.tftest.hcl", "-var-file=../../envs/dev.tfvars"],
    );
    println!("{text}");
    assert!(ok, "terraform test failed:\n{text}");
    for run in [
        "probes_are_not_public",
        "probes_rule_on_https_when_there_is_a_certificate",
        "the_container_has_no_capabilities",
    ] {
        assert!(text.contains(&format!("run \"{run}\"... pass")), "run {run} did not pass:\n{text}");
    }
}
