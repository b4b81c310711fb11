//! `cargo xtask setup`: get the tools some commands need, up front (install what xtask installs,
//! name what the system must provide); `--cache-key` names the tools cache CI keeps.

use anyhow::Result;
use clap::Args;
use sha2::{Digest, Sha256};

use crate::base::error::CodedError;
use crate::base::hex;
use crate::run::Ctx;
use crate::tools::{self, Hosted, Source, Tool};

#[derive(Debug, Clone, Default, Args)]
pub struct SetupArgs {
    /// Only what these commands need (comma-separated xtask commands, e.g. `ci` or `image,deploy`).
    /// Default: every tool in the table.
    #[arg(long = "for", value_delimiter = ',', value_name = "COMMAND")]
    pub commands: Vec<String>,
    /// Print the key of the tools cache instead: a hash of the pin of every tool xtask installs,
    /// the OS, the CPU and the Python version. In GitHub Actions it is also the step output `key`.
    #[arg(long)]
    pub cache_key: bool,
}

pub fn run(ctx: &Ctx, args: &SetupArgs, commands: &[String]) -> Result<()> {
    if args.cache_key {
        let key = cache_key(&python_version(ctx));
        println!("{key}");
        if let Some(out) = std::env::var_os("GITHUB_OUTPUT") {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(out)?;
            writeln!(f, "key={key}")?;
        }
        return Ok(());
    }
    let wanted = selected(args, commands)?;
    tools::system_install::provision(&ctx.sh, ctx.dry_run, &wanted)?;
    ctx.prepare(&wanted)?;
    if !ctx.dry_run {
        let names: Vec<&str> = wanted.iter().map(|t| t.name).collect();
        println!("setup: ready: {}", names.join(", "));
    }
    Ok(())
}

/// The tools of `--for` (all of them by default); an unknown command is a usage error.
fn selected(args: &SetupArgs, commands: &[String]) -> Result<Vec<&'static Tool>> {
    if args.commands.is_empty() {
        return Ok(tools::ALL.to_vec());
    }
    let mut wanted: Vec<&'static Tool> = Vec::new();
    for command in &args.commands {
        if !commands.contains(command) {
            return Err(CodedError::usage(format!(
                "unknown command '{command}' in --for; commands: {}",
                commands.join(", ")
            )));
        }
        for tool in tools::needed_by(command) {
            if !wanted.contains(&tool) {
                wanted.push(tool);
            }
        }
    }
    wanted.sort_by_key(|t| tools::ALL.iter().position(|a| a == t));
    Ok(wanted)
}

fn python_version(ctx: &Ctx) -> String {
    let path = ctx.sh.var_os("PATH").unwrap_or_default();
    match tools::probe(&tools::PYTHON, &path) {
        tools::Probe::Ok { version, .. } | tools::Probe::WrongVersion { version, .. } => version,
        _ => "none".into(),
    }
}

/// `xtask-tools-<os>-<arch>-<hash>`: changes when a pin of a tool xtask installs changes, and
/// with the Python the venvs were made with (a venv links to its interpreter).
pub fn cache_key(python: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("xtask-tools 1\npython {python}\n").as_bytes());
    for tool in tools::ALL.iter().filter(|t| t.hosted == Hosted::Xtask) {
        let source = match tool.source {
            Source::Cargo { krate, .. } => format!("cargo {krate}@{}", tool.version),
            Source::Pip { package, version } => format!("pip {package}=={version}"),
            Source::System { .. } => continue,
        };
        h.update(format!("{} {source}\n", tool.name).as_bytes());
    }
    let hash = hex::encode(&h.finalize()[..8]);
    format!("xtask-tools-{}-{}-{hash}", std::env::consts::OS, std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_key_follows_the_python_and_has_a_stable_shape() {
        let key = cache_key("3.12.3");
        assert_eq!(key, cache_key("3.12.3"));
        assert_ne!(key, cache_key("3.13.0"));
        assert!(key.starts_with(&format!("xtask-tools-{}-{}-", std::env::consts::OS, std::env::consts::ARCH)), "{key}");
        assert_eq!(key.rsplit('-').next().unwrap().len(), 16);
    }

    #[test]
    fn for_selects_the_tools_of_those_commands_and_rejects_unknown_ones() {
        let commands = vec!["lint".to_owned(), "deploy".to_owned(), "plan".to_owned()];
        let names =
            |args: &SetupArgs| -> Vec<&str> { selected(args, &commands).unwrap().iter().map(|t| t.name).collect() };
        let plan = SetupArgs { commands: vec!["plan".into()], cache_key: false };
        assert_eq!(names(&plan), ["terraform"]);
        let deploy = SetupArgs { commands: vec!["deploy".into()], cache_key: false };
        assert!(names(&deploy).is_empty(), "deploy talks to AWS through the SDK only");
        let lint = SetupArgs { commands: vec!["lint".into()], cache_key: false };
        assert!(names(&lint).contains(&"python3"), "pip-installed linters need python: {:?}", names(&lint));
        let bad = SetupArgs { commands: vec!["deploi".into()], cache_key: false };
        let err = selected(&bad, &commands).unwrap_err();
        assert_eq!(err.downcast_ref::<CodedError>().unwrap().code, 2);
    }
}
