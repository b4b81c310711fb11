//! What a tool's output means when it fails for a known reason (a [`crate::run::Diagnose`]).

/// cargo-audit could not download the RustSec database (offline machine).
pub fn advisory_db_hint(output: &str) -> Option<String> {
    output.contains("couldn't fetch advisory database").then(|| {
        "cargo-audit could not download the RustSec advisory database (no access to github.com?). \
         Offline, set XTASK_ADVISORY_DB=<directory with a copy of https://github.com/RustSec/advisory-db> \
         (`.ci/run` sets it on the CI machines)."
            .to_owned()
    })
}
