//! Every path xtask writes under `target/`, in one place (relative to the repository root).
//! Printed commands keep their relative spelling (`target/coverage`): they use the `*_REL` forms.

use std::path::{Path, PathBuf};

/// Terraform's CLI config, plugin cache and per-use data dirs.
pub fn terraform(root: &Path) -> PathBuf {
    root.join("target/terraform")
}

/// `TF_DATA_DIR` for one use of one config (`purpose` like `validate/infra/modules/x`).
pub fn terraform_data(root: &Path, purpose: &str) -> PathBuf {
    terraform(root).join("data").join(purpose.replace('/', "-"))
}

/// Saved plans of one environment (`<layer>.tfplan`, `.plan.json`, `.json`).
pub fn plans(root: &Path, env: &str) -> PathBuf {
    root.join("target/plans").join(env)
}

/// Read-only drift plans of one environment.
pub fn drift(root: &Path, env: &str) -> PathBuf {
    root.join("target/drift").join(env)
}

/// The local emulator's pid, log, endpoint and bootstrap state.
pub fn local(root: &Path) -> PathBuf {
    root.join("target/local")
}

/// The URL of the running local emulator, written by `local up`.
pub fn local_endpoint(root: &Path) -> PathBuf {
    local(root).join("endpoint")
}

/// What `image` built, per environment (`<env>.json`), read by `deploy` and `migrate`.
pub fn images(root: &Path) -> PathBuf {
    root.join("target/images")
}

pub const IMAGE_CONTEXT_REL: &str = "target/image/context";

/// The image build context (the static binary and the Dockerfile).
pub fn image_context(root: &Path) -> PathBuf {
    root.join(IMAGE_CONTEXT_REL)
}

/// The saved image archive that trivy scans.
pub fn image_archive(root: &Path) -> PathBuf {
    root.join("target/image/image.tar")
}

/// The coverage reports (lcov, HTML, summary JSON), as cargo-llvm-cov is told in printed commands.
pub const COVERAGE_REL: &str = "target/coverage";

/// cargo-llvm-cov's instrumented build.
pub const COVERAGE_TARGET_REL: &str = "target/llvm-cov-target";

/// `test`'s durations, logs and cache of passing binaries.
pub fn xtask_test(root: &Path) -> PathBuf {
    root.join("target/xtask-test")
}

/// `lint --cache`'s stamps, one per check.
pub fn lint_stamps(root: &Path) -> PathBuf {
    root.join("target/xtask-lint")
}

/// Benchmark results and scratch data.
pub fn bench(root: &Path) -> PathBuf {
    root.join("target/bench")
}

/// Tools xtask installs when `XTASK_TOOLS_DIR` is not set.
pub fn default_tools(root: &Path) -> PathBuf {
    root.join("target/tools")
}
