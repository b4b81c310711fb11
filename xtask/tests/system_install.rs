//! `setup` (like `ci`) provisions the missing system packages before any check: the hook, end to
//! end, on whatever machine runs this, without ever installing anything (`--dry-run`, or
//! `XTASK_NO_SYSTEM_INSTALL=1`). The decision itself is unit-tested in `src/system_install.rs`.
//!
//! test-cache-ignores: app/

use std::process::Command;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// xtask with Chromium "missing": `RDEPLOY_CHROME` points at nothing.
/// Never call it without `--dry-run` or the opt-out: on a machine where xtask may install, it would.
fn without_chromium(opt_out: bool, args: &[&str]) -> (Option<i32>, String, String) {
    assert!(opt_out || args.contains(&"--dry-run"), "this test must never install anything");
    let mut cmd = Command::new(XTASK);
    if opt_out {
        cmd.env("XTASK_NO_SYSTEM_INSTALL", "1");
    } else {
        cmd.env_remove("XTASK_NO_SYSTEM_INSTALL");
    }
    let out = cmd
        .env("RDEPLOY_CHROME", "/nonexistent/chromium")
        .env("RDEPLOY_CHROMEDRIVER", "/nonexistent/chromedriver")
        .args(args)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn opted_out_it_stops_before_any_check_naming_the_tools_and_one_command() {
    let (code, stdout, stderr) = without_chromium(true, &["setup", "--for", "test"]);
    assert_eq!(code, Some(2), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: missing system tools: "), "one list first: {stderr}");
    assert!(first.contains("chromium") && first.contains("chromedriver"), "{stderr}");
    assert!(first.contains("XTASK_NO_SYSTEM_INSTALL=1 is set"), "says why nothing was installed: {stderr}");
    assert!(stderr.contains("cargo xtask doctor"), "{stderr}");
    assert!(!stdout.contains("setup: ready") && !stderr.contains("installing"), "nothing ran: {stdout}{stderr}");
}

#[test]
fn dry_run_prints_the_install_command_and_runs_nothing() {
    let (code, stdout, stderr) = without_chromium(false, &["setup", "--dry-run", "--for", "test"]);
    let all = format!("{stdout}{stderr}");
    if stdout.contains("apt-get install") {
        // Debian/Ubuntu as root or with password-less sudo: the exact command, on stdout.
        let line = stdout.lines().find(|l| l.contains("apt-get install")).unwrap();
        assert!(line.contains("--no-install-recommends") && line.contains(" chromium chromium-driver"), "{line}");
        assert!(stdout.lines().any(|l| l.ends_with("apt-get update -qq")), "{stdout}");
        assert!(stderr.contains("would install the missing system tools ("), "{stderr}");
    } else if stdout.contains("brew install") {
        assert!(stdout.contains("homebrew/cask/chromium"), "{stdout}");
    } else {
        // A machine where xtask cannot install: it stops, naming chromium, exit 2.
        assert_eq!(code, Some(2), "{all}");
        assert!(stderr.contains("missing system tools: ") && stderr.contains("chromium"), "{all}");
    }
}
