//! Environments: `infra/envs/<env>.tfvars` is the single source of truth for names. Terraform
//! reads the file as variables; xtask reads the same top-level `key = value` lines from it.
//! `aws` turns an environment into AWS settings (credentials, the emulator's endpoint);
//! `emulator` is the one launcher of the local AWS emulator.

pub mod aws;
pub mod emulator;
pub mod sdk_config;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::base::error::CodedError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    pub name: String,
    pub project: String,
    pub region: String,
    pub values: BTreeMap<String, String>,
}

impl Env {
    /// Load `infra/envs/<name>.tfvars`; an unknown name lists the environments that exist.
    pub fn load(root: &Path, name: &str) -> Result<Self> {
        let path = tfvars_path(root, name);
        if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') || !path.is_file() {
            let found = available(root);
            return Err(CodedError::usage(format!(
                "unknown environment '{name}': no {}. Environments: {}",
                path.strip_prefix(root).unwrap_or(&path).display(),
                if found.is_empty() { "none found".into() } else { found.join(", ") }
            )));
        }
        let text = std::fs::read_to_string(&path)?;
        Self::parse(name, &text).map_err(|e| CodedError::usage(format!("{}: {e}", path.display())))
    }

    pub fn parse(name: &str, text: &str) -> Result<Self, String> {
        let values = parse_tfvars(text);
        let get = |k: &str| values.get(k).cloned().ok_or_else(|| format!("missing `{k} = \"...\"`"));
        let (project, environment, region) = (get("project")?, get("environment")?, get("region")?);
        if environment != name {
            return Err(format!("environment = \"{environment}\" does not match the file name ({name})"));
        }
        Ok(Self { name: name.to_owned(), project, region, values })
    }

    fn prefix(&self) -> String {
        format!("{}-{}", self.project, self.name)
    }
    pub fn cluster(&self) -> String {
        format!("{}-cluster", self.prefix())
    }
    pub fn service(&self) -> String {
        format!("{}-app", self.prefix())
    }
    pub fn repository(&self) -> String {
        format!("{}-app", self.prefix())
    }
    pub fn task_family(&self) -> String {
        format!("{}-app", self.prefix())
    }
    /// The environment requires HTTPS (`https_required`, true unless the file says false) but
    /// names no way to get a certificate: the one line `plan` refuses with. Terraform's own
    /// validation of `alb_certificate_arn` says the same for anyone running terraform directly.
    pub fn missing_https(&self) -> Option<String> {
        let set = |k: &str| self.values.get(k).is_some_and(|v| !v.is_empty() && v != "null");
        let required = self.values.get("https_required").is_none_or(|v| v != "false");
        if !required || set("alb_certificate_arn") || set("domain_name") {
            return None;
        }
        Some(format!(
            "{} requires HTTPS (https_required): set domain_name and route53_zone_name, or alb_certificate_arn, in infra/envs/{}.tfvars",
            self.name, self.name
        ))
    }

    pub fn is_local(&self) -> bool {
        self.name == "local"
    }
    pub fn is_prod(&self) -> bool {
        self.name == "prod"
    }
}

fn tfvars_path(root: &Path, name: &str) -> PathBuf {
    root.join("infra/envs").join(format!("{name}.tfvars"))
}

/// Environment names: every `infra/envs/*.tfvars`.
pub fn available(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("infra/envs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".tfvars").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Top-level scalar assignments of a tfvars file (`key = "string"`, numbers, booleans).
/// Lists, maps and anything nested are skipped: xtask only needs names and flags.
pub fn parse_tfvars(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut depth = 0i32;
    for line in text.lines() {
        let code = line.split_once('#').map_or(line, |(c, _)| c).trim();
        let opens = code.matches(['[', '{']).count() as i32;
        let closes = code.matches([']', '}']).count() as i32;
        if depth == 0
            && let Some((key, value)) = code.split_once('=')
        {
            let (key, value) = (key.trim(), value.trim());
            let scalar = !value.starts_with(['[', '{']) && !value.is_empty();
            if scalar && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.insert(key.to_owned(), value.trim_matches('"').to_owned());
            }
        }
        depth += opens - closes;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
# comment = "ignored"
project     = "rdeploy"
environment = "dev"
region      = "eu-west-1" # trailing comment
desired_count = 2
autoscaling_enabled = false
github_deploy_branches = [
  "main",
]
tags = { team = "x" }
"#;

    #[test]
    fn names_derive_from_the_tfvars_file() {
        let env = Env::parse("dev", SAMPLE).unwrap();
        assert_eq!(env.cluster(), "rdeploy-dev-cluster");
        assert_eq!(env.service(), "rdeploy-dev-app");
        assert_eq!(env.repository(), "rdeploy-dev-app");
        assert_eq!(env.region, "eu-west-1");
        assert_eq!(env.values["desired_count"], "2");
        assert_eq!(env.values["autoscaling_enabled"], "false");
        assert!(!env.values.contains_key("github_deploy_branches"));
        assert!(!env.values.contains_key("team"));
    }

    #[test]
    fn mismatched_or_incomplete_files_are_rejected() {
        assert!(Env::parse("prod", SAMPLE).unwrap_err().contains("does not match"));
        assert!(Env::parse("dev", "project = \"x\"").unwrap_err().contains("environment"));
    }

    #[test]
    fn https_is_required_unless_turned_off() {
        let base = "project = \"p\"\nenvironment = \"prod\"\nregion = \"r\"\n";
        let missing = Env::parse("prod", base).unwrap().missing_https().unwrap();
        assert!(missing.contains("domain_name") && missing.contains("alb_certificate_arn") && !missing.contains('\n'));
        for ok in ["domain_name = \"a.example.com\"", "alb_certificate_arn = \"arn:x\"", "https_required = false"] {
            assert_eq!(Env::parse("prod", &format!("{base}{ok}\n")).unwrap().missing_https(), None, "{ok}");
        }
        assert!(Env::parse("prod", &format!("{base}# domain_name = \"x\"\n")).unwrap().missing_https().is_some());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        assert!(Env::load(root, "prod").unwrap().missing_https().is_some(), "prod.tfvars ships without a certificate");
        assert_eq!(Env::load(root, "dev").unwrap().missing_https(), None);
        assert_eq!(Env::load(root, "local").unwrap().missing_https(), None);
    }

    #[test]
    fn unknown_env_lists_the_real_ones() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let err = Env::load(root, "staging").unwrap_err();
        let exit = err.downcast_ref::<CodedError>().unwrap();
        assert_eq!(exit.code, 2);
        assert!(exit.message.contains("Environments: dev, local, prod"), "{}", exit.message);
        assert!(Env::load(root, "../etc/passwd").is_err());
        assert_eq!(Env::load(root, "local").unwrap().cluster(), "rdeploy-local-cluster");
    }
}
