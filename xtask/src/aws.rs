//! Which AWS endpoint and credentials an environment talks to. Real environments use the
//! standard AWS credential chain; `local` talks to the emulator started by `cargo xtask local up`,
//! whose address is recorded in `target/local/endpoint`.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::ctx::Exit;
use crate::envs::Env;

/// Static credentials the emulator accepts (it checks nothing).
pub const EMULATOR_KEY_ID: &str = "test";
pub const EMULATOR_SECRET: &str = "test";

pub fn endpoint_file(root: &Path) -> PathBuf {
    root.join("target/local/endpoint")
}

/// The emulator's URL, e.g. `http://127.0.0.1:4566`, or a clear error when it is not running.
pub fn emulator_endpoint(root: &Path) -> Result<String> {
    match std::fs::read_to_string(endpoint_file(root)) {
        Ok(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
        _ => Err(Exit::usage("the local AWS emulator is not running: start it with `cargo xtask local up`")),
    }
}

/// Environment variables that point the AWS SDKs, the AWS CLI and Terraform at `env`'s AWS.
/// Empty for real environments (the normal credential chain applies).
pub fn env_vars(root: &Path, env: &Env) -> Result<Vec<(&'static str, String)>> {
    if !env.is_local() {
        return Ok(vec![("AWS_REGION", env.region.clone())]);
    }
    let endpoint = emulator_endpoint(root)?;
    Ok(vec![
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", EMULATOR_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY", EMULATOR_SECRET.into()),
        ("AWS_REGION", env.region.clone()),
        ("AWS_DEFAULT_REGION", env.region.clone()),
        // Never consult a real profile or instance metadata for the emulator.
        ("AWS_PROFILE", String::new()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ])
}

/// Refuse to talk to a real AWS account without credentials: one clear line instead of a page
/// of provider errors. Looks for any source the AWS credential chain would use.
pub fn require_credentials(env: &Env) -> anyhow::Result<()> {
    if env.is_local() {
        return Ok(());
    }
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let sources = set("AWS_ACCESS_KEY_ID")
        || set("AWS_PROFILE")
        || set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        || home.join(".aws/credentials").is_file()
        || home.join(".aws/config").is_file();
    if sources {
        Ok(())
    } else {
        Err(Exit::usage(format!(
            "no AWS credentials for --env {}: set AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; in GitHub Actions use the OIDC role (see README)",
            env.name
        )))
    }
}
