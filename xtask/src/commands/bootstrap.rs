//! `cargo xtask bootstrap migrate-state|plan --env E`: the state bucket's own state, in the
//! bucket. `infra/bootstrap` is applied first with local state (the bucket does not exist yet:
//! README section 3). Once the bucket exists, `migrate-state` moves that local state into it,
//! at `<env>/bootstrap.tfstate` next to the layers' states, so losing the laptop loses nothing:
//! `plan` (and any later change) runs against the copy in S3.
//!
//! infra/bootstrap keeps `backend "local"` (a new environment and the emulator need it), so
//! both actions run terraform in a working copy, `target/bootstrap/<env>/`: the same files
//! (symlinks resolved, the lock file included) plus `backend_override.tf`, which switches the
//! backend to S3 with the environment's `envs/<env>.s3.tfbackend`. Same resources, same
//! addresses: only where the state lives differs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args as ClapArgs, ValueEnum};
use xshell::cmd;

use crate::base::error::CodedError;
use crate::env::Env;
use crate::run::Ctx;
use crate::run::Step;
use crate::terraform;
use crate::tools::TERRAFORM;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Action {
    /// Copy the local bootstrap state into the state bucket (terraform init -migrate-state), check
    /// the copy, and rename the local file to `<file>.migrated` so it is never applied again.
    MigrateState,
    /// Plan infra/bootstrap against its state in the bucket (read-only: no lock).
    Plan,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    #[arg(value_enum)]
    pub action: Action,
    /// Environment: a file infra/envs/<env>.tfvars (and its <env>.s3.tfbackend).
    #[arg(long)]
    pub env: String,
    /// The local bootstrap state to migrate. Default: infra/bootstrap/<env>.tfstate (README
    /// section 3); the emulator's is target/local/bootstrap.tfstate.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

/// Where the state goes: the same bucket and key scheme as the layers (`<env>/<layer>.tfstate`).
pub fn state_key(env: &Env) -> String {
    format!("{}/bootstrap.tfstate", env.name)
}

/// The working copy terraform runs in.
pub fn working_copy(root: &Path, env: &Env) -> PathBuf {
    root.join("target/bootstrap").join(&env.name)
}

/// The override that turns infra/bootstrap's local backend into the environment's S3 backend.
pub const BACKEND_OVERRIDE: &str = "# Written by `cargo xtask bootstrap`: this copy keeps its state in the state bucket.\n\
terraform {\n  backend \"s3\" {}\n}\n";

pub fn run(ctx: &Ctx, args: &Args) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    let backend = ctx.root.join(format!("infra/envs/{}.s3.tfbackend", env.name));
    if !backend.is_file() {
        return Err(CodedError::usage(format!(
            "{}: missing; it names the state bucket the bootstrap state moves into",
            backend.display()
        )));
    }
    let local = match &args.state {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => std::env::current_dir()?.join(p),
        None => ctx.root.join(format!("infra/bootstrap/{}.tfstate", env.name)),
    };
    if args.action == Action::MigrateState && !ctx.dry_run && !local.is_file() {
        return Err(CodedError::usage(format!(
            "{}: no local bootstrap state there; pass --state <file> (the `path` you gave `terraform init -backend-config=path=...`)",
            local.display()
        )));
    }
    if !ctx.dry_run {
        crate::env::aws::require_credentials(&env)?;
    }
    ctx.prepare(&[&TERRAFORM])?;
    let wc = working_copy(&ctx.root, &env);
    prepare(ctx, &wc)?;
    let mut vars =
        crate::env::aws::env_vars(&ctx.root, &env).or_else(|e| if ctx.dry_run { Ok(vec![]) } else { Err(e) })?;
    vars.extend(terraform::cli_env(&ctx.root)?);
    // Its own data directory: the backend recorded there is S3, never infra/bootstrap's local one.
    let data = terraform::data_dir(&ctx.root, &format!("{}/bootstrap-s3", env.name));
    vars.push(("TF_DATA_DIR", data.to_string_lossy().into_owned()));
    let sh = &ctx.sh;
    let chdir = format!("-chdir={}", wc.display());
    let backend_arg = format!("-backend-config={}", backend.display());
    let key = format!("-backend-config=key={}", state_key(&env));
    let var_file = format!("-var-file={}", ctx.root.join(format!("infra/envs/{}.tfvars", env.name)).display());
    match args.action {
        Action::MigrateState => {
            // Two inits in a fresh data directory: first the local backend at the local file
            // (without the override), then the S3 backend with -migrate-state, which copies the
            // state from the backend recorded by the first (-force-copy answers its question).
            if !ctx.dry_run {
                remove_if_present(&data)?;
                remove_if_present(&wc.join("backend_override.tf"))?;
            }
            let path = format!("-backend-config=path={}", local.display());
            let from = cmd!(sh, "terraform {chdir} init -input=false -no-color -lockfile=readonly -reconfigure {path}");
            let from = if ctx.verbose { from } else { from.ignore_stdout() };
            ctx.run(&Step::diagnosed(
                "terraform init (local state)",
                Some(&TERRAFORM),
                from.envs(vars.clone()),
                crate::terraform::provider_mirror_hint,
            ))?;
            write_override(ctx, &wc)?;
            let init = cmd!(
                sh,
                "terraform {chdir} init -input=false -no-color -lockfile=readonly -migrate-state -force-copy {backend_arg} {key}"
            );
            ctx.run(&Step::diagnosed(
                "terraform init -migrate-state",
                Some(&TERRAFORM),
                init.envs(vars.clone()),
                crate::terraform::provider_mirror_hint,
            ))?;
            let pull = cmd!(sh, "terraform {chdir} state pull").envs(vars.clone()).quiet();
            if ctx.dry_run {
                println!("{pull}");
                println!("mv {} {}.migrated", local.display(), local.display());
                return Ok(());
            }
            let remote = pull.read().context("terraform state pull from the bucket")?;
            let local_text = std::fs::read_to_string(&local)?;
            same_state(&local_text, &remote).map_err(|why| {
                CodedError::new(
                    1,
                    format!("the state in the bucket differs from {}: {why}; the local file is kept", local.display()),
                )
            })?;
            let migrated = PathBuf::from(format!("{}.migrated", local.display()));
            std::fs::rename(&local, &migrated)?;
            let bucket = bucket_of(&std::fs::read_to_string(&backend)?).unwrap_or_else(|| "<bucket>".into());
            println!(
                "bootstrap state of {e} is now s3://{bucket}/{k} ({n} resources); the local file is {m} \
                 (delete it once you have seen `cargo xtask bootstrap plan --env {e}` work). \
                 Later changes to infra/bootstrap: `cargo xtask bootstrap plan --env {e}`, then \
                 `terraform {chdir} apply` with TF_DATA_DIR={d}.",
                e = env.name,
                k = state_key(&env),
                n = resource_count(&remote),
                m = migrated.display(),
                d = data.display(),
            );
        }
        Action::Plan => {
            write_override(ctx, &wc)?;
            let init = cmd!(
                sh,
                "terraform {chdir} init -input=false -no-color -lockfile=readonly -reconfigure {backend_arg} {key}"
            );
            ctx.run(&Step::diagnosed(
                "terraform init",
                Some(&TERRAFORM),
                init.envs(vars.clone()),
                crate::terraform::provider_mirror_hint,
            ))?;
            let plan = cmd!(sh, "terraform {chdir} plan -input=false -no-color -lock=false {var_file}").envs(vars);
            ctx.run(&Step::new("terraform plan (bootstrap)", Some(&TERRAFORM), plan))?;
        }
    }
    Ok(())
}

/// The working copy: infra/bootstrap's files (symlinks read through), the lock file, the override.
fn prepare(ctx: &Ctx, wc: &Path) -> Result<()> {
    let src = ctx.root.join("infra/bootstrap");
    if ctx.dry_run {
        println!("copy {} -> {} (then backend_override.tf: backend \"s3\")", src.display(), wc.display());
        return Ok(());
    }
    std::fs::create_dir_all(wc)?;
    for entry in std::fs::read_dir(&src).with_context(|| format!("reading {}", src.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let wanted = name.ends_with(".tf") || name == ".terraform.lock.hcl";
        if wanted && path.is_file() && !name.ends_with("_override.tf") {
            std::fs::write(wc.join(&name), std::fs::read(&path)?)?;
        }
    }
    Ok(())
}

fn write_override(ctx: &Ctx, wc: &Path) -> Result<()> {
    if !ctx.dry_run {
        std::fs::write(wc.join("backend_override.tf"), BACKEND_OVERRIDE)?;
    }
    Ok(())
}

/// The pulled state holds what the local one holds: the same resources with the same IDs.
/// (Terraform gives the migrated copy a new lineage and serial, so those are not compared.)
pub fn same_state(local: &str, remote: &str) -> Result<(), String> {
    let parse = |t: &str, what: &str| serde_json::from_str::<serde_json::Value>(t).map_err(|e| format!("{what}: {e}"));
    let (l, r) = (parse(local, "local state")?, parse(remote, "state in the bucket")?);
    let resources = |v: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = v["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|x| {
                let name = format!(
                    "{}.{}.{}",
                    x["mode"].as_str().unwrap_or("managed"),
                    x["type"].as_str().unwrap_or("?"),
                    x["name"].as_str().unwrap_or("?")
                );
                x["instances"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |i| format!("{name} id={}", i["attributes"]["id"].as_str().unwrap_or("?")))
            })
            .collect();
        n.sort();
        n
    };
    let (lr, rr) = (resources(&l), resources(&r));
    if lr.is_empty() {
        return Err("the local state holds no resources: was bootstrap applied with this file?".into());
    }
    if lr != rr {
        return Err(format!("resources {lr:?} vs {rr:?}"));
    }
    Ok(())
}

fn resource_count(state: &str) -> usize {
    serde_json::from_str::<serde_json::Value>(state)
        .ok()
        .and_then(|v| v["resources"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// `bucket = "..."` of an `.s3.tfbackend` file.
fn bucket_of(backend: &str) -> Option<String> {
    backend.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "bucket").then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Removes a file or directory; one that is not there is fine, any other failure is an error.
fn remove_if_present(path: &Path) -> Result<()> {
    let result = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(anyhow::Error::new(e).context(format!("removing {}", path.display())))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"{"version":4,"serial":7,"lineage":"abc","resources":[
        {"mode":"managed","type":"aws_s3_bucket","name":"state","instances":[{"attributes":{"id":"rdeploy-dev-tfstate"}}]}]}"#;

    #[test]
    fn the_copy_in_the_bucket_must_hold_the_local_resources() {
        assert_eq!(same_state(STATE, STATE), Ok(()));
        // Terraform's migrated copy has a lineage and serial of its own.
        assert_eq!(same_state(STATE, &STATE.replace("abc", "xyz").replace("\"serial\":7", "\"serial\":1")), Ok(()));
        assert!(same_state(STATE, &STATE.replace("\"state\"", "\"other\"")).unwrap_err().contains("resources"));
        assert!(same_state(STATE, &STATE.replace("rdeploy-dev-tfstate", "x")).unwrap_err().contains("resources"));
        let empty = r#"{"serial":1,"lineage":"abc","resources":[]}"#;
        assert!(same_state(empty, empty).unwrap_err().contains("no resources"));
        assert!(same_state(STATE, empty).is_err());
        assert!(same_state("{", STATE).is_err());
    }

    #[test]
    fn the_backend_file_names_the_bucket() {
        assert_eq!(
            bucket_of("# x\nbucket       = \"rdeploy-prod-tfstate\"\nregion = \"eu-west-1\"\n").as_deref(),
            Some("rdeploy-prod-tfstate")
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let env = Env::load(root, "prod").unwrap();
        assert_eq!(state_key(&env), "prod/bootstrap.tfstate");
        assert!(BACKEND_OVERRIDE.contains("backend \"s3\" {}"));
    }
}
