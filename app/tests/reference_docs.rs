//! docs/configuration.md is what `app --help` prints: this fails, naming `cargo xtask docs`,
//! when a setting's flag, variable, default or text changed and the page was not regenerated.
//! The page is rendered by the same code `cargo xtask docs` uses (included by path).

#[path = "../../xtask/src/commands/docs/render.rs"]
#[allow(dead_code)]
mod render;

use std::process::Command;

/// The binary with none of its variables set (as `cargo xtask docs` runs it: empty environment).
fn app(arg: &str) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_app"));
    for var in app::Cli::env_vars() {
        cmd.env_remove(var);
    }
    let out = cmd.arg(arg).output().unwrap();
    assert!(out.status.success(), "app {arg}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_configuration_page_is_what_app_help_prints() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
    let page = std::fs::read_to_string(path).ok();
    let generated = render::configuration(&app("--help"), &app("--version"));
    let expected = render::splice(page.as_deref(), "", &generated);
    if let Some(message) = render::drift("docs/configuration.md", page.as_deref(), &expected) {
        panic!("{message}");
    }
    // Every variable the app reads is on the page.
    for var in app::Cli::env_vars() {
        assert!(expected.contains(&format!("[env: {var}]")), "{var} is not on the page");
    }
}
