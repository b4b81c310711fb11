//! The xtask binary against scratch projects: each kind of breakage makes it exit non-zero with
//! a message naming the cause. `XTASK_ROOT` points xtask at the scratch project.
//!
//! Nothing here builds or runs the app (the contract test that does lives in contract.rs), so
//! `cargo xtask ci` reuses this binary's last result while only app/ changed:
//! test-cache-ignores: app/

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// A one-crate workspace in a fresh temp dir, with a lockfile (xtask passes --locked).
fn scratch(name: &str, lib_rs: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n"),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib_rs).unwrap();
    let ok = nested_cargo(&dir).args(["generate-lockfile", "--offline"]).status().unwrap().success();
    assert!(ok, "generate-lockfile in {}", dir.display());
    dir
}

/// Commands must not inherit the outer build's instrumentation or target dir.
fn clean_env(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_LLVM_COV")
            || k.starts_with("LLVM_PROFILE")
            || k.starts_with("CARGO_TARGET_")
            || k == "RUSTFLAGS"
            || k == "CARGO_ENCODED_RUSTFLAGS"
            || k == "CARGO_BUILD_TARGET_DIR"
            || k == "RUSTC_WRAPPER"
            || k == "CARGO_MAKEFLAGS"
            || k.starts_with("NEXTEST")
        {
            cmd.env_remove(&key);
        }
    }
    cmd
}

fn nested_cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    clean_env(&mut cmd).current_dir(dir);
    cmd
}

fn xtask(root: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(XTASK);
    clean_env(&mut cmd).env("XTASK_ROOT", root).current_dir(root).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unknown_subcommand_exits_2_with_help() {
    let out = Command::new(XTASK).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unrecognized subcommand 'frobnicate'"), "{err}");
    assert!(err.contains("Commands:") && err.contains("coverage"), "help listed: {err}");
}

#[test]
fn unknown_lint_check_is_a_usage_error() {
    let out = Command::new(XTASK).args(["lint", "--only", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown check 'nope'"));
}

#[test]
fn formatting_error_fails_lint_naming_rustfmt() {
    let dir = scratch("badfmt", "pub fn f( )->u8{ 1 }\n");
    let out = xtask(&dir, &["lint", "--only", "fmt"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("rustfmt failed; reproduce with: cargo fmt --all --check"), "{}", stderr(&out));
}

#[test]
fn clippy_warning_fails_lint_naming_clippy() {
    let dir = scratch("badclippy", "pub fn empty(v: &[u8]) -> bool {\n    v.len() == 0\n}\n");
    let out = xtask(&dir, &["lint", "--only", "clippy"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("len_zero"), "{err}");
    assert!(err.contains("clippy failed; reproduce with: cargo clippy --workspace"), "{err}");
}

#[test]
fn keep_going_reports_every_failure() {
    let dir = scratch("badboth", "pub fn empty(v: &[u8]) -> bool { v.len() == 0 }\n");
    let out = xtask(&dir, &["lint", "--only", "fmt,clippy", "--keep-going"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("2 lint check(s) failed"), "{err}");
    assert!(err.contains("- rustfmt: cargo fmt") && err.contains("- clippy: cargo clippy"), "{err}");
}

#[test]
fn failing_test_fails_test() {
    let dir = scratch("badtest", "#[test]\nfn broken() {\n    assert_eq!(1 + 1, 3, \"arithmetic\");\n}\n");
    let out = xtask(&dir, &["test"]);
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(all.contains("broken") && all.contains("arithmetic"), "the failure is printed: {all}");
    assert!(stderr(&out).contains("FAIL") && stderr(&out).contains("badtest"), "{all}");
    assert!(stderr(&out).contains("tests failed in: badtest"), "{all}");
}

#[test]
fn coverage_under_threshold_fails_with_value_and_gap() {
    let mut lib = String::from("pub fn covered() -> u32 { 1 }\n#[test]\nfn t() { assert_eq!(covered(), 1); }\n");
    for i in 0..20 {
        lib.push_str(&format!("pub fn uncovered_{i}(x: u32) -> u32 {{\n    let y = x + {i};\n    y * 2\n}}\n"));
    }
    let dir = scratch("lowcov", &lib);
    let out = xtask(&dir, &["coverage"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("TOTAL"), "per-file table with TOTAL: {stdout}");
    assert!(stdout.contains("below the 80% threshold by"), "{stdout}");
    assert!(dir.join("target/coverage/lcov.info").is_file());
    assert!(dir.join("target/coverage/html/index.html").is_file());
}

#[test]
fn known_advisory_fails_audit() {
    let Some(db) = std::env::var_os("XTASK_ADVISORY_DB") else {
        eprintln!("skipped: XTASK_ADVISORY_DB is not set (offline RustSec snapshot); .ci/run sets it");
        return;
    };
    let dir = scratch("vulnerable", "");
    // A lockfile pinning smallvec 0.6.9, which has RUSTSEC-2019-0009 (double free).
    let lock = "version = 4\n\n[[package]]\nname = \"vulnerable\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\nversion = \"0.6.9\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"c4488ae950c49d403731982257768f48fada354a5203fe81f9bb6f43ca9002be\"\n";
    std::fs::write(dir.join("Cargo.lock"), lock).unwrap();
    let out = Command::new(XTASK)
        .env("XTASK_ROOT", &dir)
        .env("XTASK_ADVISORY_DB", db)
        .args(["lint", "--only", "audit"])
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("RUSTSEC-2019-0009"), "{all}");
    assert!(stderr(&out).contains("cargo-audit failed; reproduce with: cargo audit"), "{all}");
}

#[test]
fn doctor_lists_every_tool_with_a_status_and_a_fix() {
    let out = Command::new(XTASK).arg("doctor").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for tool in [
        "cargo-llvm-cov",
        "cargo-deny",
        "cargo-audit",
        "shellcheck",
        "checkov",
        "moto",
        "terraform",
        "podman",
        "llvm-cov",
        "postgresql",
        "chromium",
        "chromedriver",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(tool)), "{tool} missing from doctor:\n{stdout}");
    }
    assert!(stdout.contains("tools directory:") && stdout.contains("terraform providers:"), "{stdout}");
}

#[test]
fn ci_dry_run_prints_lint_then_test_then_coverage() {
    let out = Command::new(XTASK).args(["ci", "--dry-run"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let at = |needle: &str| stdout.find(needle).unwrap_or_else(|| panic!("{needle} missing:\n{stdout}"));
    assert!(at("cargo fmt --all --check") < at("cargo clippy"));
    // The tests are built and run once, instrumented; the reports come from that one run.
    let build = "cargo test --workspace --locked --no-run";
    assert!(at("cargo clippy") < at(build));
    assert_eq!(stdout.matches(build).count(), 1, "the suite runs once: {stdout}");
    assert!(at(build) < at("cargo llvm-cov report"));
    assert!(!stdout.contains("llvm-cov nextest") && !stdout.contains("llvm-cov test"), "{stdout}");
    assert!(stdout.contains("cargo llvm-cov report --lcov --output-path target/coverage/lcov.info"));
}

/// A scratch project with one Terraform module that needs the AWS provider.
fn terraform_scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("infra/modules/m")).unwrap();
    std::fs::write(
        dir.join("infra/modules/m/main.tf"),
        "terraform {\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.100\"\n    }\n  }\n}\n",
    )
    .unwrap();
    dir
}

/// Without registry access (a proxy on a closed loopback port stands in for "offline") and
/// without XTASK_TF_MIRROR, the failure says which variable fixes it.
#[test]
fn offline_provider_download_names_xtask_tf_mirror() {
    let dir = terraform_scratch("tfoffline");
    let rc = dir.join("empty.tfrc");
    std::fs::write(&rc, "").unwrap();
    let mut cmd = Command::new(XTASK);
    clean_env(&mut cmd);
    for var in ["XTASK_TF_MIRROR", "TF_PLUGIN_CACHE_DIR", "TF_DATA_DIR"] {
        cmd.env_remove(var);
    }
    let out = cmd
        .env("XTASK_ROOT", &dir)
        .env("TF_CLI_CONFIG_FILE", &rc)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .args(["lint", "--only", "terraform"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("could not connect to registry.terraform.io"), "terraform's own error is shown: {err}");
    assert!(err.contains("set XTASK_TF_MIRROR="), "{err}");
}

/// Same for cargo-audit and its advisory database.
#[test]
fn offline_advisory_fetch_names_xtask_advisory_db() {
    let dir = scratch("auditoffline", "");
    let home = dir.join("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(XTASK);
    clean_env(&mut cmd);
    let out = cmd
        .env_remove("XTASK_ADVISORY_DB")
        .env("XTASK_ROOT", &dir)
        // A fresh CARGO_HOME: no advisory database left from an earlier fetch.
        .env("CARGO_HOME", &home)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .args(["lint", "--only", "audit"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("couldn't fetch advisory database"), "{err}");
    assert!(err.contains("set XTASK_ADVISORY_DB="), "{err}");
}

/// A missing system tool: exit 2 (configuration error), one line naming the fix, before any
/// check runs.
#[test]
fn missing_system_tool_is_one_line_and_exit_2() {
    let dir = terraform_scratch("notf");
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = Command::new(XTASK);
    clean_env(&mut cmd);
    let out = cmd.env("XTASK_ROOT", &dir).env("PATH", &empty).args(["lint", "--only", "terraform"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("terraform is not installed") && err.contains("developer.hashicorp.com"), "{err}");
}

/// `image --json`: stdout is one JSON document; everything else (here the dry-run's build steps,
/// printed with println by xtask itself) moved to stderr for the run.
#[test]
fn image_json_keeps_stdout_to_the_one_document() {
    let out =
        Command::new(XTASK).args(["image", "--env", "local", "--dry-run", "--json", "--allow-dirty"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line on stdout: {stdout}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (doc["schema"].as_u64(), doc["command"].as_str(), doc["ok"].as_bool(), doc["exit_code"].as_u64()),
        (Some(1), Some("image"), Some(true), Some(0)),
        "{doc}"
    );
    assert!(doc["image"].is_null() && doc["pinned"].is_null(), "a dry run builds nothing: {doc}");
    assert!(stderr(&out).contains("podman build"), "the steps went to stderr: {}", stderr(&out));

    let out = Command::new(XTASK).args(["image", "--env", "nope", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((doc["ok"].as_bool(), doc["exit_code"].as_u64()), (Some(false), Some(2)), "{doc}");
    assert!(doc["message"].as_str().unwrap().contains("unknown environment 'nope'"), "{doc}");
}
