//! `cargo xtask apply` (the saved plans, in layer order) and `cargo xtask destroy` (reverse).

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result};
use clap::Args;

use crate::ctx::{Ctx, Exit};
use crate::envs::Env;
use crate::plan::{self, Saved, Status};
use crate::terraform::{self, LAYERS, Layer};

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// Environment: a file infra/envs/<env>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Apply only this layer's saved plan.
    #[arg(long)]
    pub layer: Option<String>,
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
        Exit::usage(format!("no saved plan for {}/{layer}: run `cargo xtask plan --env {}` first", env.name, env.name))
    })?;
    serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
}

pub fn run(ctx: &Ctx, args: &ApplyArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    let layers = terraform::select_layers(args.layer.as_deref())?;
    if env.is_prod() && !args.yes {
        return Err(Exit::usage("applying to prod needs --yes (in CI: after the prod environment's approval)"));
    }
    crate::aws::require_credentials(&env)?;
    terraform::configure(ctx)?;
    let fp = plan::fingerprint(&ctx.root, &env)?;
    // Check every plan before touching anything: a missing or stale one stops the whole apply.
    let mut saved = Vec::new();
    for layer in &layers {
        let s = load_saved(ctx, &env, layer)?;
        if s.fingerprint != fp {
            return Err(Exit::usage(format!(
                "the saved plan for {}/{layer} is stale: infra/ or the env file changed since it was made. Run `cargo xtask plan --env {}` again",
                env.name, env.name
            )));
        }
        if s.status == Status::Changes && !plan::plan_file(&ctx.root, &env.name, layer).is_file() {
            return Err(Exit::usage(format!("the plan file for {}/{layer} is missing: run plan again", env.name)));
        }
        saved.push((*layer, s));
    }
    for (layer, s) in saved {
        let tf = Layer::new(ctx, &env, layer)?;
        let plan_path = plan::plan_file(&ctx.root, &env.name, layer);
        match s.status {
            Status::NoChanges => {
                eprintln!("apply {}/{layer}: no changes", env.name);
                continue;
            }
            Status::Waiting if env.is_prod() => {
                return Err(Exit::usage(format!(
                    "prod/{layer} was not planned (it waited for an earlier layer). Run `cargo xtask plan --env prod` to review it, then apply"
                )));
            }
            Status::Waiting => {
                eprintln!("\n==> plan {}/{layer} (its inputs were just applied)", env.name);
                let summary = plan::plan_layer(ctx, &env, layer, &fp)?;
                if !ctx.dry_run {
                    print!("{}", summary.render(&env.name, layer));
                    if !summary.has_changes() {
                        continue;
                    }
                }
            }
            Status::Changes => {
                ctx.run(&tf.init())?;
            }
        }
        eprintln!("\n==> apply {}/{layer}", env.name);
        ctx.run(&tf.apply(&plan_path)).map_err(|e| {
            anyhow::anyhow!("{e}\napply stopped at {}/{layer}; the layers after it were not applied", env.name)
        })?;
        if !ctx.dry_run {
            // A plan is applied once; re-applying needs a new plan.
            let _ = std::fs::remove_file(&plan_path);
            plan::save(&ctx.root, &env, layer, Status::NoChanges, &fp)?;
        }
    }
    Ok(())
}

pub fn destroy(ctx: &Ctx, args: &DestroyArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    crate::aws::require_credentials(&env)?;
    if !args.yes && !ctx.dry_run {
        confirm(&env)?;
    }
    terraform::configure(ctx)?;
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
        return Err(Exit::usage(format!("destroying {} needs --yes when not run from a terminal", env.name)));
    }
    eprint!(
        "This destroys every resource of {} ({} layers). Type the environment name to confirm: ",
        env.name,
        LAYERS.len()
    );
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() == env.name { Ok(()) } else { Err(Exit::usage("not confirmed; nothing was destroyed")) }
}
