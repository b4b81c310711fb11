//! `cargo xtask apply` (the saved plans, in layer order) and `cargo xtask destroy` (reverse).

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result};
use clap::Args;

use crate::base::error::CodedError;
use crate::env::Env;
use crate::run::Ctx;
use crate::terraform::saved::{self as plan, Saved, Status};
use crate::terraform::{self, LAYERS, Layer};
use crate::tools::TERRAFORM;

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// Environment: a file infra/envs/<env>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Apply only these layers' saved plans (comma-separated). Default: all.
    #[arg(long = "layer", value_delimiter = ',', env = "XTASK_LAYERS", value_name = "LAYER")]
    pub layers: Vec<String>,
    /// Confirm applying to prod (CI passes it after the environment's approval).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DestroyArgs {
    /// Environment: a file infra/envs/<env>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

fn load_saved(ctx: &Ctx, env: &Env, layer: &str) -> Result<Saved> {
    let path = plan::saved_file(&ctx.root, &env.name, layer);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        CodedError::usage(format!(
            "no saved plan for {}/{layer}: run `cargo xtask plan --env {}` first",
            env.name, env.name
        ))
    })?;
    serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
}

/// Apply exactly the plans `plan` saved (and a reviewer saw), in layer order. Every check runs
/// before anything is applied: a missing, stale or (in prod) incomplete set of plans changes
/// nothing. Apply never plans: a layer marked waiting is left for the second pass.
pub fn run(ctx: &Ctx, args: &ApplyArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    let layers = terraform::select_layers(&args.layers)?;
    if env.is_prod() && !args.yes {
        return Err(CodedError::usage("applying to prod needs --yes (in CI: after the prod environment's approval)"));
    }
    crate::env::aws::require_credentials(&env)?;
    let saved = precheck(ctx, &env, &layers)?;
    ctx.prepare(&[&TERRAFORM])?;
    let waiting: Vec<&str> = saved.iter().filter(|(_, s)| s.status == Status::Waiting).map(|(l, _)| *l).collect();
    for (layer, s) in &saved {
        let layer = *layer;
        match s.status {
            Status::NoChanges => {
                eprintln!("apply {}/{layer}: no changes", env.name);
                continue;
            }
            Status::Waiting => {
                eprintln!("apply {}/{layer}: not planned (waiting for an earlier layer): left for pass 2", env.name);
                continue;
            }
            Status::Changes => {}
        }
        let tf = Layer::new(ctx, &env, layer)?;
        let plan_path = plan::plan_file(&ctx.root, &env.name, layer);
        ctx.run(&tf.init())?;
        eprintln!("\n==> apply {}/{layer}", env.name);
        ctx.run(&tf.apply(&plan_path)).map_err(|e| {
            anyhow::anyhow!(
                "{e}\napply stopped at {}/{layer}; the layers after it were not applied\n{}",
                env.name,
                lock_hint(&env, layer)
            )
        })?;
        if !ctx.dry_run {
            // A plan is applied once; re-applying needs a new plan.
            let _ = std::fs::remove_file(&plan_path);
            let fp = s.fingerprint.clone();
            plan::save(&ctx.root, &env, layer, Status::NoChanges, &fp)?;
        }
    }
    if !waiting.is_empty() {
        println!(
            "\npass 1 of 2 done: {} not applied (it was not planned: it reads layers that had changes). \
             Run `cargo xtask plan --env {e}` to review it, then `cargo xtask apply --env {e}`.",
            waiting.join(", "),
            e = env.name
        );
    }
    Ok(())
}

/// What to do when an apply stopped halfway (expired credentials, a cancelled job): terraform
/// could not delete its lock object, so every later plan or apply waits for it and fails.
fn lock_hint(env: &Env, layer: &str) -> String {
    let bucket =
        env.values.get("state_bucket").cloned().unwrap_or_else(|| format!("{}-{}-tfstate", env.project, env.name));
    format!(
        "If terraform said \"Error releasing the state lock\" or the credentials expired (ExpiredToken), the state \
         lock is still held. Make sure no other apply of {e} runs, then, with fresh credentials: \
         `aws s3 rm s3://{bucket}/{e}/{layer}.tfstate.tflock` (terraform's \"Lock Info\" above names the same \
         object). Some resources may have changed: run `cargo xtask plan --env {e}` again, review, and apply the new plan.",
        e = env.name
    )
}

/// Every saved plan of `layers` exists, matches today's infra/ and env file, and has its plan
/// file; in prod a waiting layer must not be part of the selection (prod applies only a set of
/// plans that was reviewed whole, and says so before touching anything).
fn precheck(ctx: &Ctx, env: &Env, layers: &[&'static str]) -> Result<Vec<(&'static str, Saved)>> {
    let fp = plan::fingerprint(&ctx.root, env)?;
    let mut saved = Vec::new();
    for layer in layers {
        let s = load_saved(ctx, env, layer)?;
        if s.fingerprint != fp {
            return Err(CodedError::usage(format!(
                "the saved plan for {}/{layer} is stale: infra/ or the env file changed since it was made. Run `cargo xtask plan --env {}` again; nothing was applied",
                env.name, env.name
            )));
        }
        if s.status == Status::Changes && !plan::plan_file(&ctx.root, &env.name, layer).is_file() {
            return Err(CodedError::usage(format!(
                "the plan file for {}/{layer} is missing: run plan again; nothing was applied",
                env.name
            )));
        }
        saved.push((*layer, s));
    }
    let waiting: Vec<&str> = saved.iter().filter(|(_, s)| s.status == Status::Waiting).map(|(l, _)| *l).collect();
    if env.is_prod() && !waiting.is_empty() {
        let reviewed: Vec<&str> = saved.iter().filter(|(_, s)| s.status != Status::Waiting).map(|(l, _)| *l).collect();
        return Err(CodedError::usage(format!(
            "prod/{} was not planned (it waits for an earlier layer's changes); nothing was applied. \
             For a two-pass bootstrap, apply the reviewed layers explicitly: `cargo xtask apply --env prod --yes --layer {}`, \
             then plan again, review and apply",
            waiting.join(", prod/"),
            reviewed.join(",")
        )));
    }
    Ok(saved)
}

pub fn destroy(ctx: &Ctx, args: &DestroyArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    crate::env::aws::require_credentials(&env)?;
    if !args.yes && !ctx.dry_run {
        confirm(&env)?;
    }
    ctx.prepare(&[&TERRAFORM])?;
    for layer in LAYERS.iter().rev() {
        let tf = Layer::new(ctx, &env, layer)?;
        eprintln!("\n==> destroy {}/{layer}", env.name);
        ctx.run(&tf.init())?;
        ctx.run(&tf.destroy())?;
        let _ = std::fs::remove_file(plan::saved_file(&ctx.root, &env.name, layer));
    }
    Ok(())
}

/// Ask the person at the terminal to type the environment's name.
fn confirm(env: &Env) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(CodedError::usage(format!("destroying {} needs --yes when not run from a terminal", env.name)));
    }
    eprint!(
        "This destroys every resource of {} ({} layers). Type the environment name to confirm: ",
        env.name,
        LAYERS.len()
    );
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() == env.name { Ok(()) } else { Err(CodedError::usage("not confirmed; nothing was destroyed")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// A scratch project with the real prod/dev env files and saved plan records.
    fn scratch(name: &str, statuses: &[(&str, Status)]) -> (PathBuf, Ctx) {
        let root = std::env::temp_dir().join(format!("xtask-apply-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("infra/envs")).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for env in ["dev", "prod"] {
            let file = format!("infra/envs/{env}.tfvars");
            std::fs::copy(repo.join(&file), root.join(&file)).unwrap();
        }
        for env in ["dev", "prod"] {
            std::fs::create_dir_all(plan::plans_dir(&root, env)).unwrap();
            let e = Env::load(&root, env).unwrap();
            let fp = plan::fingerprint(&root, &e).unwrap();
            for (layer, status) in statuses {
                plan::save(&root, &e, layer, *status, &fp).unwrap();
                if *status == Status::Changes {
                    std::fs::write(plan::plan_file(&root, env, layer), "plan").unwrap();
                }
            }
        }
        let ctx = Ctx::new(&root, false, false).unwrap();
        (root, ctx)
    }

    const PASS_ONE: [(&str, Status); 3] =
        [("shared", Status::Changes), ("core", Status::Changes), ("app", Status::Waiting)];

    #[test]
    fn a_failed_apply_says_how_to_release_the_lock() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let env = Env::load(root, "prod").unwrap();
        let hint = lock_hint(&env, "core");
        assert!(hint.contains("aws s3 rm s3://rdeploy-prod-tfstate/prod/core.tfstate.tflock"), "{hint}");
        assert!(hint.contains("cargo xtask plan --env prod"), "{hint}");
    }

    #[test]
    fn prod_refuses_a_waiting_layer_before_applying_anything() {
        let (root, ctx) = scratch("prod-waiting", &PASS_ONE);
        let prod = Env::load(&root, "prod").unwrap();
        let err = precheck(&ctx, &prod, &LAYERS).unwrap_err();
        let exit = err.downcast_ref::<CodedError>().unwrap();
        assert_eq!(exit.code, 2);
        assert!(exit.message.contains("nothing was applied"), "{}", exit.message);
        assert!(exit.message.contains("--layer shared,core"), "names the explicit first pass: {}", exit.message);
        // The explicit first pass is accepted.
        let pass_one = precheck(&ctx, &prod, &["shared", "core"]).unwrap();
        assert_eq!(pass_one.len(), 2);
    }

    #[test]
    fn elsewhere_a_waiting_layer_is_left_for_the_second_pass() {
        let (root, ctx) = scratch("dev-waiting", &PASS_ONE);
        let dev = Env::load(&root, "dev").unwrap();
        let saved = precheck(&ctx, &dev, &LAYERS).unwrap();
        assert_eq!(saved.iter().map(|(l, s)| (*l, s.status)).collect::<Vec<_>>(), PASS_ONE);
    }

    #[test]
    fn a_stale_or_missing_plan_stops_everything_up_front() {
        let (root, ctx) = scratch("stale", &PASS_ONE);
        let dev = Env::load(&root, "dev").unwrap();
        std::fs::remove_file(plan::plan_file(&root, "dev", "core")).unwrap();
        let err = precheck(&ctx, &dev, &LAYERS).unwrap_err().to_string();
        assert!(err.contains("dev/core is missing") && err.contains("nothing was applied"), "{err}");
        std::fs::write(
            root.join("infra/envs/dev.tfvars"),
            "project = \"rdeploy\"\nenvironment = \"dev\"\nregion = \"x\"\n",
        )
        .unwrap();
        let dev = Env::load(&root, "dev").unwrap();
        let err = precheck(&ctx, &dev, &LAYERS).unwrap_err().to_string();
        assert!(err.contains("dev/shared is stale"), "{err}");
    }
}
