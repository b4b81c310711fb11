//! What every command gets: one `xshell::Shell` rooted at the repository, the global flags, and
//! a way to run a [`Step`] (an external command as data: printed in `--dry-run`, run otherwise).
//! It installs nothing on its own and knows no tool's failure modes: a command prepares its
//! tools up front ([`Ctx::prepare`]) and brings its own [`Diagnose`] hints.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use xshell::{Cmd, Shell};

use crate::base::error::CodedError;
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

    /// Get `tools` ready before a command's first step (nothing in `--dry-run`): the one place
    /// a command installs anything. [`Ctx::run`] never does.
    pub fn prepare(&self, tools: &[&'static Tool]) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        tools::prepare(&self.sh, &self.root, tools)
    }

    /// Run (or, with `--dry-run`, print) one step. Its tool must be ready ([`Ctx::prepare`]).
    pub fn run(&self, step: &Step<'_>) -> Result<(), CodedError> {
        if self.dry_run {
            println!("{step}");
            return Ok(());
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
    fn run_diagnosed(&self, step: &Step<'_>, diagnose: Diagnose, started: Instant) -> Result<(), CodedError> {
        if !step.quiet {
            eprintln!("$ {step}");
        }
        let out = step.cmd.output().map_err(|e| step.failure(e.to_string()))?;
        use std::io::Write as _;
        // Echoing the step's output to our own stdout/stderr: nothing to do if that fails.
        std::io::stdout().write_all(&out.stdout).ok();
        std::io::stderr().write_all(&out.stderr).ok();
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
    /// Run without echoing the command line (set with [`Step::quiet`], not read off `cmd`).
    pub quiet: bool,
    /// Variables set for this step only ([`Step::env`]), shown before the argv when printed.
    pub envs: Vec<(String, String)>,
}

impl<'a> Step<'a> {
    pub fn new(name: &'static str, tool: Option<&'static Tool>, cmd: Cmd<'a>) -> Self {
        Self { name, tool, cmd, diagnose: None, quiet: false, envs: vec![] }
    }

    /// Run it without echoing the command line (xshell's `.quiet()`, remembered here).
    pub fn quiet(mut self) -> Self {
        self.cmd = self.cmd.quiet();
        self.quiet = true;
        self
    }

    /// Set `key` for this step's process only; `--dry-run` and failures print it as `KEY=value`
    /// before the command, so the printed line is the one that runs.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        let value = value.into();
        self.cmd = self.cmd.env(key, &value);
        self.envs.push((key.to_owned(), value));
        self
    }

    /// Capture the output (still printed) and let `diagnose` explain a failure.
    pub fn diagnosed(name: &'static str, tool: Option<&'static Tool>, cmd: Cmd<'a>, diagnose: Diagnose) -> Self {
        Self { name, tool, cmd: cmd.ignore_status(), diagnose: Some(diagnose), quiet: false, envs: vec![] }
    }

    /// The error of this step failing (exit 1): which tool, how to reproduce it, what it said.
    pub fn failure(&self, detail: String) -> CodedError {
        let mut message = format!("{} failed; reproduce with: {self}", self.name);
        if !detail.trim().is_empty() {
            message.push_str(&format!("\n  {}", detail.trim().replace('\n', "\n  ")));
        }
        CodedError::new(1, message)
    }
}

impl fmt::Display for Step<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, value) in &self.envs {
            write!(f, "{key}={value} ")?;
        }
        self.cmd.fmt(f)
    }
}
