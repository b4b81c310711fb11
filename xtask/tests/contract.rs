//! `cargo xtask contract` against the real app: its own OpenAPI document drives schemathesis.
//! Apart from cli.rs because it builds and runs the app: it reruns whenever app/ changes.
//! test-expected-seconds: 90

use std::process::Command;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

#[test]
fn contract_tests_pass_against_the_running_app() {
    let out = Command::new(XTASK).args(["contract", "--max-examples", "10"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("No issues found"), "{stdout}");
    assert!(stdout.contains("passed"), "{stdout}");
}
