//! The repository's files as git sees them (`git ls-files`, one place).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use super::hex;

/// Tracked and untracked-but-not-ignored files (relative paths), optionally limited by
/// `pathspecs` (e.g. `*.sh`).
pub fn ls_files(root: &Path, pathspecs: &[&str]) -> Result<Vec<String>> {
    let out = std::process::Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .args(pathspecs)
        .current_dir(root)
        .output()
        .context("git ls-files (xtask needs a git checkout)")?;
    anyhow::ensure!(out.status.success(), "git ls-files failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).split('\0').filter(|p| !p.is_empty()).map(str::to_owned).collect())
}

/// Hash of every repository file, by path relative to the root (sorted).
pub fn repo_files(root: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for rel in ls_files(root, &[])? {
        let path = root.join(&rel);
        let hash = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                format!("link:{}", std::fs::read_link(&path).unwrap_or_default().display())
            }
            Ok(m) if m.is_file() => hex::sha256_file(&path)?,
            // Deleted but still tracked, or a submodule: its absence is what counts.
            _ => "absent".into(),
        };
        files.insert(rel, hash);
    }
    Ok(files)
}
