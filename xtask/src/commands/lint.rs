//! `cargo xtask lint`: every static check, each run only when its target exists.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use xshell::cmd;

use crate::base::error::CodedError;
use crate::base::{git, hex, paths};
use crate::run::{Ctx, Step};
use crate::terraform;
use crate::tools::{ACTIONLINT, CARGO_AUDIT, CARGO_DENY, CHECKOV, HADOLINT, SHELLCHECK, ZIZMOR};

#[derive(Debug, Clone, Default, Args)]
pub struct LintArgs {
    /// Run every check and list all failures at the end (default: stop at the first).
    #[arg(long)]
    pub keep_going: bool,
    /// RustSec advisory database to audit against without fetching (offline machines).
    /// Default: fetch the current database.
    #[arg(long, env = "XTASK_ADVISORY_DB", value_name = "DIR")]
    pub advisory_db: Option<PathBuf>,
    /// Run only these checks (comma-separated): fmt, clippy, shellcheck, deny, audit, terraform,
    /// checkov, hadolint, actionlint, zizmor.
    #[arg(long, value_delimiter = ',', value_name = "CHECK")]
    pub only: Vec<String>,
    /// Skip a check that passed on exactly these inputs before (every file it reads, its tool's
    /// pin, its settings). fmt and clippy always run (cargo is incremental). `ci` sets it.
    #[arg(long)]
    pub cache: bool,
}

/// The repository paths (prefixes) each cacheable check reads. A check not listed always runs.
pub fn inputs(check: &str) -> Option<&'static [&'static str]> {
    Some(match check {
        "shellcheck" => &[".ci/", "*.sh"],
        "deny" => {
            &["Cargo.lock", "Cargo.toml", "app/Cargo.toml", "pg-harness/Cargo.toml", "xtask/Cargo.toml", "deny.toml"]
        }
        "audit" => &["Cargo.lock", ".cargo/audit.toml"],
        "terraform" | "checkov" => &["infra/"],
        "hadolint" => &["app/Dockerfile"],
        "actionlint" | "zizmor" => &[".github/"],
        _ => return None,
    })
}

/// The stamp a passing check leaves: its name, the hash of its inputs, its tool, its settings.
fn stamp(
    ctx: &Ctx,
    check: &Check<'_>,
    files: &std::collections::BTreeMap<String, String>,
    args: &LintArgs,
) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    let prefixes = inputs(check.name)?;
    // Auditing against a live database: the same lockfile can fail tomorrow.
    if check.name == "audit" && args.advisory_db.is_none() {
        return None;
    }
    let mut h = Sha256::new();
    h.update(format!("lint-stamp 1 {}\n", check.name).as_bytes());
    for step in check.steps.as_ref().ok()? {
        h.update(format!("{step}\n{:?}\n", step.tool.map(|t| t.version)).as_bytes());
    }
    for var in ["XTASK_TF_MIRROR", "XTASK_ADVISORY_DB"] {
        h.update(format!("{var}={:?}\n", std::env::var_os(var)).as_bytes());
    }
    for (path, hash) in files {
        let wanted = prefixes.iter().any(|p| match p.strip_prefix('*') {
            Some(suffix) => path.ends_with(suffix),
            None => path.starts_with(p),
        });
        if wanted {
            h.update(format!("{path} {hash}\n").as_bytes());
        }
    }
    let key = hex::encode(&h.finalize()[..16]);
    Some(paths::lint_stamps(&ctx.root).join(format!("{}-{key}", check.name)))
}

/// Checks in the order they run. Each is a group of steps, or a reason it is skipped.
pub struct Check<'a> {
    pub name: &'static str,
    pub steps: Result<Vec<Step<'a>>, String>,
}

pub const CHECKS: [&str; 10] =
    ["fmt", "clippy", "shellcheck", "deny", "audit", "terraform", "checkov", "hadolint", "actionlint", "zizmor"];

/// Every lint check for the tree at `ctx.root`, as data.
pub fn checks<'a>(ctx: &'a Ctx, args: &LintArgs) -> Result<Vec<Check<'a>>> {
    let sh = &ctx.sh;
    let root = &ctx.root;
    let exists = |p: &str| root.join(p).exists();
    let mut all = vec![
        Check { name: "fmt", steps: Ok(vec![Step::new("rustfmt", None, cmd!(sh, "cargo fmt --all --check"))]) },
        Check {
            name: "clippy",
            steps: Ok(vec![Step::new(
                "clippy",
                None,
                cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings"),
            )]),
        },
    ];

    let scripts = shell_scripts(root);
    all.push(Check {
        name: "shellcheck",
        steps: if scripts.is_empty() {
            Err("no shell scripts".into())
        } else {
            Ok(vec![Step::new("shellcheck", Some(&SHELLCHECK), cmd!(sh, "shellcheck --severity=style {scripts...}"))])
        },
    });
    all.push(Check {
        name: "deny",
        steps: Ok(vec![Step::new(
            "cargo-deny",
            Some(&CARGO_DENY),
            cmd!(sh, "cargo deny --locked check licenses bans sources"),
        )]),
    });
    let audit = match &args.advisory_db {
        Some(db) => cmd!(sh, "cargo audit --no-fetch --stale --db {db}"),
        None => cmd!(sh, "cargo audit"),
    };
    let audit = Step::diagnosed("cargo-audit", Some(&CARGO_AUDIT), audit, crate::tools::hints::advisory_db_hint);
    all.push(Check { name: "audit", steps: Ok(vec![audit]) });

    all.push(Check {
        name: "terraform",
        steps: if exists("infra") { Ok(terraform::lint_steps(ctx)?) } else { Err("no infra/ directory".into()) },
    });
    all.push(Check {
        name: "checkov",
        steps: if exists("infra") {
            Ok(vec![Step::new(
                "checkov",
                Some(&CHECKOV),
                cmd!(sh, "checkov --config-file infra/.checkov.yaml --directory infra --framework terraform --skip-download --quiet --compact"),
            )])
        } else {
            Err("no infra/ directory".into())
        },
    });
    all.push(Check {
        name: "hadolint",
        steps: if exists("app/Dockerfile") {
            Ok(vec![Step::new("hadolint", Some(&HADOLINT), cmd!(sh, "hadolint app/Dockerfile"))])
        } else {
            Err("no app/Dockerfile".into())
        },
    });
    let workflows = exists(".github/workflows");
    all.push(Check {
        name: "actionlint",
        steps: if workflows {
            Ok(vec![Step::new("actionlint", Some(&ACTIONLINT), cmd!(sh, "actionlint"))])
        } else {
            Err("no .github/workflows".into())
        },
    });
    all.push(Check {
        name: "zizmor",
        steps: if workflows {
            Ok(vec![Step::new(
                "zizmor",
                Some(&ZIZMOR),
                cmd!(sh, "zizmor --offline --min-severity low .github/workflows"),
            )])
        } else {
            Err("no .github/workflows".into())
        },
    });
    if !args.only.is_empty() {
        all.retain(|c| args.only.iter().any(|o| o == c.name));
    }
    Ok(all)
}

/// Shell scripts in the tree: `.ci/run` and every tracked `*.sh`.
fn shell_scripts(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if root.join(".ci/run").is_file() {
        found.push(".ci/run".to_owned());
    }
    if let Ok(listed) = git::ls_files(root, &["*.sh"]) {
        found.extend(listed);
    }
    found
}

pub fn run(ctx: &Ctx, args: &LintArgs) -> Result<()> {
    if let Some(bad) = args.only.iter().find(|o| !CHECKS.contains(&o.as_str())) {
        return Err(CodedError::usage(format!("unknown check '{bad}'; choose from: {}", CHECKS.join(", "))));
    }
    let all = checks(ctx, args)?;
    // Every tool of the checks that will run, up front: a missing one is named before any runs.
    let mut needed: Vec<&'static crate::tools::Tool> = Vec::new();
    for tool in all.iter().flat_map(|c| c.steps.iter().flatten()).filter_map(|s| s.tool) {
        if !needed.contains(&tool) {
            needed.push(tool);
        }
    }
    ctx.prepare(&needed)?;
    // The failed steps: their name and the command that reproduces them.
    let mut failures: Vec<(&str, String)> = Vec::new();
    let files =
        if args.cache && !ctx.dry_run { git::repo_files(&ctx.root).unwrap_or_default() } else { Default::default() };
    'checks: for check in all {
        let stamp = if args.cache && !ctx.dry_run { stamp(ctx, &check, &files, args) } else { None };
        if stamp.as_ref().is_some_and(|s| s.is_file()) {
            eprintln!("lint: {}: passed before on exactly these inputs (cached)", check.name);
            continue;
        }
        let steps = match check.steps {
            Ok(steps) => steps,
            Err(why) => {
                eprintln!("lint: skipping {} ({why})", check.name);
                continue;
            }
        };
        for step in &steps {
            if let Err(failure) = ctx.run(step) {
                if !args.keep_going {
                    return Err(failure.into());
                }
                eprintln!("lint: {failure}");
                failures.push((step.name, step.to_string()));
                continue 'checks;
            }
        }
        if let Some(stamp) = stamp {
            if let Some(dir) = stamp.parent() {
                std::fs::create_dir_all(dir)?;
                // One stamp per check: the latest.
                let prefix = format!("{}-", check.name);
                for old in std::fs::read_dir(dir)?.flatten() {
                    if old.file_name().to_string_lossy().starts_with(&prefix) {
                        let _ = std::fs::remove_file(old.path());
                    }
                }
            }
            std::fs::write(&stamp, "passed\n")?;
        }
    }
    if failures.is_empty() {
        if !ctx.dry_run {
            eprintln!("lint: all checks passed");
        }
        return Ok(());
    }
    let list: Vec<String> = failures.iter().map(|(name, command)| format!("  - {name}: {command}")).collect();
    anyhow::bail!("{} lint check(s) failed:\n{}", failures.len(), list.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch tree with one target for every check.
    fn tree(name: &str) -> std::path::PathBuf {
        let root = std::env::temp_dir().join(format!("xtask-lint-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in
            [".ci", "app", ".github/workflows", "infra/modules/net", "infra/layers/core", "infra/layers/_shared_files"]
        {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [".ci/run", "app/Dockerfile", ".github/workflows/ci.yml"] {
            std::fs::write(root.join(file), "").unwrap();
        }
        root
    }

    fn argv(ctx: &Ctx, args: &LintArgs) -> Vec<String> {
        checks(ctx, args)
            .unwrap()
            .into_iter()
            .flat_map(|c| c.steps.unwrap_or_default())
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn dry_run_argv_is_exact() {
        let ctx = Ctx::new(&tree("argv"), true, false).unwrap();
        let args = LintArgs { advisory_db: Some("/db".into()), ..LintArgs::default() };
        assert_eq!(
            argv(&ctx, &args),
            [
                "cargo fmt --all --check",
                "cargo clippy --workspace --all-targets --locked -- -D warnings",
                "shellcheck --severity=style .ci/run",
                "cargo deny --locked check licenses bans sources",
                "cargo audit --no-fetch --stale --db /db",
                "terraform fmt -check -recursive -diff infra",
                "terraform -chdir=infra/modules/net init -backend=false -input=false -no-color -lockfile=readonly",
                "terraform -chdir=infra/modules/net validate -no-color",
                "terraform -chdir=infra/layers/core init -backend=false -input=false -no-color -lockfile=readonly",
                "terraform -chdir=infra/layers/core validate -no-color",
                "checkov --config-file infra/.checkov.yaml --directory infra --framework terraform --skip-download --quiet --compact",
                "hadolint app/Dockerfile",
                "actionlint",
                "zizmor --offline --min-severity low .github/workflows",
            ]
        );
    }

    #[test]
    fn a_passed_check_is_skipped_until_one_of_its_inputs_changes() {
        let root = tree("stamp");
        let ctx = Ctx::new(&root, false, false).unwrap();
        let args = LintArgs { advisory_db: Some("/db".into()), cache: true, ..LintArgs::default() };
        let checks = checks(&ctx, &args).unwrap();
        let tf = checks.iter().find(|c| c.name == "terraform").unwrap();
        let files = |main: &str| -> std::collections::BTreeMap<String, String> {
            [("infra/modules/net/main.tf", main), ("app/src/lib.rs", "a")]
                .iter()
                .map(|(p, h)| (p.to_string(), h.to_string()))
                .collect()
        };
        let a = stamp(&ctx, tf, &files("1"), &args).unwrap();
        assert_eq!(a, stamp(&ctx, tf, &files("1"), &args).unwrap());
        assert_ne!(a, stamp(&ctx, tf, &files("2"), &args).unwrap(), "an infra change reruns terraform");
        let mut app_changed = files("1");
        app_changed.insert("app/src/lib.rs".into(), "b".into());
        assert_eq!(a, stamp(&ctx, tf, &app_changed, &args).unwrap(), "an app change does not");
        let clippy = checks.iter().find(|c| c.name == "clippy").unwrap();
        assert!(stamp(&ctx, clippy, &files("1"), &args).is_none(), "clippy always runs");
        let fetching = LintArgs { cache: true, ..LintArgs::default() };
        let live = checks.iter().find(|c| c.name == "audit").unwrap();
        assert!(stamp(&ctx, live, &files("1"), &fetching).is_none(), "a live advisory database is never cached");
    }

    #[test]
    fn audit_fetches_when_no_database_is_given() {
        let ctx = Ctx::new(&tree("audit"), true, false).unwrap();
        let args = LintArgs { only: vec!["audit".into()], ..LintArgs::default() };
        assert_eq!(argv(&ctx, &args), ["cargo audit"]);
    }

    #[test]
    fn missing_targets_are_skipped_with_a_reason() {
        let empty = std::env::temp_dir().join(format!("xtask-lint-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let ctx = Ctx::new(&empty, true, false).unwrap();
        let skipped: Vec<(&str, String)> = checks(&ctx, &LintArgs::default())
            .unwrap()
            .into_iter()
            .filter_map(|c| c.steps.err().map(|why| (c.name, why)))
            .collect();
        let names: Vec<&str> = skipped.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["shellcheck", "terraform", "checkov", "hadolint", "actionlint", "zizmor"]);
        assert!(skipped.iter().all(|(_, why)| why.starts_with("no ")));
    }
}
