//! Running Terraform the same way everywhere: the CLI config (provider mirror when
//! `XTASK_TF_MIRROR` names one, the public registry otherwise) and the lint steps.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::cmd;

use crate::ctx::{Ctx, Step};
use crate::tools::TERRAFORM;

/// Point terraform at a filesystem provider mirror (offline machines, CI) when `XTASK_TF_MIRROR`
/// is set: writes `target/terraform/cli.tfrc` and sets `TF_CLI_CONFIG_FILE` for this shell only.
/// Without it, terraform's own configuration (and the public registry) is used unchanged.
pub fn configure(ctx: &Ctx) -> Result<()> {
    let Some(mirror) = std::env::var_os("XTASK_TF_MIRROR") else { return Ok(()) };
    let mirror = PathBuf::from(mirror);
    let dir = ctx.root.join("target/terraform");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let rc = dir.join("cli.tfrc");
    std::fs::write(&rc, cli_config(&mirror)).with_context(|| format!("writing {}", rc.display()))?;
    ctx.sh.set_var("TF_CLI_CONFIG_FILE", &rc);
    // One shared plugin cache: every module/layer dir links to the same provider binary.
    let cache = dir.join("plugin-cache");
    std::fs::create_dir_all(&cache)?;
    ctx.sh.set_var("TF_PLUGIN_CACHE_DIR", &cache);
    ctx.sh.set_var("TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE", "1");
    ctx.sh.set_var("TF_IN_AUTOMATION", "1");
    Ok(())
}

pub fn cli_config(mirror: &Path) -> String {
    format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/*/*\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/*/*\"]\n  }}\n}}\n",
        mirror.display()
    )
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
pub fn lint_steps(ctx: &Ctx) -> Vec<Step<'_>> {
    let sh = &ctx.sh;
    let _ = configure(ctx);
    let mut steps =
        vec![Step::new("terraform fmt", Some(&TERRAFORM), cmd!(sh, "terraform fmt -check -recursive -diff infra"))];
    for dir in config_dirs(&ctx.root) {
        let chdir = format!("-chdir={dir}");
        steps.push(Step::new(
            "terraform init",
            Some(&TERRAFORM),
            cmd!(sh, "terraform {chdir} init -backend=false -input=false -no-color").quiet(),
        ));
        steps.push(Step::new("terraform validate", Some(&TERRAFORM), cmd!(sh, "terraform {chdir} validate -no-color")));
    }
    steps
}
