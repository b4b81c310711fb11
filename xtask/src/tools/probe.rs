//! Finding a tool and reading its version (runs `--version`-style commands, installs nothing).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::catalog::{Locate, Source, Tool};
use crate::base::rustc;

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
    let rustc = rustc::version_info()?;
    let llvm = rustc.field("LLVM version")?;
    let major = llvm.split('.').next().unwrap_or_default().to_owned();
    if let (Some(cov), Some(profdata)) = (std::env::var_os("LLVM_COV"), std::env::var_os("LLVM_PROFDATA")) {
        return Ok(Llvm { cov: cov.into(), profdata: profdata.into(), origin: "LLVM_COV/LLVM_PROFDATA".into(), major });
    }
    let host = rustc.field("host")?;
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
    if let (true, Source::Cargo { krate, .. }) = (tool.version_args.is_empty(), tool.source) {
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
