//! The CI deploy jobs must outlive `cargo xtask deploy`: a job killed by `timeout-minutes` in
//! the middle of a rollout neither rolls back nor says what happened. Each job that runs
//! `cargo xtask deploy` must allow the deploy's whole budget (migration task + rollout watch +
//! rollback watch, as
//! the command's own --help states its defaults, or the flags the job passes) plus the time to
//! check out, install the toolchain and build xtask. Self-contained on purpose (workflows.rs is
//! the thin-wrapper contract).

use std::path::PathBuf;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

/// Checkout, toolchain, cache restore and a cold-ish debug build of xtask (the AWS SDK crates
/// dominate: ~5.5 min on 2 cores measured here; GitHub's 4-core runners are faster).
const BUILD_ALLOWANCE_MIN: u64 = 15;

/// `15m`, `600s`, `1h30m`, `90`.
fn seconds(text: &str) -> u64 {
    if let Ok(s) = text.parse() {
        return s;
    }
    let (mut total, mut n) = (0, String::new());
    for c in text.chars() {
        match c {
            '0'..='9' => n.push(c),
            'h' | 'm' | 's' => {
                let unit = match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                total += n.parse::<u64>().unwrap() * unit;
                n.clear();
            }
            _ => panic!("not a duration: {text}"),
        }
    }
    total
}

/// The `[default: X]` of `flag` in `cargo xtask deploy --help`.
fn default_of(help: &str, flag: &str) -> u64 {
    let at = help.find(&format!("{flag} <")).unwrap_or_else(|| panic!("{flag} not in deploy --help:\n{help}"));
    let rest = &help[at..];
    let start = rest.find("[default: ").unwrap() + "[default: ".len();
    seconds(&rest[start..start + rest[start..].find(']').unwrap()])
}

/// The value of `--flag X` / `--flag=X` in a run line, if given.
fn flag_in(run: &str, flag: &str) -> Option<u64> {
    let words: Vec<&str> = run.split_whitespace().collect();
    words.iter().enumerate().find_map(|(i, w)| {
        if *w == flag {
            words.get(i + 1).map(|v| seconds(v.trim_matches('"')))
        } else {
            w.strip_prefix(&format!("{flag}=")).map(|v| seconds(v.trim_matches('"')))
        }
    })
}

fn workflows() -> Vec<(String, Yaml)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| {
            let doc = YamlLoader::load_from_str(&std::fs::read_to_string(&p).unwrap()).unwrap().remove(0);
            (p.file_name().unwrap().to_string_lossy().into_owned(), doc)
        })
        .collect()
}

#[test]
fn deploy_jobs_leave_room_for_the_whole_deploy_budget_and_the_build() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(["deploy", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let (watch, rollback) = (default_of(&help, "--timeout"), default_of(&help, "--rollback-timeout"));
    let migration = default_of(&help, "--migration-timeout");
    assert!(watch > 0 && rollback > 0 && migration > 0, "{watch} {rollback} {migration}");

    let mut jobs = 0;
    for (file, doc) in workflows() {
        for (name, job) in doc["jobs"].as_hash().into_iter().flatten() {
            let runs: Vec<&str> = job["steps"]
                .as_vec()
                .into_iter()
                .flatten()
                .filter_map(|s| s["run"].as_str())
                .filter(|r| r.trim_start().starts_with("cargo xtask deploy"))
                .collect();
            for run in runs {
                jobs += 1;
                let name = name.as_str().unwrap_or("?");
                // The migration task runs first whenever the environment has a database.
                let migrating = if run.split_whitespace().any(|w| w == "--skip-migrations") {
                    0
                } else {
                    flag_in(run, "--migration-timeout").unwrap_or(migration)
                };
                let budget = migrating
                    + flag_in(run, "--timeout").unwrap_or(watch)
                    + flag_in(run, "--rollback-timeout").unwrap_or(rollback);
                let minutes = job["timeout-minutes"].as_i64().unwrap_or_else(|| {
                    panic!("{file} job {name}: runs `{run}` without timeout-minutes (GitHub's default is 6 h)")
                });
                let needed = budget.div_ceil(60) + BUILD_ALLOWANCE_MIN;
                assert!(
                    u64::try_from(minutes).unwrap() >= needed,
                    "{file} job {name}: timeout-minutes {minutes} < {needed} (deploy budget {} min + build {BUILD_ALLOWANCE_MIN} min): \
                     the job would be killed mid-rollout, with no rollback and no report",
                    budget.div_ceil(60)
                );
            }
        }
    }
    assert!(jobs >= 1, "no workflow job runs `cargo xtask deploy`");
}

#[test]
fn the_budget_parsers_read_what_they_should() {
    assert_eq!((seconds("15m"), seconds("1h30m"), seconds("90"), seconds("600s")), (900, 5400, 90, 600));
    assert_eq!(flag_in("cargo xtask deploy --env dev --timeout 20m", "--timeout"), Some(1200));
    assert_eq!(flag_in("cargo xtask deploy --env dev --rollback-timeout=5m", "--rollback-timeout"), Some(300));
    assert_eq!(flag_in("cargo xtask deploy --env dev", "--timeout"), None);
    let help = "      --timeout <TIMEOUT>\n          Watch.\n\n          [default: 15m]\n      --rollback-timeout <X>\n          [default: 10m]";
    assert_eq!((default_of(help, "--timeout"), default_of(help, "--rollback-timeout")), (900, 600));
}
