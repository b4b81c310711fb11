//! What every command gets: one `xshell::Shell` rooted at the repository, the global flags, and
//! a way to run a [`Step`] (an external command as data: printed in `--dry-run`, run otherwise).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use xshell::{Cmd, Shell};

use crate::tools::{self, Tool};

pub struct Ctx {
    pub sh: Shell,
    pub root: PathBuf,
    pub dry_run: bool,
    pub verbose: bool,
}

impl Ctx {
    /// A context rooted at `root`, with the project's tool directories first on PATH so a pinned
    /// tool installed by xtask wins over whatever else is installed.
    pub fn new(root: &Path, dry_run: bool, verbose: bool) -> Result<Self> {
        let sh = Shell::new()?;
        sh.change_dir(root);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = tools::bin_dirs(root);
        dirs.extend(std::env::split_paths(&path));
        sh.set_var("PATH", std::env::join_paths(dirs)?);
        // Never let rustup download a toolchain or component behind the user's back.
        sh.set_var("RUSTUP_AUTO_INSTALL", "0");
        Ok(Self { sh, root: root.to_owned(), dry_run, verbose })
    }

    /// The repository root: `XTASK_ROOT` if set (tests point it at a scratch project), else the
    /// workspace this xtask was built from.
    pub fn repo_root() -> PathBuf {
        if let Some(root) = std::env::var_os("XTASK_ROOT") {
            return PathBuf::from(root);
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
    }

    /// Run (or, with `--dry-run`, print) one step; make sure its tool is installed first.
    pub fn run(&self, step: &Step<'_>) -> Result<(), StepFailure> {
        if self.dry_run {
            println!("{step}");
            return Ok(());
        }
        if let Some(tool) = step.tool {
            tools::ensure(self, tool).map_err(|e| {
                // A missing system tool is a configuration error: exit 2, like the README says.
                let code = e.downcast_ref::<Exit>().map_or(1, |x| x.code);
                StepFailure { code, ..step.failure(format!("{e:#}")) }
            })?;
        }
        let started = Instant::now();
        if let Some(diagnose) = step.diagnose {
            return self.run_diagnosed(step, diagnose, started);
        }
        // xshell echoes the command line itself ("$ cargo ...").
        let result = step.cmd.run();
        if self.verbose {
            eprintln!("  ({} took {:.1}s)", step.name, started.elapsed().as_secs_f64());
        }
        result.map_err(|e| step.failure(e.to_string()))
    }

    /// A step whose output is read on failure: printed as usual, then `diagnose` may turn it
    /// into one line saying what to do (e.g. which environment variable an offline machine needs).
    fn run_diagnosed(&self, step: &Step<'_>, diagnose: Diagnose, started: Instant) -> Result<(), StepFailure> {
        if !self.quiet_echo(step) {
            eprintln!("$ {step}");
        }
        let out = step.cmd.output().map_err(|e| step.failure(e.to_string()))?;
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(&out.stdout);
        let _ = std::io::stderr().write_all(&out.stderr);
        if self.verbose {
            eprintln!("  ({} took {:.1}s)", step.name, started.elapsed().as_secs_f64());
        }
        if out.status.success() {
            return Ok(());
        }
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let detail = match diagnose(&text) {
            Some(hint) => format!("{} ({})\n{hint}", step.name, out.status),
            None => format!("{} ({})", step.name, out.status),
        };
        Err(step.failure(detail))
    }

    fn quiet_echo(&self, step: &Step<'_>) -> bool {
        format!("{:?}", step.cmd).contains("quiet: true")
    }
}

/// cargo-audit could not download the RustSec database (offline machine).
pub fn advisory_db_hint(output: &str) -> Option<String> {
    output.contains("couldn't fetch advisory database").then(|| {
        "cargo-audit could not download the RustSec advisory database (no access to github.com?). \
         Offline, set XTASK_ADVISORY_DB=<directory with a copy of https://github.com/RustSec/advisory-db> \
         (`.ci/run` sets it on the CI machines)."
            .to_owned()
    })
}

/// terraform could not download a provider (offline machine, or no access to the registry).
pub fn provider_mirror_hint(output: &str) -> Option<String> {
    let download = [
        "could not connect to registry.terraform.io",
        "Failed to query available provider packages",
        "Failed to install provider",
        "Could not retrieve the list of available versions for provider",
    ];
    download.iter().any(|d| output.contains(d)).then(|| {
        "terraform could not download a provider from registry.terraform.io. Offline, set \
         XTASK_TF_MIRROR=<directory holding registry.terraform.io/hashicorp/aws/...> (a provider mirror, \
         made with `terraform providers mirror <dir>` where the registry is reachable; `.ci/run` sets it)."
            .to_owned()
    })
}

/// Reads a failed step's output; returns what to do about it, if it recognises the failure.
pub type Diagnose = fn(&str) -> Option<String>;

/// One external command: the tool that runs it and the exact argv.
pub struct Step<'a> {
    /// What the user reads in a failure ("clippy", "cargo-deny", ...).
    pub name: &'static str,
    /// The pinned tool to install on first use, if any.
    pub tool: Option<&'static Tool>,
    pub cmd: Cmd<'a>,
    pub diagnose: Option<Diagnose>,
}

impl<'a> Step<'a> {
    pub fn new(name: &'static str, tool: Option<&'static Tool>, cmd: Cmd<'a>) -> Self {
        Self { name, tool, cmd, diagnose: None }
    }

    /// Capture the output (still printed) and let `diagnose` explain a failure.
    pub fn diagnosed(name: &'static str, tool: Option<&'static Tool>, cmd: Cmd<'a>, diagnose: Diagnose) -> Self {
        Self { name, tool, cmd: cmd.ignore_status(), diagnose: Some(diagnose) }
    }

    fn failure(&self, detail: String) -> StepFailure {
        StepFailure { name: self.name, command: self.to_string(), detail, code: 1 }
    }
}

impl fmt::Display for Step<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.cmd.fmt(f)
    }
}

/// A failed step: which tool, how to reproduce it, and what it said.
#[derive(Debug)]
pub struct StepFailure {
    pub name: &'static str,
    pub command: String,
    pub detail: String,
    /// Process exit code: 1 the step failed, 2 its tool is missing (configuration error).
    pub code: u8,
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == 2 {
            // The tool is missing: the one line that says which and how to fix it.
            return f.write_str(self.detail.trim());
        }
        write!(f, "{} failed; reproduce with: {}", self.name, self.command)?;
        if !self.detail.is_empty() {
            write!(f, "\n  {}", self.detail.trim().replace('\n', "\n  "))?;
        }
        Ok(())
    }
}

impl std::error::Error for StepFailure {}

/// An error that carries the process exit code (deploy and plan document theirs).
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// Usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Self::new(2, message).into()
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}
