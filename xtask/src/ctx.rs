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
            tools::ensure(self, tool).map_err(|e| step.failure(format!("{e:#}")))?;
        }
        // xshell echoes the command line itself ("$ cargo ...").
        let started = Instant::now();
        let result = step.cmd.run();
        if self.verbose {
            eprintln!("  ({} took {:.1}s)", step.name, started.elapsed().as_secs_f64());
        }
        result.map_err(|e| step.failure(e.to_string()))
    }
}

/// One external command: the tool that runs it and the exact argv.
pub struct Step<'a> {
    /// What the user reads in a failure ("clippy", "cargo-deny", ...).
    pub name: &'static str,
    /// The pinned tool to install on first use, if any.
    pub tool: Option<&'static Tool>,
    pub cmd: Cmd<'a>,
}

impl<'a> Step<'a> {
    pub fn new(name: &'static str, tool: Option<&'static Tool>, cmd: Cmd<'a>) -> Self {
        Self { name, tool, cmd }
    }

    fn failure(&self, detail: String) -> StepFailure {
        StepFailure { name: self.name, command: self.to_string(), detail }
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
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
