//! Getting tools ready: check the system ones, install the pinned ones into the tools directory
//! (`cargo install --root`, one venv per pip tool). Takes the shell and the repository root; knows
//! nothing about commands or `--dry-run`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use super::catalog::{CHROMEDRIVER, CHROMIUM, PYTHON, Source, Tool};
use super::probe::{Probe, probe};
use super::tools_dir;
use crate::base::error::CodedError;

/// The command that installs the pinned version (shown by `doctor` and in errors).
pub fn install_hint(tool: &Tool, root: &Path) -> String {
    let dir = tools_dir(root);
    match tool.source {
        Source::Cargo { krate, .. } => {
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
pub fn prepare(sh: &Shell, root: &Path, tools: &[&'static Tool]) -> Result<()> {
    let path = sh.var_os("PATH").unwrap_or_default();
    let mut problems = Vec::new();
    let mut majors = Vec::new();
    for tool in tools.iter().filter(|t| matches!(t.source, Source::System { .. })) {
        match probe(tool, &path) {
            Probe::Ok { version, .. } => majors.push((tool.name, version.split('.').next().unwrap_or("").to_owned())),
            found => problems.push(missing_line(tool, &found, root)),
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
        return Err(CodedError::usage(problems.join("\n")));
    }
    let (pip, cargo): (Vec<&Tool>, Vec<&Tool>) = tools
        .iter()
        .copied()
        .filter(|t| !matches!(t.source, Source::System { .. }))
        .partition(|t| matches!(t.source, Source::Pip { .. }));
    // The cargo installs compile and the pip ones mostly download and unpack: on a fresh
    // machine they overlap, one thread each (a shell of its own: xshell's is not `Sync`).
    let mut built = false;
    let result = std::thread::scope(|scope| {
        let pip_sh = sh.clone();
        let pips = scope.spawn(move || pip.iter().try_for_each(|t| ready(&pip_sh, root, t, &mut false).map(drop)));
        let cargos = cargo.iter().try_for_each(|t| ready(sh, root, t, &mut built).map(drop));
        let pips = pips.join().unwrap_or_else(|_| Err(anyhow::anyhow!("installing the pip tools panicked")));
        cargos.and(pips)
    });
    if built {
        remove_build_dir(root)?;
    }
    result
}

/// Where `cargo install` builds: one directory for every cargo tool, so the crates they share
/// (clap, serde, tokio, ...) compile once per `prepare`, which removes it when done.
fn build_dir(root: &Path) -> PathBuf {
    tools_dir(root).join("cargo-build")
}

fn remove_build_dir(root: &Path) -> Result<()> {
    let dir = build_dir(root);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing the tool build directory {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Make sure the pinned `tool` is runnable, installing it into the tools directory if needed.
pub fn ensure(sh: &Shell, root: &Path, tool: &Tool) -> Result<PathBuf> {
    let mut built = false;
    let result = ready(sh, root, tool, &mut built);
    if built {
        remove_build_dir(root)?;
    }
    result
}

/// [`ensure`], leaving the cargo build directory for the next install; sets `built` when it ran
/// `cargo install` (only then may the caller remove that directory: another process's install
/// may be using it).
fn ready(sh: &Shell, root: &Path, tool: &Tool, built: &mut bool) -> Result<PathBuf> {
    let path = sh.var_os("PATH").unwrap_or_default();
    match probe(tool, &path) {
        Probe::Ok { path, .. } => return Ok(path),
        // A missing system tool is a configuration error (exit 2), in one line with its fix.
        found if matches!(tool.source, Source::System { .. }) => {
            return Err(CodedError::usage(missing_line(tool, &found, root)));
        }
        _ => {}
    }
    *built |= matches!(tool.source, Source::Cargo { .. });
    install(sh, root, tool).with_context(|| {
        format!("could not install {}; install it by hand with: {}", tool.name, install_hint(tool, root))
    })?;
    match probe(tool, &path) {
        Probe::Ok { path, .. } => Ok(path),
        other => {
            bail!("{} still not usable after installing it ({other:?}); try: {}", tool.name, install_hint(tool, root))
        }
    }
}

/// The release profile for tools that run for seconds: a quick build, not the fastest binary.
const FAST_BUILD: [(&str, &str); 4] = [
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
];

fn install(sh: &Shell, root: &Path, tool: &Tool) -> Result<()> {
    let dir = tools_dir(root);
    let (version, name) = (tool.version, tool.name);
    match tool.source {
        Source::Cargo { krate, optimized } => {
            let install_root = dir.join("cargo");
            eprintln!(
                "xtask: installing {name} {version} into {} (first use only; compiling takes a few minutes)",
                install_root.display()
            );
            let spec = format!("{krate}@{version}");
            let target = build_dir(root);
            let mut install =
                cmd!(sh, "cargo install --locked --quiet --root {install_root} --target-dir {target} {spec}");
            if !optimized {
                // Cargo's config (these variables) outranks the profile in the crate's manifest.
                for (var, value) in FAST_BUILD {
                    install = install.env(var, value);
                }
            }
            install.run()?;
        }
        Source::Pip { package, version } => {
            let venv = dir.join("venvs").join(name);
            if !venv.join("bin/pip").exists() {
                ensure(sh, root, &PYTHON)?;
                cmd!(sh, "python3 -m venv {venv}").quiet().run()?;
            }
            eprintln!("xtask: installing {name} ({package}=={version}) into {} (first use only)", venv.display());
            let pip = venv.join("bin/pip");
            let spec = format!("{package}=={version}");
            cmd!(sh, "{pip} install --quiet --disable-pip-version-check {spec}").run()?;
            let bin = dir.join("bin");
            std::fs::create_dir_all(&bin)?;
            let link = bin.join(tool.bin);
            // A link left by an earlier install: replace it (absent is fine).
            if let Err(e) = std::fs::remove_file(&link)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(e).with_context(|| format!("removing the old {}", link.display()));
            }
            std::os::unix::fs::symlink(venv.join("bin").join(tool.bin), &link)
                .with_context(|| format!("linking {} into {}", tool.bin, bin.display()))?;
        }
        Source::System { .. } => unreachable!("system tools are never installed by xtask"),
    }
    Ok(())
}
