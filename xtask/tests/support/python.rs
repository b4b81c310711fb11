//! The python that has boto3, shared by the integration tests' support module and the permission
//! contract (both include this file).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A python with boto3: the moto venv's in `tools_dir` when xtask installed moto (moto brings
/// boto3; a clean machine's `python3` has none), else the system's `python3`. Probed once per
/// process (the tools directory does not change while the tests run).
pub fn boto3_python(tools_dir: &Path) -> Option<PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            [tools_dir.join("venvs/moto/bin/python"), PathBuf::from("python3")]
                .into_iter()
                .find(|p| Command::new(p).args(["-c", "import boto3"]).output().is_ok_and(|o| o.status.success()))
        })
        .clone()
}
