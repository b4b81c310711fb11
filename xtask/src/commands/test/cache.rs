//! A content-addressed cache of test results: a test binary whose inputs did not change since it
//! last passed is not run again; its result, output and (instrumented) coverage profiles are
//! reused, so the coverage report is the same as after running everything.
//!
//! A binary's key is the SHA-256 of:
//! - the test binary itself, and every executable of its package (`CARGO_BIN_EXE_*`);
//! - every file of the repository (tracked, or untracked and not ignored: uncommitted work
//!   counts), except under the prefixes its crate root declares with a `test-cache-ignores:`
//!   line, for binaries that provably never build nor run that code (e.g. `app/` for the
//!   Terraform end-to-end test);
//! - the machine: rustc, the system tools the tests use (path and version), the pins of every
//!   tool xtask installs, and the environment variables that change what tests do.
//!
//! Entries live under `target/xtask-test/cache/`, so a fresh clone (or `cargo clean`) runs
//! everything. Only passing runs are stored, one entry per binary (the latest).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::build::{Built, TestBinary};
use crate::base::{hex, paths};
use crate::tools;

/// Bump when the key's recipe changes: every old entry then misses.
const RECIPE: &str = "xtask-test-cache 1";

/// Environment variables that change what the tests do or find.
const KEY_ENV: &[&str] = &[
    "XTASK_TF_MIRROR",
    "XTASK_ADVISORY_DB",
    "XTASK_TRIVY_DB",
    "RDEPLOY_PG_BINDIR",
    "RDEPLOY_CHROME",
    "RDEPLOY_CHROMEDRIVER",
    "LLVM_COV",
    "LLVM_PROFDATA",
];

/// The marker a test crate root uses to say which repository paths cannot affect it.
pub const IGNORES_MARKER: &str = "//! test-cache-ignores:";

/// The marker a slow test crate root uses to say about how long it runs (seconds), so a first
/// run with no recorded durations (a fresh clone, a CI machine) still starts it first.
pub const EXPECTED_MARKER: &str = "//! test-expected-seconds:";

/// The seconds a test crate root declares with [`EXPECTED_MARKER`], if any.
pub fn expected_seconds(src: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(src).ok()?;
    text.lines().find_map(|l| l.trim().strip_prefix(EXPECTED_MARKER)?.trim().parse().ok())
}

/// What a cached passing run recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub passed: u32,
    pub ignored: u32,
    pub seconds: f64,
    /// Seconds since the epoch when it ran.
    pub ran_at: u64,
}

/// The path prefixes a test crate root declares with [`IGNORES_MARKER`].
pub fn ignored_prefixes(src: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(src).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(IGNORES_MARKER))
        .flat_map(|rest| rest.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|p| p.ends_with('/'))
        .collect()
}

/// Everything about the machine that a test result depends on, as one string.
pub fn machine(path: &std::ffi::OsStr, instrumented: bool) -> String {
    let mut out = format!("{RECIPE}\ninstrumented={instrumented}\n");
    let rustc = std::process::Command::new("rustc").arg("-vV").output();
    out.push_str(&rustc.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default());
    for tool in tools::ALL {
        match tool.source {
            tools::Source::System { .. } => {
                if tool.used_by.contains(&"test") || tool.name == tools::PYTHON.name {
                    out.push_str(&format!("{}={:?}\n", tool.name, tools::probe(tool, path)));
                }
            }
            _ => out.push_str(&format!("{}={}\n", tool.name, tool.version)),
        }
    }
    for var in KEY_ENV {
        out.push_str(&format!("{var}={:?}\n", std::env::var_os(var)));
    }
    out
}

/// The key of one test binary.
pub fn key(
    binary: &TestBinary,
    built: &Built,
    files: &BTreeMap<String, String>,
    machine: &str,
    hash_of: &mut dyn FnMut(&Path) -> Result<String>,
) -> Result<String> {
    let mut h = Sha256::new();
    h.update(machine.as_bytes());
    h.update(format!("test {} {}\n", binary.id, hash_of(&binary.exe)?).as_bytes());
    for bin in built.bins.iter().filter(|b| b.package == binary.package) {
        h.update(format!("bin {} {}\n", bin.name, hash_of(&bin.exe)?).as_bytes());
    }
    let ignored = ignored_prefixes(&binary.src);
    for (path, hash) in files {
        if !ignored.iter().any(|p| path.starts_with(p.as_str())) {
            h.update(format!("file {path} {hash}\n").as_bytes());
        }
    }
    Ok(hex::encode(&h.finalize()))
}

/// `target/xtask-test/cache/<plain|coverage>/<binary id>/`.
pub fn binary_dir(root: &Path, instrumented: bool, id: &str) -> PathBuf {
    let flavour = if instrumented { "coverage" } else { "plain" };
    paths::xtask_test(root).join("cache").join(flavour).join(slug(id))
}

/// A file-name-safe form of a binary id.
pub fn slug(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '.' }).collect()
}

/// The stored entry for exactly this key, if any.
pub fn lookup(root: &Path, instrumented: bool, id: &str, key: &str) -> Option<(Entry, PathBuf)> {
    let dir = binary_dir(root, instrumented, id).join(key);
    let entry: Entry = serde_json::from_slice(&std::fs::read(dir.join("result.json")).ok()?).ok()?;
    (entry.id == id).then_some((entry, dir))
}

/// Store a passing run (replacing any older entry of the binary): its result, its output and the
/// coverage profiles it wrote.
pub fn store(
    root: &Path,
    instrumented: bool,
    key: &str,
    entry: &Entry,
    log: &Path,
    profiles: &[PathBuf],
) -> Result<()> {
    let parent = binary_dir(root, instrumented, &entry.id);
    let _ = std::fs::remove_dir_all(&parent);
    let dir = parent.join(key);
    std::fs::create_dir_all(dir.join("profiles"))?;
    for p in profiles {
        std::fs::copy(p, dir.join("profiles").join(p.file_name().unwrap_or_default()))?;
    }
    std::fs::copy(log, dir.join("output.log"))?;
    // Written last: an entry without result.json is never used.
    std::fs::write(dir.join("result.json"), serde_json::to_vec_pretty(entry)?)?;
    Ok(())
}

/// Copy a cached entry's coverage profiles into `profile_dir` (where the report reads them).
pub fn restore_profiles(entry_dir: &Path, profile_dir: &Path) -> Result<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(entry_dir.join("profiles")).into_iter().flatten().flatten() {
        std::fs::copy(e.path(), profile_dir.join(e.file_name()))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::build::PackageBin;
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn binary(dir: &Path, id: &str, package: &str, src: &str) -> TestBinary {
        let exe = dir.join(format!("{}.bin", slug(id)));
        std::fs::write(&exe, format!("binary of {id}")).unwrap();
        let src_path = dir.join(format!("{}.rs", slug(id)));
        std::fs::write(&src_path, src).unwrap();
        TestBinary { id: id.into(), package: package.into(), exe, src: src_path, package_dir: dir.into() }
    }

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(p, h)| (p.to_string(), h.to_string())).collect()
    }

    #[test]
    fn keys_follow_the_binaries_the_files_and_the_machine() {
        let d = scratch("keys");
        let e2e = binary(&d, "xtask::local_env", "xtask", "//! test-cache-ignores: app/ docs/\nfn main() {}\n");
        let http = binary(&d, "app::http", "app", "fn main() {}\n");
        let xtask_bin = d.join("xtask-bin");
        std::fs::write(&xtask_bin, "xtask v1").unwrap();
        let built = Built {
            tests: vec![e2e.clone(), http.clone()],
            bins: vec![PackageBin { package: "xtask".into(), name: "xtask".into(), exe: xtask_bin.clone() }],
        };
        let mut hash = |p: &Path| crate::base::hex::sha256_file(p);
        let before = files(&[("app/src/lib.rs", "a1"), ("infra/main.tf", "i1")]);
        let app_changed = files(&[("app/src/lib.rs", "a2"), ("infra/main.tf", "i1")]);
        let infra_changed = files(&[("app/src/lib.rs", "a1"), ("infra/main.tf", "i2")]);
        let k = |b: &TestBinary, f: &BTreeMap<String, String>, m: &str, h: &mut dyn FnMut(&Path) -> Result<String>| {
            key(b, &built, f, m, h).unwrap()
        };

        let e2e0 = k(&e2e, &before, "m", &mut hash);
        assert_eq!(e2e0, k(&e2e, &before, "m", &mut hash), "stable");
        // The e2e binary declared app/ irrelevant; the app's tests did not.
        assert_eq!(e2e0, k(&e2e, &app_changed, "m", &mut hash));
        assert_ne!(k(&http, &before, "m", &mut hash), k(&http, &app_changed, "m", &mut hash));
        assert_ne!(e2e0, k(&e2e, &infra_changed, "m", &mut hash));
        assert_ne!(e2e0, k(&e2e, &before, "other machine", &mut hash));
        // A rebuilt xtask binary (which the e2e test runs) changes the key; the app's does not care.
        let http0 = k(&http, &before, "m", &mut hash);
        std::fs::write(&xtask_bin, "xtask v2").unwrap();
        assert_ne!(e2e0, k(&e2e, &before, "m", &mut hash));
        assert_eq!(http0, k(&http, &before, "m", &mut hash));
        // And so does the test binary itself.
        std::fs::write(&e2e.exe, "rebuilt").unwrap();
        let rebuilt = k(&e2e, &before, "m", &mut hash);
        std::fs::write(&xtask_bin, "xtask v1").unwrap();
        assert_ne!(e2e0, rebuilt);
    }

    #[test]
    fn the_marker_is_read_from_the_crate_root_only_as_directory_prefixes() {
        let d = scratch("marker");
        let src = d.join("t.rs");
        std::fs::write(&src, "//! About.\n//! test-cache-ignores: app/ docs/ README.md\nuse x;\n").unwrap();
        assert_eq!(ignored_prefixes(&src), ["app/", "docs/"]);
        std::fs::write(&src, "// test-cache-ignores: app/\n").unwrap();
        assert!(ignored_prefixes(&src).is_empty(), "only the //! form counts");
    }

    #[test]
    fn expected_seconds_come_from_the_crate_root_marker() {
        let d = scratch("expected");
        let src = d.join("t.rs");
        std::fs::write(&src, "//! About.\n//! test-expected-seconds: 450\nuse x;\n").unwrap();
        assert_eq!(expected_seconds(&src), Some(450.0));
        std::fs::write(&src, "//! test-expected-seconds: soon\n").unwrap();
        assert_eq!(expected_seconds(&src), None, "not a number: no estimate");
        assert_eq!(expected_seconds(&d.join("missing.rs")), None);
    }

    #[test]
    fn store_then_lookup_round_trips_and_replaces_older_entries() {
        let root = scratch("store");
        let log = root.join("log");
        std::fs::write(&log, "test result: ok. 2 passed").unwrap();
        let prof = root.join("xtask.local_env-1234_0.profraw");
        std::fs::write(&prof, "profile").unwrap();
        let entry = Entry { id: "xtask::local_env".into(), passed: 2, ignored: 0, seconds: 3.5, ran_at: 1 };
        store(&root, true, "k1", &entry, &log, std::slice::from_ref(&prof)).unwrap();
        let (found, dir) = lookup(&root, true, "xtask::local_env", "k1").unwrap();
        assert_eq!(found, entry);
        assert!(lookup(&root, false, "xtask::local_env", "k1").is_none(), "plain and coverage runs are apart");
        let out = scratch("store-out");
        assert_eq!(restore_profiles(&dir, &out).unwrap(), 1);
        assert_eq!(std::fs::read_to_string(out.join("xtask.local_env-1234_0.profraw")).unwrap(), "profile");
        store(&root, true, "k2", &entry, &log, &[]).unwrap();
        assert!(lookup(&root, true, "xtask::local_env", "k1").is_none(), "one entry per binary");
        assert!(lookup(&root, true, "xtask::local_env", "k2").is_some());
    }
}
