//! What `plan` leaves for `apply`: per layer, the saved plan, its JSON, and a record of its
//! status and of the fingerprint of the code it was made from. Paths and (de)serialisation only.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::paths;
use crate::env::Env;

/// What `plan` recorded for one layer, read back by `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub layer: String,
    pub status: Status,
    /// Fingerprint of infra/ and the env file when the plan was made; apply refuses a mismatch.
    pub fingerprint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A saved plan with changes.
    Changes,
    /// Nothing to do.
    NoChanges,
    /// Not planned: an earlier layer has changes this layer reads. Apply never plans: it is
    /// planned (and reviewed) in a second pass, after the earlier layers are applied.
    Waiting,
}

pub fn plans_dir(root: &Path, env: &str) -> PathBuf {
    paths::plans(root, env)
}

pub fn plan_file(root: &Path, env: &str, layer: &str) -> PathBuf {
    plans_dir(root, env).join(format!("{layer}.tfplan"))
}

/// `terraform show -json` of the saved plan, for review tools and CI artifacts.
pub fn plan_json_file(root: &Path, env: &str, layer: &str) -> PathBuf {
    plans_dir(root, env).join(format!("{layer}.plan.json"))
}

pub fn saved_file(root: &Path, env: &str, layer: &str) -> PathBuf {
    plans_dir(root, env).join(format!("{layer}.json"))
}

/// A stable fingerprint (FNV-1a) of every file under infra/ (bar .terraform/; the provider lock
/// files count) and the env file, so apply can tell that the code changed since the plan.
pub fn fingerprint(root: &Path, env: &Env) -> Result<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == ".terraform" {
                continue;
            }
            let path = entry.path();
            if path.is_dir() { walk(&path, out)? } else { out.push(path) }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(&root.join("infra"), &mut files).context("reading infra/")?;
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(env.name.as_bytes());
    for f in files {
        eat(f.strip_prefix(root).unwrap_or(&f).to_string_lossy().as_bytes());
        eat(&std::fs::read(&f).unwrap_or_default());
    }
    Ok(format!("{hash:016x}"))
}

pub fn save(root: &Path, env: &Env, layer: &str, status: Status, fingerprint: &str) -> Result<()> {
    let saved = Saved { layer: layer.into(), status, fingerprint: fingerprint.into() };
    std::fs::write(saved_file(root, &env.name, layer), serde_json::to_vec_pretty(&saved)?)?;
    Ok(())
}
