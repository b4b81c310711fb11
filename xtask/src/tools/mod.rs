//! The one pinned list of external tools: where each comes from, which xtask commands use it,
//! how a GitHub-hosted runner gets it, how to detect it, and how to install it on first use.
//! Installs go under the project's tools directory (`target/tools`, or `XTASK_TOOLS_DIR`), never
//! globally: `cargo install --root`, and one Python venv per pip tool (their dependencies
//! conflict: checkov and schemathesis pin different `packaging`) with the tool's command linked
//! into `<tools>/bin`.
//!
//! This table is the single source for `doctor`, `setup`, the up-front checks of `test`/`ci`, the
//! workflows' tools-cache key, and the workflow contract test (`workflow_contract.rs`), which
//! fails when a job runs a command whose tool nothing installs.
//!
//! `catalog` is the data, `probe` finds and versions a tool, `install` gets one ready, `hints`
//! explains a tool's known offline failures.

mod catalog;
pub mod hints;
mod install;
mod probe;
pub mod system_install;

use std::path::{Path, PathBuf};

pub use catalog::*;
pub use install::*;
pub use probe::*;

/// Where xtask installs tools: `XTASK_TOOLS_DIR`, else `<root>/target/tools`.
pub fn tools_dir(root: &Path) -> PathBuf {
    std::env::var_os("XTASK_TOOLS_DIR").map_or_else(|| crate::base::paths::default_tools(root), PathBuf::from)
}

/// Directories prepended to PATH so pinned installs win.
pub fn bin_dirs(root: &Path) -> Vec<PathBuf> {
    let dir = tools_dir(root);
    vec![dir.join("cargo/bin"), dir.join("bin")]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fake executable that prints `output` for any arguments.
    fn fake(dir: &Path, bin: &str, output: &str) {
        let p = dir.join(bin);
        std::fs::write(&p, format!("#!/bin/sh\necho '{output}'\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-tools-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn found_with_the_pinned_version() {
        let d = scratch("found");
        fake(&d, "cargo-deny", "cargo-deny 0.20.2");
        let probe = probe(&CARGO_DENY, d.as_os_str());
        assert_eq!(probe, Probe::Ok { path: d.join("cargo-deny"), version: "0.20.2".into() });
    }

    #[test]
    fn cargo_install_record_gives_the_version_of_tools_without_version_output() {
        let root = scratch("record");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        fake(&root.join("bin"), "cargo-auditable", "'cargo auditable' should be invoked through Cargo");
        std::fs::write(root.join(".crates.toml"), "[v1]\n\"cargo-auditable 0.7.7 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"cargo-auditable\"]\n").unwrap();
        assert!(probe(&CARGO_AUDITABLE, root.join("bin").as_os_str()).is_ok());
        std::fs::write(root.join(".crates.toml"), "[v1]\n\"cargo-auditable 0.6.0 (registry)\" = []\n").unwrap();
        assert!(matches!(probe(&CARGO_AUDITABLE, root.join("bin").as_os_str()), Probe::WrongVersion { .. }));
    }

    #[test]
    fn missing() {
        let d = scratch("missing");
        assert_eq!(probe(&CARGO_DENY, d.as_os_str()), Probe::Missing);
    }

    #[test]
    fn wrong_version() {
        let d = scratch("wrong");
        fake(&d, "cargo-deny", "cargo-deny 0.14.1");
        assert!(
            matches!(probe(&CARGO_DENY, d.as_os_str()), Probe::WrongVersion { version, .. } if version == "0.14.1")
        );
    }

    #[test]
    fn first_dir_on_path_wins() {
        let (a, b) = (scratch("a"), scratch("b"));
        fake(&a, "zizmor", "zizmor 1.32.0");
        fake(&b, "zizmor", "zizmor 0.1.0");
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert!(probe(&ZIZMOR, &path).is_ok());
    }

    #[test]
    fn system_tools_accept_newer_versions_only() {
        let d = scratch("tf");
        fake(&d, "terraform", "Terraform v1.12.1\non linux_amd64");
        assert!(probe(&TERRAFORM, d.as_os_str()).is_ok());
        fake(&d, "terraform", "Terraform v1.5.7");
        assert!(matches!(probe(&TERRAFORM, d.as_os_str()), Probe::WrongVersion { .. }));
    }

    #[test]
    fn versions_are_read_from_typical_outputs() {
        assert_eq!(
            parse_version("ShellCheck - shell script analysis tool\nversion: 0.11.0\n").as_deref(),
            Some("0.11.0")
        );
        assert_eq!(parse_version("Haskell Dockerfile Linter 2.15.1").as_deref(), Some("2.15.1"));
        assert_eq!(parse_version("cargo-nextest 0.9.143 (60fa45f63 2026-08-04)").as_deref(), Some("0.9.143"));
        assert_eq!(parse_version("Python 3.11.7").as_deref(), Some("3.11.7"));
        assert_eq!(parse_version("no digits here"), None);
        assert!(version_matches(&TERRAFORM, "1.12.0"));
        assert!(!version_matches(&CARGO_DENY, "0.20.21"));
    }

    #[test]
    fn overrides_then_path_then_the_newest_versioned_directory() {
        let d = scratch("locate");
        for v in ["9.6", "15", "16"] {
            let bin = d.join("pg").join(v).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            fake(&bin, "initdb", &format!("initdb (PostgreSQL) {v}.1"));
        }
        let tool = Tool {
            locate: Locate::Override {
                var: "PG",
                dir: true,
                alternatives: &[],
                newest: Some(Box::leak(format!("{}/pg/*/bin", d.display()).into_boxed_str())),
            },
            ..POSTGRES
        };
        let empty = scratch("locate-empty");
        let none = |_: &str| None;
        assert_eq!(locate_with(&tool, empty.as_os_str(), none), Some(d.join("pg/16/bin/initdb")), "16 > 15 > 9.6");
        let on_path = scratch("locate-path");
        fake(&on_path, "initdb", "initdb (PostgreSQL) 17.0");
        assert_eq!(locate_with(&tool, on_path.as_os_str(), none), Some(on_path.join("initdb")));
        let set = |v: &str| (v == "PG").then(|| d.join("pg/15/bin").into_os_string());
        assert_eq!(locate_with(&tool, on_path.as_os_str(), set), Some(d.join("pg/15/bin/initdb")));
        // Chrome: the binary itself, or any of the usual names on PATH.
        let browsers = scratch("locate-chrome");
        fake(&browsers, "google-chrome", "Google Chrome 151.0.7922.137");
        assert_eq!(locate_with(&CHROMIUM, browsers.as_os_str(), none), Some(browsers.join("google-chrome")));
    }

    #[test]
    fn every_tool_is_used_by_a_command_and_says_how_a_runner_gets_it() {
        for tool in ALL {
            assert!(!tool.used_by.is_empty() || **tool == PYTHON, "{} is used by no command", tool.name);
            match tool.hosted {
                Hosted::Xtask => {
                    assert!(!matches!(tool.source, Source::System { .. }), "{}: xtask cannot install it", tool.name)
                }
                Hosted::Action { uses, .. } => assert_eq!(uses.split('/').count(), 2, "{}: owner/repo", tool.name),
                Hosted::RunnerImage { citation } => assert!(citation.starts_with("https://"), "{}", tool.name),
            }
        }
        let test: Vec<&str> = needed_by("test").iter().map(|t| t.name).collect();
        for name in ["terraform", "moto", "python3", "podman", "postgresql", "chromium", "chromedriver", "llvm-cov"] {
            assert!(test.contains(&name), "test needs {name}: {test:?}");
        }
        let ci: Vec<&str> = needed_by("ci").iter().map(|t| t.name).collect();
        assert!(ci.contains(&"checkov") && ci.contains(&"cargo-llvm-cov") && ci.contains(&"moto"), "{ci:?}");
    }

    #[test]
    fn every_installable_tool_has_an_install_command() {
        for tool in ALL {
            let hint = install_hint(tool, Path::new("/repo"));
            assert!(!hint.is_empty(), "{}", tool.name);
            if let Source::Cargo { krate, .. } = tool.source {
                assert!(hint.contains(&format!("{krate}@{}", tool.version)));
            }
        }
    }
}
