//! Which AWS endpoint and credentials an environment talks to. Real environments use the
//! standard AWS credential chain; `local` talks to the emulator started by `cargo xtask local up`,
//! whose address is recorded in `target/local/endpoint`.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::base::error::CodedError;
use crate::env::Env;

/// Static credentials the emulator accepts (it checks nothing until IAM enforcement is on).
pub const EMULATOR_KEY_ID: &str = "test";
pub const EMULATOR_SECRET: &str = "test";

/// `XTASK_EMULATOR_CREDENTIALS=caller`: for `--env local`, use the caller's AWS_ACCESS_KEY_ID,
/// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN instead of the static test/test, e.g. a role's
/// credentials from the emulator's AssumeRoleWithWebIdentity once its IAM enforcement is on
/// (xtask/tests/local_env_day2.rs deploys as the GitHub deploy role that way). Never a profile, SSO
/// or instance metadata: only those variables.
pub const CALLER_CREDENTIALS_VAR: &str = "XTASK_EMULATOR_CREDENTIALS";

/// The credentials to send to the emulator: (key id, secret, session token).
pub fn emulator_credentials() -> Result<(String, String, Option<String>)> {
    credentials_from(|k| std::env::var(k).ok())
}

fn credentials_from(lookup: impl Fn(&str) -> Option<String>) -> Result<(String, String, Option<String>)> {
    let var = |k: &str| lookup(k).filter(|v| !v.is_empty());
    match var(CALLER_CREDENTIALS_VAR).as_deref() {
        None => Ok((EMULATOR_KEY_ID.into(), EMULATOR_SECRET.into(), None)),
        Some("caller") => match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Ok((id, secret, var("AWS_SESSION_TOKEN"))),
            _ => Err(CodedError::usage(format!(
                "{CALLER_CREDENTIALS_VAR}=caller needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for a role)"
            ))),
        },
        Some(other) => Err(CodedError::usage(format!(
            "{CALLER_CREDENTIALS_VAR}={other}: the only value is `caller` (unset: test/test)"
        ))),
    }
}

pub fn endpoint_file(root: &Path) -> PathBuf {
    crate::base::paths::local_endpoint(root)
}

/// The emulator's URL, e.g. `http://127.0.0.1:4566`, or a clear error when it is not running.
pub fn emulator_endpoint(root: &Path) -> Result<String> {
    match std::fs::read_to_string(endpoint_file(root)) {
        Ok(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
        _ => Err(CodedError::usage("the local AWS emulator is not running: start it with `cargo xtask local up`")),
    }
}

/// Environment variables that point the AWS SDKs, the AWS CLI and Terraform at `env`'s AWS.
/// Empty for real environments (the normal credential chain applies).
pub fn env_vars(root: &Path, env: &Env) -> Result<Vec<(&'static str, String)>> {
    if !env.is_local() {
        return Ok(vec![("AWS_REGION", env.region.clone())]);
    }
    let endpoint = emulator_endpoint(root)?;
    let (id, secret, token) = emulator_credentials()?;
    Ok(vec![
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_SESSION_TOKEN", token.unwrap_or_default()),
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
        Err(CodedError::usage(format!(
            "no AWS credentials for --env {}: set AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; in GitHub Actions use the OIDC role (see README)",
            env.name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<(String, String, Option<String>)> {
        let map: std::collections::BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        credentials_from(|k| map.get(k).cloned())
    }

    #[test]
    fn the_emulator_gets_test_credentials_unless_the_caller_asks() {
        // Real keys in the environment are NOT used by default.
        assert_eq!(
            with(&[("AWS_ACCESS_KEY_ID", "AKIAREAL"), ("AWS_SECRET_ACCESS_KEY", "s")]).unwrap(),
            ("test".into(), "test".into(), None)
        );
        let role = [
            (CALLER_CREDENTIALS_VAR, "caller"),
            ("AWS_ACCESS_KEY_ID", "ASIA1"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t"),
        ];
        assert_eq!(with(&role).unwrap(), ("ASIA1".into(), "s".into(), Some("t".into())));
        let err = with(&[(CALLER_CREDENTIALS_VAR, "caller")]).unwrap_err();
        assert_eq!(err.downcast_ref::<CodedError>().unwrap().code, 2);
        assert!(
            with(&[(CALLER_CREDENTIALS_VAR, "profile")]).unwrap_err().to_string().contains("only value is `caller`")
        );
    }
}
