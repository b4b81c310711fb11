//! `cargo xtask docs`: regenerate the reference pages from the code, so they cannot drift.
//! - docs/commands.md: every `cargo xtask` command's `--help`, in the order `cargo xtask --help`
//!   lists them, rendered in-process from clap (`Cli::command()`).
//! - docs/configuration.md: the app's `--help` (every setting, its flag, variable and default),
//!   from the app binary itself, run with an empty environment: the binary is what operators
//!   run, and xtask stays free of the app's dependencies (no `app` crate in xtask's build).
//!
//! Each page keeps its hand-written head above [`render::MARKER`]. `--check` only compares and
//! fails naming the command to run; the tests below and `app/tests/reference_docs.rs` do the
//! same, so `cargo xtask test` fails when a `--help` changed and the page did not.

pub mod render;

use anyhow::{Context, Result, bail};
use clap::{Args, Command};
use xshell::cmd;

use crate::base::error::CodedError;
use crate::run::{Ctx, Step};

pub const COMMANDS_PAGE: &str = "docs/commands.md";
pub const CONFIGURATION_PAGE: &str = "docs/configuration.md";

#[derive(Debug, Clone, Default, Args)]
pub struct DocsArgs {
    /// Only compare the pages with what the code prints; exit 1 naming each page that differs.
    #[arg(long)]
    pub check: bool,
}

const COMMANDS_HEAD: &str = "# Commands\n\nEvery `cargo xtask` command and its flags.\n\n";
const CONFIGURATION_HEAD: &str = "# Configuration\n\nEvery setting of the app.\n\n";

pub fn run(ctx: &Ctx, args: &DocsArgs, cli: Command) -> Result<()> {
    let commands = commands_page(read(ctx, COMMANDS_PAGE).as_deref(), cli);
    let Some(app_help) = app_help(ctx)? else { return Ok(()) }; // --dry-run
    let configuration = render::splice(
        read(ctx, CONFIGURATION_PAGE).as_deref(),
        CONFIGURATION_HEAD,
        &render::configuration(&app_help.0, &app_help.1),
    );
    let mut stale = Vec::new();
    for (page, text) in [(COMMANDS_PAGE, commands), (CONFIGURATION_PAGE, configuration)] {
        let on_disk = read(ctx, page);
        match render::drift(page, on_disk.as_deref(), &text) {
            None => println!("docs: {page} is up to date"),
            Some(message) if args.check => stale.push(message),
            Some(_) => {
                std::fs::write(ctx.root.join(page), &text).with_context(|| format!("writing {page}"))?;
                println!("docs: wrote {page}");
            }
        }
    }
    if !stale.is_empty() {
        return Err(CodedError::new(1, stale.join("\n")).into());
    }
    Ok(())
}

fn read(ctx: &Ctx, page: &str) -> Option<String> {
    std::fs::read_to_string(ctx.root.join(page)).ok()
}

/// docs/commands.md for `cli` (the root `Command`), keeping `page`'s hand-written head.
pub fn commands_page(page: Option<&str>, cli: Command) -> String {
    let mut cli = hide_env_values(cli);
    cli.build();
    let mut out = render::section(2, "cargo xtask --help", &cli.render_long_help().to_string());
    for sub in cli.get_subcommands().filter(|c| c.get_name() != "help") {
        sections(&mut out, 2, sub);
    }
    render::splice(page, COMMANDS_HEAD, &out)
}

/// `sub`'s help, then its own subcommands' (`local up`, ...), one heading level deeper.
fn sections(out: &mut String, level: usize, sub: &Command) {
    let title = format!("{} --help", sub.get_bin_name().unwrap_or(sub.get_name()));
    out.push_str(&render::section(level, &title, &sub.clone().render_long_help().to_string()));
    for inner in sub.get_subcommands().filter(|c| c.get_name() != "help") {
        sections(out, level + 1, inner);
    }
}

/// clap reads an `env` variable's value when the command is built: the page must not show this
/// machine's values (`XTASK_ADVISORY_DB=/home/...`), only the names.
fn hide_env_values(cmd: Command) -> Command {
    let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_owned()).collect();
    let cmd = cmd.mut_args(|a| a.hide_env_values(true));
    names.iter().fold(cmd, |cmd, name| cmd.mut_subcommand(name, hide_env_values))
}

/// `app --help` and `app --version`, from the app binary built by cargo, run with an empty
/// environment (so no `[env: PORT=5077]` from this shell). None in `--dry-run`.
fn app_help(ctx: &Ctx) -> Result<Option<(String, String)>> {
    let build = Step::new(
        "cargo build (app)",
        None,
        cmd!(ctx.sh, "cargo build --locked --quiet -p app --bin app --message-format=json"),
    );
    if ctx.dry_run {
        ctx.run(&build)?;
        println!("target/debug/app --help  # with an empty environment");
        return Ok(None);
    }
    eprintln!("$ {build}");
    let json = build.cmd.read().context("building the app (cargo build -p app)")?;
    let exe = json
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "app")
        .find_map(|m| m["executable"].as_str().map(std::path::PathBuf::from))
        .context("cargo build -p app reported no app executable")?;
    let run = |arg: &str| -> Result<String> {
        let mut cmd = std::process::Command::new(&exe);
        cmd.env_clear().arg(arg);
        // An instrumented build (coverage) writes its profile where this says, not into the cwd.
        if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
            cmd.env("LLVM_PROFILE_FILE", profile);
        }
        let out = cmd.output().with_context(|| format!("running {} {arg}", exe.display()))?;
        if !out.status.success() {
            bail!("{} {arg} failed ({}): {}", exe.display(), out.status, String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    Ok(Some((run("--help")?, run("--version")?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every relative link in the README and docs/ points at a file that exists.
    #[test]
    fn relative_links_in_the_docs_resolve() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let mut pages = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
        pages.extend(std::fs::read_dir(root.join("docs")).unwrap().flatten().map(|e| e.path()));
        for page in pages.iter().filter(|p| p.extension().is_some_and(|e| e == "md")) {
            let text = std::fs::read_to_string(page).unwrap();
            for target in text.split("](").skip(1).filter_map(|rest| rest.split(')').next()) {
                let file = target.split('#').next().unwrap();
                if file.is_empty() || file.contains("://") || file.starts_with("mailto:") {
                    continue;
                }
                let resolved = page.parent().unwrap().join(file);
                assert!(resolved.exists(), "{}: the link ({target}) points at nothing", page.display());
            }
        }
    }

    #[test]
    fn the_head_is_kept_and_only_the_generated_part_is_replaced() {
        let page = format!("# Mine\n\nhand-written\n{}\n\nold generated\n", render::MARKER);
        let new = render::splice(Some(&page), "# default\n", "new generated");
        assert_eq!(new, format!("# Mine\n\nhand-written\n{}\n\nnew generated\n", render::MARKER));
        assert!(render::splice(None, "# default\n\n", "x").starts_with("# default\n\n<!--"));
        let unmarked = render::splice(Some("# Mine, no marker yet\n\n"), "# default\n", "x");
        assert!(unmarked.starts_with("# Mine, no marker yet\n\n<!--"), "never lose hand-written text: {unmarked}");
    }

    #[test]
    fn drift_names_the_first_difference_and_the_command_to_run() {
        assert_eq!(render::drift("p.md", Some("a\nb\n"), "a\nb\n"), None);
        let message = render::drift("p.md", Some("a\nb\nc\n"), "a\nB\nc\n").unwrap();
        assert!(message.contains("line 2:\n  page: b\n  code: B"), "{message}");
        assert!(message.contains("Run `cargo xtask docs`"), "{message}");
        assert!(render::drift("p.md", None, "a").unwrap().contains("does not exist"));
    }

    #[test]
    fn the_build_commit_is_not_part_of_the_page() {
        let help = "      --app-version <APP_VERSION>\n          [env: APP_VERSION=]\n          [default: 0.1.0+1a2b3c4d5e6f]\n";
        let section = render::configuration(help, "app 0.1.0+1a2b3c4d5e6f\n");
        assert!(section.contains("[default: 0.1.0+<commit>]") && section.contains("[env: APP_VERSION]"), "{section}");
        assert!(!section.contains("1a2b3c"), "{section}");
    }
}
