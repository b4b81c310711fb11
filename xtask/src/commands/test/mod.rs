//! `cargo xtask test`: every test binary of the workspace, built once and run side by side.
//!
//! - `build.rs`: `cargo test --no-run` (plain, or instrumented for coverage) and what it built
//! - `run.rs`: the binaries in parallel, longest first, one log each
//! - `cache.rs`: results of binaries whose inputs did not change (`--cache`; `ci` uses it)
//!
//! `coverage` runs the same suite instrumented, so `ci` runs every test once, not twice.

pub mod build;
pub mod cache;
pub mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;

use crate::base::error::CodedError;
use crate::base::paths;
use crate::run::Ctx;
use crate::tools;

#[derive(Debug, Clone, Default, Args)]
pub struct TestArgs {
    /// Reuse the result of every test binary whose inputs (its binary, the repository files it
    /// depends on, the tools) did not change since it last passed. Off when arguments are given.
    #[arg(long)]
    pub cache: bool,
    /// Test binaries run at the same time (default: the number of CPUs + 2: the longest
    /// binaries, the three emulator end-to-end tests, spend most of their time in the AWS
    /// provider's fixed waits, e.g. 160 s for a database, and use no CPU meanwhile).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Passed to every test binary, e.g. `cargo xtask test -- rate_limit --nocapture`.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// What a run of the suite did, for `ci`'s summary and coverage.
#[derive(Debug, Default)]
pub struct Report {
    pub ran: usize,
    pub cached: usize,
    pub failed: Vec<String>,
}

pub fn run(ctx: &Ctx, args: &TestArgs) -> Result<()> {
    ctx.prepare(&tools::needed_by("test"))?;
    suite(ctx, args, false).map(|_| ())
}

/// Build and run the whole suite; `instrument` builds it for coverage and keeps each binary's
/// profiles (in cargo-llvm-cov's target directory, where its `report` reads them).
pub fn suite(ctx: &Ctx, args: &TestArgs, instrument: bool) -> Result<Report> {
    let step = build::step(ctx, instrument);
    if ctx.dry_run {
        println!("{step}");
        println!("# then every test binary it built, {} at a time{}", jobs(args), describe_args(args));
        return Ok(Report::default());
    }
    let started = Instant::now();
    let built = build::build(ctx, instrument)?;
    eprintln!("test: built {} test binaries in {:.1}s", built.tests.len(), started.elapsed().as_secs_f64());

    let root = &ctx.root;
    let profile_dir = instrument.then(|| root.join(build::COVERAGE_TARGET_DIR));
    if let Some(dir) = &profile_dir {
        clear_profiles(dir)?;
    }
    let use_cache = args.cache && args.args.is_empty();
    // Tests passed and failed, cached binaries included: the closing line CI reads.
    let mut tally = (0u32, 0u32);
    let mut to_run = Vec::new();
    let mut keys = BTreeMap::new();
    let mut report = Report::default();
    if use_cache {
        let files = crate::base::git::repo_files(root)?;
        let path = ctx.sh.var_os("PATH").unwrap_or_default();
        let machine = cache::machine(&path, instrument);
        let mut hashes: BTreeMap<PathBuf, String> = BTreeMap::new();
        let mut hash_of = |p: &Path| -> Result<String> {
            if let Some(h) = hashes.get(p) {
                return Ok(h.clone());
            }
            let h = crate::base::hex::sha256_file(p)?;
            hashes.insert(p.to_owned(), h.clone());
            Ok(h)
        };
        for binary in &built.tests {
            let key = cache::key(binary, &built, &files, &machine, &mut hash_of)?;
            match cache::lookup(root, instrument, &binary.id, &key) {
                Some((entry, dir)) => {
                    if let Some(pdir) = &profile_dir {
                        cache::restore_profiles(&dir, pdir)?;
                    }
                    eprintln!(
                        "CACHED          {:<28} {} passed; inputs unchanged since it passed {} ago in {:.1}s",
                        binary.id,
                        entry.passed,
                        ago(entry.ran_at),
                        entry.seconds
                    );
                    report.cached += 1;
                    tally.0 += entry.passed;
                }
                None => {
                    keys.insert(binary.id.clone(), key);
                    to_run.push(binary.clone());
                }
            }
        }
    } else {
        to_run = built.tests.clone();
    }

    let durations_file = paths::xtask_test(root).join("durations.json");
    let mut durations: BTreeMap<String, f64> =
        std::fs::read(&durations_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let mut env: Vec<(String, std::ffi::OsString)> = Vec::new();
    for var in ["PATH", "RUSTUP_AUTO_INSTALL"] {
        if let Some(v) = ctx.sh.var_os(var) {
            env.push((var.to_owned(), v));
        }
    }
    // The tests find the system tools they drive (PostgreSQL, Chromium, ChromeDriver) through
    // the same variables a user may set: xtask fills them from the tool table's lookup, so a test
    // never carries its own list of places to look.
    let path = ctx.sh.var_os("PATH").unwrap_or_default();
    for tool in tools::ALL.iter().filter(|t| t.used_by.contains(&"test")) {
        if let tools::Locate::Override { var, dir, .. } = tool.locate
            && let Some(exe) = tools::locate(tool, &path)
        {
            let value = if dir { exe.parent().map(|p| p.as_os_str().to_owned()) } else { Some(exe.into_os_string()) };
            env.extend(value.map(|v| (var.to_owned(), v)));
        }
    }
    let launch = run::Launch {
        env,
        args: args.args.clone(),
        profile_dir: profile_dir.clone(),
        log_dir: paths::xtask_test(root).join("logs"),
        jobs: jobs(args),
    };
    eprintln!(
        "test: running {} test binaries, {} at a time; logs in target/xtask-test/logs/",
        to_run.len(),
        launch.jobs
    );
    let expected = expected_durations(&durations, &to_run);
    let outcomes = run::run_all(to_run, &expected, &launch, |o| {
        let status = if o.ok { "PASS" } else { "FAIL" };
        let mut counts = format!("{} passed", o.passed);
        if o.failed > 0 {
            counts.push_str(&format!(", {} failed", o.failed));
        }
        if o.ignored > 0 {
            counts.push_str(&format!(", {} ignored", o.ignored));
        }
        if let Some(note) = &o.note {
            counts.push_str(&format!(" ({note})"));
        }
        eprintln!("{status} {:>8.1}s  {:<28} {counts}", o.seconds, o.id);
    })?;

    for o in &outcomes {
        tally.0 += o.passed;
        tally.1 += o.failed;
        durations.insert(o.id.clone(), o.seconds);
        report.ran += 1;
        if !o.ok {
            report.failed.push(o.id.clone());
            let log = std::fs::read_to_string(&o.log).unwrap_or_default();
            eprintln!("\n---- {} ({}) ----\n{}", o.id, o.log.display(), run::failure_excerpt(&log));
            continue;
        }
        if ctx.verbose || !args.args.is_empty() {
            eprintln!("\n---- {} ----\n{}", o.id, std::fs::read_to_string(&o.log).unwrap_or_default());
        }
        if let Some(key) = keys.get(&o.id) {
            let profiles = profile_dir.as_deref().map(|d| run::profiles_of(d, &o.id)).unwrap_or_default();
            let entry = cache::Entry {
                id: o.id.clone(),
                passed: o.passed,
                ignored: o.ignored,
                seconds: o.seconds,
                ran_at: now(),
            };
            cache::store(root, instrument, key, &entry, &o.log, &profiles)
                .with_context(|| format!("caching the result of {}", o.id))?;
        }
    }
    if let Some(parent) = durations_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&durations_file, serde_json::to_vec_pretty(&durations)?)?;
    eprintln!(
        "test: {} binaries: {} run, {} reused from the cache, {} failed ({:.1}s)",
        built.tests.len(),
        report.ran,
        report.cached,
        report.failed.len(),
        started.elapsed().as_secs_f64()
    );
    // One plain line with the totals (what a CI log reader looks for).
    println!("tests: {} passed, {} failed", tally.0, tally.1);
    if !report.failed.is_empty() {
        return Err(CodedError::new(
            1,
            format!(
                "tests failed in: {}; rerun one with `cargo xtask test -- <name>` (logs in target/xtask-test/logs/)",
                report.failed.join(", ")
            ),
        )
        .into());
    }
    Ok(report)
}

/// What the scheduler (longest first) expects of each binary: its recorded duration, else what
/// its crate root declares (`//! test-expected-seconds: N`); others are unknown
/// ([`run::UNKNOWN_SECONDS`]).
fn expected_durations(recorded: &BTreeMap<String, f64>, binaries: &[build::TestBinary]) -> BTreeMap<String, f64> {
    let mut expected = recorded.clone();
    for binary in binaries {
        if !expected.contains_key(&binary.id)
            && let Some(seconds) = cache::expected_seconds(&binary.src)
        {
            expected.insert(binary.id.clone(), seconds);
        }
    }
    expected
}

fn jobs(args: &TestArgs) -> usize {
    args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from) + 2).max(1)
}

fn describe_args(args: &TestArgs) -> String {
    if args.args.is_empty() { String::new() } else { format!(", each with: {}", args.args.join(" ")) }
}

/// Remove the profiles of an earlier run: the report merges every `*.profraw` it finds there.
fn clear_profiles(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".profraw") || name.ends_with(".profdata") {
            std::fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn ago(then: u64) -> String {
    let secs = now().saturating_sub(then);
    match secs {
        0..120 => format!("{secs}s"),
        120..7200 => format!("{}min", secs / 60),
        _ => format!("{}h", secs / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_prints_the_build_and_how_the_binaries_run() {
        let ctx = Ctx::new(&std::env::temp_dir(), true, false).unwrap();
        let args = TestArgs { args: vec!["rate_limit".into(), "--nocapture".into()], jobs: Some(3), cache: false };
        // Only prints; nothing is built.
        suite(&ctx, &args, false).unwrap();
        assert_eq!(describe_args(&args), ", each with: rate_limit --nocapture");
        assert_eq!(jobs(&args), 3);
    }

    #[test]
    fn a_recorded_duration_wins_over_the_declared_one_which_fills_the_unknown() {
        let dir = std::env::temp_dir().join(format!("xtask-expected-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = |id: &str, marker: &str| {
            let src = dir.join(format!("{id}.rs"));
            std::fs::write(&src, format!("//! A test.\n{marker}\n")).unwrap();
            build::TestBinary {
                id: id.into(),
                package: "xtask".into(),
                exe: dir.join(id),
                src,
                package_dir: dir.clone(),
            }
        };
        let binaries = [
            binary("e2e", "//! test-expected-seconds: 450"),
            binary("recorded", "//! test-expected-seconds: 450"),
            binary("plain", ""),
        ];
        let recorded = BTreeMap::from([("recorded".to_owned(), 3.0)]);
        let expected = expected_durations(&recorded, &binaries);
        assert_eq!(expected.get("e2e"), Some(&450.0));
        assert_eq!(expected.get("recorded"), Some(&3.0));
        assert_eq!(expected.get("plain"), None);
        // The declared long one runs first, the unknown one next, the recorded short one last.
        let order: Vec<String> = run::schedule(binaries.to_vec(), &expected).into_iter().map(|b| b.id).collect();
        assert_eq!(order, ["e2e", "plain", "recorded"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
