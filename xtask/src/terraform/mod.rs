//! Running Terraform the same way everywhere: the CLI config (provider mirror when
//! `XTASK_TF_MIRROR` names one, the public registry otherwise), the layers, the steps of each
//! terraform command, and what plan and drift read back (`saved`, `drift`).

pub mod drift;
pub mod saved;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::cmd;

use crate::base::error::CodedError;
use crate::base::paths;
use crate::env::{Env, aws};
use crate::run::{Ctx, Step};
use crate::tools::TERRAFORM;

/// Point terraform at a filesystem provider mirror (offline machines, CI) when `XTASK_TF_MIRROR`
/// is set: writes `target/terraform/cli.tfrc` and returns the variables (`TF_CLI_CONFIG_FILE`,
/// a shared plugin cache) that every terraform command built here carries, so no shell is
/// changed for good. Without it, terraform's own configuration (and the public registry) is used.
pub fn cli_env(root: &Path) -> Result<Vec<(&'static str, String)>> {
    let Some(mirror) = std::env::var_os("XTASK_TF_MIRROR") else { return Ok(Vec::new()) };
    let mirror = PathBuf::from(mirror);
    let dir = paths::terraform(root);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let rc = dir.join("cli.tfrc");
    std::fs::write(&rc, cli_config(&mirror)).with_context(|| format!("writing {}", rc.display()))?;
    // One shared plugin cache: every module/layer dir links to the same provider binary.
    let cache = dir.join("plugin-cache");
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    Ok(vec![
        ("TF_CLI_CONFIG_FILE", rc.to_string_lossy().into_owned()),
        ("TF_PLUGIN_CACHE_DIR", cache.to_string_lossy().into_owned()),
        ("TF_IN_AUTOMATION", "1".to_owned()),
    ])
}

pub fn cli_config(mirror: &Path) -> String {
    format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/*/*\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/*/*\"]\n  }}\n}}\n",
        mirror.display()
    )
}

/// Terraform's working directory (`TF_DATA_DIR`) for one use of one config, under target/, so
/// lint (no backend), each environment's backend and the checked-in tree never share `.terraform`.
pub fn data_dir(root: &Path, purpose: &str) -> PathBuf {
    paths::terraform_data(root, purpose)
}

/// Every directory terraform validates: modules, layers and bootstrap.
pub fn config_dirs(root: &Path) -> Vec<String> {
    let mut dirs = Vec::new();
    for parent in ["infra/modules", "infra/layers"] {
        if let Ok(entries) = std::fs::read_dir(root.join(parent)) {
            let mut names: Vec<String> = entries
                .flatten()
                .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with(['_', '.']))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            dirs.extend(names.into_iter().map(|n| format!("{parent}/{n}")));
        }
    }
    if root.join("infra/bootstrap").is_dir() {
        dirs.push("infra/bootstrap".into());
    }
    dirs
}

/// `terraform fmt -check` over infra/, then init (no backend) + validate for every config.
pub fn lint_steps(ctx: &Ctx) -> Result<Vec<Step<'_>>> {
    let sh = &ctx.sh;
    let tf = cli_env(&ctx.root)?;
    let mut steps = vec![Step::new(
        "terraform fmt",
        Some(&TERRAFORM),
        cmd!(sh, "terraform fmt -check -recursive -diff infra").envs(tf.clone()),
    )];
    for dir in config_dirs(&ctx.root) {
        let chdir = format!("-chdir={dir}");
        // Its own data dir: a .terraform/ left by an S3-backend init would make this one need credentials.
        let data = data_dir(&ctx.root, &format!("validate/{dir}"));
        steps.push(
            Step::diagnosed(
                "terraform init",
                Some(&TERRAFORM),
                cmd!(sh, "terraform {chdir} init -backend=false -input=false -no-color -lockfile=readonly")
                    .envs(tf.clone())
                    .env("TF_DATA_DIR", &data),
                provider_mirror_hint,
            )
            .quiet(),
        );
        steps.push(Step::new(
            "terraform validate",
            Some(&TERRAFORM),
            cmd!(sh, "terraform {chdir} validate -no-color").envs(tf.clone()).env("TF_DATA_DIR", &data),
        ));
    }
    Ok(steps)
}

/// terraform could not download a provider (offline machine, or no access to the registry).
pub fn provider_mirror_hint(output: &str) -> Option<String> {
    let download = [
        "could not connect to registry.terraform.io",
        "Failed to query available provider packages",
        "Failed to install provider",
        "Could not retrieve the list of available versions for provider",
    ];
    download.iter().any(|d| output.contains(d)).then(|| {
        "terraform could not download a provider from registry.terraform.io. Offline, set \
         XTASK_TF_MIRROR=<directory holding registry.terraform.io/hashicorp/aws/...> (a provider mirror, \
         made with `terraform providers mirror <dir>` where the registry is reachable; `.ci/run` sets it)."
            .to_owned()
    })
}

/// Root configurations in apply order; later layers read earlier layers' outputs.
pub const LAYERS: [&str; 3] = ["shared", "core", "app"];

/// The layers whose outputs a layer reads (`terraform_remote_state`). A test keeps this in step
/// with the .tf files.
pub fn upstream(layer: &str) -> &'static [&'static str] {
    match layer {
        "app" => &["shared", "core"],
        _ => &[],
    }
}

/// The layers a command works on, in apply order: all of them, or those named with `--layer`.
pub fn select_layers(names: &[String]) -> anyhow::Result<Vec<&'static str>> {
    let names: Vec<&str> = names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect();
    if let Some(bad) = names.iter().find(|n| !LAYERS.contains(n)) {
        return Err(CodedError::usage(format!("unknown layer '{bad}'; layers: {}", LAYERS.join(", "))));
    }
    Ok(LAYERS.iter().copied().filter(|l| names.is_empty() || names.contains(l)).collect())
}

/// A terraform command in `infra/layers/<layer>` with the environment's AWS settings applied.
pub struct Layer<'a> {
    pub ctx: &'a Ctx,
    pub env: &'a Env,
    pub name: &'static str,
    pub aws: Vec<(&'static str, String)>,
}

impl<'a> Layer<'a> {
    pub fn new(ctx: &'a Ctx, env: &'a Env, name: &'static str) -> anyhow::Result<Self> {
        let mut aws: Vec<(&'static str, String)> = aws::env_vars(&ctx.root, env)?;
        aws.extend(cli_env(&ctx.root)?);
        let data = data_dir(&ctx.root, &format!("{}/{name}", env.name));
        aws.push(("TF_DATA_DIR", data.to_string_lossy().into_owned()));
        Ok(Self { ctx, env, name, aws })
    }

    fn chdir(&self) -> String {
        format!("-chdir=infra/layers/{}", self.name)
    }

    /// `terraform init` against this environment's S3 backend, one state key per env and layer.
    pub fn init(&self) -> Step<'a> {
        let sh = &self.ctx.sh;
        let chdir = self.chdir();
        let backend = format!("-backend-config=../../envs/{}.s3.tfbackend", self.env.name);
        let key = format!("-backend-config=key={}/{}.tfstate", self.env.name, self.name);
        // The committed .terraform.lock.hcl decides the provider: plan and apply use the same one.
        let cmd =
            cmd!(sh, "terraform {chdir} init -input=false -reconfigure -no-color -lockfile=readonly {backend} {key}");
        // Init's chatter hides the plan; its errors still go to stderr.
        let cmd = if self.ctx.verbose { cmd } else { cmd.ignore_stdout() };
        Step::diagnosed("terraform init", Some(&TERRAFORM), cmd.envs(self.aws.clone()), provider_mirror_hint)
    }

    /// `terraform plan` saved to `out`.
    pub fn plan(&self, out: &Path) -> Step<'a> {
        self.plan_locking(out, "-lock-timeout=60s")
    }

    /// A plan that changes nothing anywhere: no state lock (a read-only role cannot take it),
    /// saved only so `show -json` can read it (drift).
    pub fn plan_read_only(&self, out: &Path) -> Step<'a> {
        self.plan_locking(out, "-lock=false")
    }

    fn plan_locking(&self, out: &Path, lock: &str) -> Step<'a> {
        let sh = &self.ctx.sh;
        let (chdir, vars) = (self.chdir(), self.var_file());
        let out = format!("-out={}", out.display());
        Step::new(
            "terraform plan",
            Some(&TERRAFORM),
            cmd!(sh, "terraform {chdir} plan -input=false -no-color {lock} {vars} {out}").envs(self.aws.clone()),
        )
    }

    /// `terraform show -json` of a saved plan (read, not run, so it is never echoed).
    pub fn show_json(&self, plan: &Path) -> Step<'a> {
        let sh = &self.ctx.sh;
        let chdir = self.chdir();
        Step::new(
            "terraform show",
            Some(&TERRAFORM),
            cmd!(sh, "terraform {chdir} show -json -no-color {plan}").envs(self.aws.clone()).quiet(),
        )
    }

    pub fn apply(&self, plan: &Path) -> Step<'a> {
        let sh = &self.ctx.sh;
        let chdir = self.chdir();
        Step::new(
            "terraform apply",
            Some(&TERRAFORM),
            cmd!(sh, "terraform {chdir} apply -input=false -no-color -lock-timeout=60s {plan}").envs(self.aws.clone()),
        )
    }

    pub fn destroy(&self) -> Step<'a> {
        let sh = &self.ctx.sh;
        let (chdir, vars) = (self.chdir(), self.var_file());
        Step::new(
            "terraform destroy",
            Some(&TERRAFORM),
            cmd!(sh, "terraform {chdir} destroy -input=false -no-color -auto-approve -lock-timeout=60s {vars}")
                .envs(self.aws.clone()),
        )
    }

    fn var_file(&self) -> String {
        format!("-var-file=../../envs/{}.tfvars", self.env.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `upstream()` must list exactly the layers each layer's .tf files read remote state from.
    #[test]
    fn upstream_matches_the_remote_state_blocks() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for layer in LAYERS {
            let dir = root.join("infra/layers").join(layer);
            let mut read: Vec<&str> = Vec::new();
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                for other in LAYERS {
                    if text.contains(&format!("/{other}.tfstate")) && !read.contains(&other) {
                        read.push(other);
                    }
                }
            }
            read.sort_by_key(|l| LAYERS.iter().position(|x| x == l));
            assert_eq!(read, upstream(layer), "layer {layer}");
        }
    }

    /// Every configuration terraform inits has a committed lock file: the linux_amd64 `h1:` hash
    /// (what the offline mirror holds) and the registry's `zh:` hashes of every platform's
    /// package, so an init on macOS verifies its download against the same lock.
    #[test]
    fn every_configuration_has_a_lock_file_for_every_platform() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dirs = config_dirs(root);
        assert!(dirs.len() >= 12, "{dirs:?}");
        for dir in dirs {
            let lock = std::fs::read_to_string(root.join(&dir).join(".terraform.lock.hcl"))
                .unwrap_or_else(|_| panic!("{dir}/.terraform.lock.hcl is not committed"));
            assert!(lock.contains("version     = \"5.100.0\""), "{dir}");
            assert!(lock.contains("\"h1:edXOJWE4ORX8Fm+dpVpICzMZJat4AX0VRCAy/xkcOc0=\""), "{dir}: linux_amd64 hash");
            assert_eq!(lock.matches("\"zh:").count(), 15, "{dir}: one zh: hash per platform package");
        }
    }

    #[test]
    fn mirror_config_excludes_the_registry() {
        let rc = cli_config(Path::new("/opt/mirror"));
        assert!(rc.contains("path    = \"/opt/mirror\""));
        assert!(rc.contains("exclude = [\"registry.terraform.io/*/*\"]"));
    }
}
