//! Run test binaries side by side, longest first, each writing its output to a log file and (when
//! instrumented) its coverage profiles to files named after it, so they can be cached per binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::build::TestBinary;
use super::cache::slug;

/// A binary that is still running after this long is killed and reported as failed: a hung
/// test must not hold CI until the job's own timeout.
pub const TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// What one run of a test binary gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub id: String,
    pub ok: bool,
    pub passed: u32,
    pub failed: u32,
    pub ignored: u32,
    pub seconds: f64,
    pub log: PathBuf,
    /// Why it failed when libtest did not say (killed, crashed, timed out).
    pub note: Option<String>,
}

/// How to start each binary.
pub struct Launch {
    /// Environment for every test process (PATH with the tools directories, ...).
    pub env: Vec<(String, std::ffi::OsString)>,
    /// Arguments passed to every binary (test-name filters, `--nocapture`, ...).
    pub args: Vec<String>,
    /// Instrumented runs: the directory the coverage profiles go to.
    pub profile_dir: Option<PathBuf>,
    pub log_dir: PathBuf,
    pub jobs: usize,
}

/// The `test result:` line of libtest: (ok, passed, failed, ignored), summed over the line(s).
pub fn parse_summary(log: &str) -> Option<(bool, u32, u32, u32)> {
    let mut found = None;
    for line in log.lines().filter_map(|l| l.trim().strip_prefix("test result: ")) {
        let ok = line.starts_with("ok.");
        let count = |what: &str| {
            line.split(';')
                .find_map(|part| {
                    part.trim().trim_start_matches("ok.").trim_start_matches("FAILED.").trim().strip_suffix(what)
                })
                .and_then(|n| n.trim().parse::<u32>().ok())
                .unwrap_or(0)
        };
        let (p, f, i) = (count("passed"), count("failed"), count("ignored"));
        let (all_ok, sp, sf, si) = found.unwrap_or((true, 0, 0, 0));
        found = Some((all_ok && ok, sp + p, sf + f, si + i));
    }
    found
}

/// The profile file pattern of one binary: `<dir>/<binary>-%4m.profraw`. `%4m` merges the
/// profiles of every process of one executable into at most four files (the tests start the
/// xtask binary dozens of times), and the binary's name in the file says which test run wrote it.
pub fn profile_pattern(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{}-%4m.profraw", slug(id)))
}

/// The profiles a binary's run wrote (see [`profile_pattern`]).
pub fn profiles_of(dir: &Path, id: &str) -> Vec<PathBuf> {
    let prefix = format!("{}-", slug(id));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".profraw")
        })
        .collect();
    found.sort();
    found
}

fn run_one(binary: &TestBinary, launch: &Launch) -> Outcome {
    let log = launch.log_dir.join(format!("{}.log", slug(&binary.id)));
    let started = Instant::now();
    let fail = |note: String| Outcome {
        id: binary.id.clone(),
        ok: false,
        passed: 0,
        failed: 0,
        ignored: 0,
        seconds: started.elapsed().as_secs_f64(),
        log: log.clone(),
        note: Some(note),
    };
    let file = match std::fs::File::create(&log) {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot write {}: {e}", log.display())),
    };
    let mut cmd = Command::new(&binary.exe);
    cmd.args(&launch.args)
        .current_dir(&binary.package_dir)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        // What cargo test sets for a test process.
        .env("CARGO_MANIFEST_DIR", &binary.package_dir)
        .env("CARGO_PKG_NAME", &binary.package)
        .stdin(Stdio::null())
        .stdout(match file.try_clone() {
            Ok(f) => Stdio::from(f),
            Err(e) => return fail(e.to_string()),
        })
        .stderr(Stdio::from(file));
    match &launch.profile_dir {
        Some(dir) => cmd.env("LLVM_PROFILE_FILE", profile_pattern(dir, &binary.id)),
        None => cmd.env_remove("LLVM_PROFILE_FILE"),
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start {}: {e}", binary.exe.display())),
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("killed after {} minutes without finishing", TIMEOUT.as_secs() / 60));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let summary = parse_summary(&text);
    let mut outcome = match (status, summary) {
        (Err(note), _) => fail(note),
        (Ok(status), Some((ok, passed, failed, ignored))) => Outcome {
            id: binary.id.clone(),
            ok: ok && status.success(),
            passed,
            failed,
            ignored,
            seconds: 0.0,
            log: log.clone(),
            note: (!status.success() && ok).then(|| format!("exited with {status} after its tests passed")),
        },
        (Ok(status), None) => fail(format!("exited with {status} before printing a test result")),
    };
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome
}

/// What the scheduler assumes of a binary with no recorded or declared duration. Slow binaries
/// declare theirs (`//! test-expected-seconds: N`), so an unknown one is most likely short: put
/// first, it would hold back the long end-to-end tests on a fresh clone, where nothing is
/// recorded yet (measured: local_env started after 13 short binaries, about 150 s late).
pub const UNKNOWN_SECONDS: f64 = 30.0;

/// `binaries`, longest expected first (unknown: [`UNKNOWN_SECONDS`]), ties by id.
pub fn schedule(mut binaries: Vec<TestBinary>, expected: &BTreeMap<String, f64>) -> Vec<TestBinary> {
    let t = |x: &TestBinary| expected.get(&x.id).copied().unwrap_or(UNKNOWN_SECONDS);
    binaries.sort_by(|a, b| t(b).total_cmp(&t(a)).then_with(|| a.id.cmp(&b.id)));
    binaries
}

/// Run `binaries` with `launch.jobs` at a time, in [`schedule`]'s order, calling `done` as each
/// finishes. Prints which are still running every minute.
pub fn run_all(
    binaries: Vec<TestBinary>,
    expected: &BTreeMap<String, f64>,
    launch: &Launch,
    mut done: impl FnMut(&Outcome),
) -> Result<Vec<Outcome>> {
    std::fs::create_dir_all(&launch.log_dir)?;
    let queue = schedule(binaries, expected);
    let total = queue.len();
    let queue = Arc::new(Mutex::new(queue.into_iter()));
    let running: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let (tx, rx) = mpsc::channel();
    let mut outcomes = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..launch.jobs.max(1) {
            let (queue, running, tx) = (Arc::clone(&queue), Arc::clone(&running), tx.clone());
            scope.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).ok().flatten();
                    let Some(binary) = next else { break };
                    if let Ok(mut r) = running.lock() {
                        r.insert(binary.id.clone(), Instant::now());
                    }
                    let outcome = run_one(&binary, launch);
                    if let Ok(mut r) = running.lock() {
                        r.remove(&binary.id);
                    }
                    if tx.send(outcome).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        while outcomes.len() < total {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(outcome) => {
                    done(&outcome);
                    outcomes.push(outcome);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(r) = running.lock() {
                        let list: Vec<String> =
                            r.iter().map(|(id, since)| format!("{id} ({}s)", since.elapsed().as_secs())).collect();
                        eprintln!("test: still running: {}", list.join(", "));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    Ok(outcomes)
}

/// The part of a failed binary's log worth printing: libtest's `failures:` section, else the end.
pub fn failure_excerpt(log: &str) -> String {
    if let Some(at) = log.find("\nfailures:\n") {
        return log[at + 1..].to_owned();
    }
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_summaries_are_read_and_summed() {
        let ok = "running 3 tests\ntest a ... ok\n\ntest result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 2 filtered out; finished in 0.01s\n";
        assert_eq!(parse_summary(ok), Some((true, 3, 0, 1)));
        let failed = "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.2s";
        assert_eq!(parse_summary(failed), Some((false, 1, 2, 0)));
        assert_eq!(parse_summary(&format!("{ok}{failed}")), Some((false, 4, 2, 1)));
        assert_eq!(parse_summary("thread 'main' panicked"), None);
    }

    #[test]
    fn the_failures_section_is_what_gets_printed() {
        let log = "running 2 tests\ntest a ... ok\ntest b ... FAILED\n\nfailures:\n\n---- b stdout ----\nboom\n\nfailures:\n    b\n\ntest result: FAILED.";
        assert!(failure_excerpt(log).starts_with("failures:\n\n---- b stdout ----\nboom"));
        let crash: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let excerpt = failure_excerpt(&crash);
        assert!(excerpt.starts_with("line 40") && excerpt.ends_with("line 99"), "{excerpt}");
    }

    /// A shell script standing in for a test binary: prints `output`, exits with `code`.
    fn fake_binary(dir: &Path, id: &str, output: &str, code: i32) -> TestBinary {
        use std::os::unix::fs::PermissionsExt;
        let exe = dir.join(slug(id));
        std::fs::write(
            &exe,
            format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > args.{code}\ncat <<'EOF'\n{output}\nEOF\nexit {code}\n"),
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        TestBinary { id: id.into(), package: "p".into(), exe, src: dir.join("x.rs"), package_dir: dir.into() }
    }

    #[test]
    fn every_binary_runs_once_with_the_arguments_and_failures_are_reported() {
        let dir = std::env::temp_dir().join(format!("xtask-run-all-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let good = fake_binary(&dir, "p::good", "test result: ok. 2 passed; 0 failed; 0 ignored;", 0);
        let bad =
            fake_binary(&dir, "p::bad", "failures:\n---- x ----\nboom\ntest result: FAILED. 0 passed; 1 failed;", 101);
        let crash = fake_binary(&dir, "p::crash", "Segmentation fault", 139);
        let launch =
            Launch { env: vec![], args: vec!["--exact".into()], profile_dir: None, log_dir: dir.join("logs"), jobs: 2 };
        let mut seen = Vec::new();
        let outcomes = run_all(vec![good, bad, crash], &BTreeMap::new(), &launch, |o| seen.push(o.id.clone())).unwrap();
        assert_eq!(seen.len(), 3);
        let by_id = |id: &str| outcomes.iter().find(|o| o.id == id).unwrap().clone();
        assert!(by_id("p::good").ok && by_id("p::good").passed == 2);
        assert!(!by_id("p::bad").ok && by_id("p::bad").failed == 1);
        let crash = by_id("p::crash");
        assert!(
            !crash.ok && crash.note.as_deref().unwrap_or("").contains("before printing a test result"),
            "{crash:?}"
        );
        assert_eq!(std::fs::read_to_string(dir.join("args.0")).unwrap(), "--exact\n");
        assert!(std::fs::read_to_string(&by_id("p::bad").log).unwrap().contains("boom"));
    }
}
