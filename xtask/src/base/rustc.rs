//! `rustc -vV`, run once and read by field name.

use std::process::Command;

use anyhow::{Context, Result};

/// The output of one `rustc -vV`.
pub struct VersionInfo {
    text: String,
}

/// Run `rustc -vV` once.
pub fn version_info() -> Result<VersionInfo> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    Ok(VersionInfo { text: String::from_utf8_lossy(&out.stdout).into_owned() })
}

impl VersionInfo {
    /// One field (e.g. `host`, `LLVM version`).
    pub fn field(&self, name: &str) -> Result<String> {
        let prefix = format!("{name}:");
        self.text
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.trim().to_owned())
            .with_context(|| format!("rustc -vV printed no {name}"))
    }
}

/// One field of `rustc -vV` (one run).
pub fn field(name: &str) -> Result<String> {
    version_info()?.field(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_names_a_missing_one() {
        let info = VersionInfo { text: "rustc 1.90.0\nhost: x86_64-unknown-linux-gnu\nLLVM version: 20.1.8\n".into() };
        assert_eq!(info.field("host").unwrap(), "x86_64-unknown-linux-gnu");
        assert_eq!(info.field("LLVM version").unwrap(), "20.1.8");
        assert!(info.field("commit-hash").unwrap_err().to_string().contains("commit-hash"));
    }
}
