//! `cargo xtask`: the only way anything in this repository is linted, tested, built, planned,
//! applied or deployed. Every command prints the exact external commands it runs (`--dry-run`
//! prints them and runs nothing), so a laptop and CI run the same steps.
//!
//! test-expected-seconds: 110

mod base;
mod commands;
mod deploy;
mod env;
mod ops;
mod permissions;
mod promote;
mod run;
mod terraform;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tidy;
mod tools;
#[cfg(test)]
mod workflow_contract;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::base::error;
use crate::commands::{
    apply, bench, ci, contract, coverage, doctor, drift, image, lint, local, permissions as permissions_cli, plan,
    setup, test,
};
use crate::run::Ctx;

#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "Lint, test, build, plan, apply and deploy this project: the same commands on a laptop and in CI."
)]
#[command(
    after_help = "Start with `cargo xtask doctor` when anything fails.\nExit codes: 0 ok; 1 a check or step failed; 2 usage or configuration error (deploy and migrate document more)."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// Print the exact commands that would run, and run nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    /// Print more: timings of each external command.
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Static checks: rustfmt, clippy, shellcheck, cargo-deny, cargo-audit, terraform, checkov, hadolint, actionlint, zizmor.
    Lint(lint::LintArgs),
    /// Run every test in the workspace: each test binary built once, run side by side.
    Test(test::TestArgs),
    /// The tests, instrumented, then cargo-llvm-cov's table, TOTAL, lcov + HTML in target/coverage; fails under 80%.
    Coverage(coverage::CoverageArgs),
    /// What CI runs: tools, lint, the tests once with coverage (unchanged ones reused), coverage report; a timing table.
    Ci(ci::CiArgs),
    /// Benchmark the release app against bare axum with oha: req/s, p50/p99, RSS, startup.
    Bench(bench::BenchArgs),
    /// Contract tests: schemathesis, driven by the app's /openapi.json, against the app on 127.0.0.1.
    Contract(contract::ContractArgs),
    /// Check every external tool: version found, where, pin, and the command to fix it.
    Doctor,
    /// Regenerate docs/commands.md and docs/configuration.md from the code (--check only compares).
    Docs(commands::docs::DocsArgs),
    /// Install the system packages (apt-get, Homebrew) and pinned tools some commands need, or name them; --cache-key for CI's tools cache.
    Setup(setup::SetupArgs),
    /// Build the static binary and the FROM-scratch container image; scan it; --push to ECR.
    Image(image::ImageArgs),
    /// The state bucket's own state: migrate-state moves infra/bootstrap's local state into the bucket; plan runs against it.
    Bootstrap(commands::bootstrap::Args),
    /// Terraform plan of every layer (shared, core, app) for an environment; saves the plans.
    Plan(plan::PlanArgs),
    /// Read-only plan of every layer: exit 3 and a per-layer summary when the environment drifted from the code.
    Drift(drift::DriftArgs),
    /// Apply the saved plans in layer order (prod needs --yes).
    Apply(apply::ApplyArgs),
    /// Destroy an environment, layers in reverse order (asks for confirmation).
    Destroy(apply::DestroyArgs),
    /// The local AWS emulator: up, down, status.
    Local(local::LocalArgs),
    /// What each command needs from AWS in an environment (IAM actions and resources).
    Permissions(permissions_cli::PermissionsArgs),
    /// ECS rolling deploy of an image: register a revision, update the service, watch, roll back on failure.
    Deploy(commands::deploy::DeployArgs),
    /// Back to the previous revision that reached COMPLETED (or --to REVISION), watched like a deploy; no migration runs.
    Rollback(commands::rollback::RollbackArgs),
    /// The recent task definition revisions: image, registered when and by whom, whether each ever served.
    Revisions(commands::revisions::RevisionsArgs),
    /// The service, its deployments, tasks, target health and last events; exit 0 healthy, 1 degraded.
    Status(commands::status::StatusArgs),
    /// The app's CloudWatch log events: readable on a terminal, raw with --json; --follow polls.
    Logs(commands::logs::LogsArgs),
    /// A one-off task of the serving revision: `run --env E -- <app subcommand...>`; its exit code and last log lines.
    Run(commands::run::RunArgs),
    /// Run the database migrations alone: the app image as a one-off ECS task with command `migrate`.
    Migrate(commands::migrate::MigrateArgs),
    /// Print a shell completion script (bash, zsh or fish) for every command and flag.
    Completions(commands::completions::CompletionsArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            // Unknown command or bad flag: the error, then the full help, exit 2.
            eprintln!("{err}");
            if err.kind() == clap::error::ErrorKind::InvalidSubcommand {
                eprintln!("{}", <Cli as clap::CommandFactory>::command().render_long_help());
            }
            return ExitCode::from(2);
        }
    };
    let root = Ctx::repo_root();
    let result = Ctx::new(&root, cli.dry_run, cli.verbose).and_then(|ctx| match &cli.command {
        Cmd::Lint(args) => lint::run(&ctx, args),
        Cmd::Test(args) => test::run(&ctx, args),
        Cmd::Coverage(args) => coverage::run(&ctx, args),
        Cmd::Ci(args) => ci::run(&ctx, args),
        Cmd::Bench(args) => bench::run(&ctx, args),
        Cmd::Contract(args) => contract::run(&ctx, args),
        Cmd::Doctor => doctor::run(&ctx),
        Cmd::Docs(args) => commands::docs::run(&ctx, args, <Cli as clap::CommandFactory>::command()),
        Cmd::Setup(args) => setup::run(&ctx, args, &commands()),
        Cmd::Image(args) => image::run(&ctx, args),
        Cmd::Bootstrap(args) => commands::bootstrap::run(&ctx, args),
        Cmd::Plan(args) => plan::run(&ctx, args),
        Cmd::Drift(args) => drift::run(&ctx, args),
        Cmd::Apply(args) => apply::run(&ctx, args),
        Cmd::Destroy(args) => apply::destroy(&ctx, args),
        Cmd::Local(args) => local::run(&ctx, args),
        Cmd::Deploy(args) => commands::deploy::run(&ctx, args),
        Cmd::Migrate(args) => commands::migrate::run(&ctx, args),
        Cmd::Rollback(args) => commands::rollback::run(&ctx, args),
        Cmd::Revisions(args) => commands::revisions::run(&ctx, args),
        Cmd::Status(args) => commands::status::run(&ctx, args),
        Cmd::Logs(args) => commands::logs::run(&ctx, args),
        Cmd::Run(args) => commands::run::run(&ctx, args),
        Cmd::Permissions(args) => permissions_cli::run(&ctx, args),
        Cmd::Completions(args) => commands::completions::run(<Cli as clap::CommandFactory>::command(), args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = error::exit_code(&err);
            eprintln!("error: {err:#}");
            ExitCode::from(code)
        }
    }
}

/// The names of every subcommand (what `setup --for` accepts).
fn commands() -> Vec<String> {
    <Cli as clap::CommandFactory>::command().get_subcommands().map(|c| c.get_name().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
    /// A page of the repository as committed (docs/commands.md, README.md).
    fn docs_on_disk(page: &str) -> Option<String> {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/..").to_owned() + "/" + page).ok()
    }

    // The reference pages are rendered from this CLI tree: their drift tests live beside it.

    /// The drift test of docs/commands.md: it fails, naming `cargo xtask docs`, when any
    /// command's `--help` changed and the page was not regenerated.
    #[test]
    fn the_commands_page_is_what_every_help_prints() {
        let page = docs_on_disk(commands::docs::COMMANDS_PAGE);
        let expected = commands::docs::commands_page(page.as_deref(), Cli::command());
        if let Some(message) = commands::docs::render::drift(commands::docs::COMMANDS_PAGE, page.as_deref(), &expected)
        {
            panic!("{message}");
        }
    }

    #[test]
    fn every_command_is_on_the_page_in_help_order_with_its_full_usage() {
        let page = commands::docs::commands_page(None, Cli::command());
        let mut last = 0;
        for sub in Cli::command().get_subcommands() {
            let heading = format!("## `cargo xtask {} --help`", sub.get_name());
            let at = page.find(&heading).unwrap_or_else(|| panic!("{heading} missing"));
            assert!(at > last, "{heading} out of order");
            last = at;
        }
        assert!(page.contains("Usage: cargo xtask deploy [OPTIONS] --env <ENV>"), "bin names propagate");
        assert!(page.contains("### `cargo xtask local up --help`"), "nested commands get their own section");
        assert!(!page.contains("cargo xtask help"), "clap's own help command is not a command of ours");
        // Deploy's exit codes come from its EXIT_CODES, through --help.
        assert!(page.contains(crate::deploy::outcome::DEPLOY_EXIT_CODES.split("\n\n").next().unwrap()));
    }

    #[test]
    fn environment_values_of_this_machine_never_reach_the_page() {
        let page = commands::docs::commands_page(None, Cli::command());
        assert!(page.contains("[env: XTASK_ADVISORY_DB]"), "the name, without a value");
        assert!(!page.contains("[env: XTASK_ADVISORY_DB="));
    }

    /// The README is read by a newcomer in five minutes: at most 10 KiB, the reference lives in
    /// docs/. It still names every command, one line each.
    #[test]
    fn the_readme_is_short_and_names_every_command() {
        let readme = docs_on_disk("README.md").unwrap();
        assert!(readme.len() <= 10240, "README.md is {} bytes, over 10240: move the detail into docs/", readme.len());
        for sub in Cli::command().get_subcommands() {
            let line = format!("\n- `{}`: ", sub.get_name());
            assert!(readme.contains(&line), "README.md's command list has no line for `{}`", sub.get_name());
        }
        for command in ["cargo run -p app ", "cargo xtask ci "] {
            assert!(readme.contains(command), "the README's two commands stay as they are: {command}");
        }
    }

    /// Every subcommand, and a flag of a nested one, is in each shell's script.
    #[test]
    fn completions_name_every_subcommand() {
        let names = commands();
        assert!(names.len() > 15 && names.contains(&"deploy".to_owned()), "{names:?}");
        for shell in ["bash", "zsh", "fish"] {
            let text = String::from_utf8(
                commands::completions::script(&mut Cli::command(), shell, commands::completions::BIN).unwrap(),
            )
            .unwrap();
            for name in &names {
                assert!(text.contains(name.as_str()), "{shell}: no {name}");
            }
            assert!(text.contains("rollback-timeout") && text.contains("skip-migrations"), "{shell}: deploy's flags");
        }
        let bash = String::from_utf8(
            commands::completions::script(&mut Cli::command(), "bash", commands::completions::BIN).unwrap(),
        )
        .unwrap();
        assert!(
            bash.trim_end().lines().rev().any(|l| l.trim_start().starts_with("complete -F") && l.ends_with(" xtask")),
            "{bash}"
        );
        assert!(
            commands::completions::script(&mut Cli::command(), "powershell", "x")
                .unwrap_err()
                .contains("bash, zsh or fish")
        );
    }
}
