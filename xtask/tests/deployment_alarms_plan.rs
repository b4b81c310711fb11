//! The ECS service carries the target-5xx and error-rate alarms as deployment alarms, with
//! rollback, planned for dev without AWS: infra/layers/app/tests/deployment_alarms.tftest.hcl
//! (mocked provider, fixed shared/core outputs, envs/dev.tfvars).

mod support;

use support::{have_terraform, terraform_test};

#[test]
fn dev_service_rolls_back_on_its_deployment_alarms() {
    if !have_terraform() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    let (ok, text) = terraform_test(
        "deployment-alarms",
        "layers/app",
        &["-filter=tests/deployment_alarms.tftest.hcl", "-var-file=../../envs/dev.tfvars"],
    );
    println!("{text}");
    assert!(ok, "terraform test failed:\n{text}");
    assert!(text.contains("run \"service_rolls_back_on_both_alarms\"... pass"), "the run did not pass:\n{text}");
}
