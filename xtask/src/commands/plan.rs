//! `cargo xtask plan --env <env> [--layer <layer>]`: init and plan each layer in order, save the
//! plans under target/plans/<env>/, and print a readable summary of each.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use clap::Args;

use crate::base::error::CodedError;
use crate::env::Env;
use crate::run::Ctx;
use crate::terraform::saved::{Status, fingerprint, plan_file, plan_json_file, plans_dir, save, saved_file};
use crate::terraform::{self, Layer};

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "A layer that reads the outputs of an earlier layer with pending changes (app reads shared and core)\n\
cannot be planned until they are applied: it is marked \"waiting\" and apply leaves it alone. A first bootstrap is\n\
therefore two passes: plan + apply (shared and core), then plan + apply again (app), each reviewed.\n\n\
Exit codes: 0 planned (changes or not); 1 terraform failed; 2 usage or configuration error;\n\
3 changes pending (only with --detailed-exitcode)."
)]
pub struct PlanArgs {
    /// Environment: a file infra/envs/<env>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Plan only these layers (comma-separated: shared, core, app). Default: all.
    #[arg(long = "layer", value_delimiter = ',', env = "XTASK_LAYERS", value_name = "LAYER")]
    pub layers: Vec<String>,
    /// Exit 3 when any layer has changes (0 = nothing to do).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print one JSON object on stdout (schema 1: command, environment, ok, exit_code, message,
    /// changes, layers[] {layer, status: changes|no_changes|waiting, waits_for, create, update,
    /// replace, destroy, plan_json}); terraform's output goes to stderr.
    #[arg(long)]
    pub json: bool,
}

/// Counts and addresses of one plan, from `terraform show -json`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub create: Vec<String>,
    pub update: Vec<String>,
    pub replace: Vec<String>,
    pub destroy: Vec<String>,
}

impl Summary {
    pub fn from_show_json(json: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(json).context("terraform show -json printed invalid JSON")?;
        let mut s = Summary::default();
        for rc in v["resource_changes"].as_array().into_iter().flatten() {
            let address = rc["address"].as_str().unwrap_or("?").to_owned();
            let actions: Vec<&str> =
                rc["change"]["actions"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).collect();
            match actions.as_slice() {
                ["create"] => s.create.push(address),
                ["update"] => s.update.push(address),
                ["delete"] => s.destroy.push(address),
                ["delete", "create"] | ["create", "delete"] => s.replace.push(address),
                _ => {} // no-op, read
            }
        }
        Ok(s)
    }

    pub fn has_changes(&self) -> bool {
        !(self.create.is_empty() && self.update.is_empty() && self.replace.is_empty() && self.destroy.is_empty())
    }

    pub fn is_destructive(&self) -> bool {
        !(self.replace.is_empty() && self.destroy.is_empty())
    }

    pub fn counts(&self) -> String {
        format!(
            "{} to create, {} to update, {} to replace, {} to destroy",
            self.create.len(),
            self.update.len(),
            self.replace.len(),
            self.destroy.len()
        )
    }

    /// Human-readable summary: counts, then addresses; replacements and destroys highlighted,
    /// with a loud warning in prod.
    pub fn render(&self, env: &str, layer: &str) -> String {
        let mut out = String::new();
        if !self.has_changes() {
            let _ = writeln!(out, "{env}/{layer}: no changes");
            return out;
        }
        let _ = writeln!(out, "{env}/{layer}: {}", self.counts());
        for (mark, list) in
            [("+", &self.create), ("~", &self.update), ("-/+ REPLACE", &self.replace), ("- DESTROY", &self.destroy)]
        {
            for a in list {
                let _ = writeln!(out, "  {mark} {a}");
            }
        }
        if env == "prod" && self.is_destructive() {
            let _ = writeln!(
                out,
                "\n!!! WARNING: this prod plan REPLACES {} and DESTROYS {} resource(s). Read every line above before applying. !!!",
                self.replace.len(),
                self.destroy.len()
            );
        }
        out
    }

    /// Markdown for $GITHUB_STEP_SUMMARY.
    pub fn markdown(&self, env: &str, layer: &str) -> String {
        let mut out = format!(
            "### `{env}/{layer}`: {}\n\n",
            if self.has_changes() { self.counts() } else { "no changes".into() }
        );
        if env == "prod" && self.is_destructive() {
            out.push_str("> [!WARNING]\n> This prod plan replaces or destroys resources.\n\n");
        }
        for (mark, list) in [
            ("create", &self.create),
            ("update", &self.update),
            ("**replace**", &self.replace),
            ("**destroy**", &self.destroy),
        ] {
            for a in list {
                let _ = writeln!(out, "- {mark} `{a}`");
            }
        }
        out.push('\n');
        out
    }
}

/// Plan one layer: init, plan to a file, summarise. Returns the summary.
pub fn plan_layer(ctx: &Ctx, env: &Env, layer: &'static str, fingerprint: &str) -> Result<Summary> {
    let tf = Layer::new(ctx, env, layer)?;
    let out = plan_file(&ctx.root, &env.name, layer);
    ctx.run(&tf.init())?;
    ctx.run(&tf.plan(&out))?;
    if ctx.dry_run {
        println!("{}", tf.show_json(&out));
        return Ok(Summary::default());
    }
    let json = tf.show_json(&out).cmd.read().context("terraform show -json")?;
    let summary = Summary::from_show_json(&json)?;
    // The machine-readable plan next to the binary one.
    std::fs::write(plan_json_file(&ctx.root, &env.name, layer), &json)?;
    let status = if summary.has_changes() { Status::Changes } else { Status::NoChanges };
    save(&ctx.root, env, layer, status, fingerprint)?;
    Ok(summary)
}

pub fn run(ctx: &Ctx, args: &PlanArgs) -> Result<()> {
    let mut layers = Vec::new();
    if !args.json {
        return plan_env(ctx, args, &mut layers);
    }
    let out = crate::base::stdout::JsonStdout::take()?;
    let result = plan_env(ctx, args, &mut layers);
    out.emit(&crate::base::stdout::result("plan", &args.env, &result, json_fields(layers)))?;
    result
}

/// One layer of `plan --json`: what it plans, or which layer it waits for.
pub fn layer_json(
    ctx: &Ctx,
    env: &str,
    layer: &str,
    summary: Option<&Summary>,
    waits_for: Option<&str>,
) -> serde_json::Value {
    let status = match summary {
        None => "waiting",
        Some(s) if s.has_changes() => "changes",
        Some(_) => "no_changes",
    };
    let empty = Summary::default();
    let s = summary.unwrap_or(&empty);
    let plan_json = plan_json_file(&ctx.root, env, layer);
    serde_json::json!({
        "layer": layer,
        "status": status,
        "waits_for": waits_for,
        "create": s.create,
        "update": s.update,
        "replace": s.replace,
        "destroy": s.destroy,
        "plan_json": summary.map(|_| plan_json.strip_prefix(&ctx.root).unwrap_or(&plan_json).display().to_string()),
    })
}

/// `plan --json`'s own fields: whether any layer has changes, and the layers in order.
pub fn json_fields(layers: Vec<serde_json::Value>) -> serde_json::Map<String, serde_json::Value> {
    let changes = layers.iter().any(|l| l["status"] == "changes");
    let mut fields = serde_json::Map::new();
    fields.insert("changes".into(), changes.into());
    fields.insert("layers".into(), layers.into());
    fields
}

fn plan_env(ctx: &Ctx, args: &PlanArgs, out: &mut Vec<serde_json::Value>) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    let layers = terraform::select_layers(&args.layers)?;
    if let Some(missing) = env.missing_https() {
        return Err(CodedError::usage(missing));
    }
    crate::env::aws::require_credentials(&env)?;
    crate::tools::ensure(&ctx.sh, &ctx.root, &crate::tools::TERRAFORM)
        .map_err(|e| CodedError::usage(format!("{e:#}")))?;
    let dir = plans_dir(&ctx.root, &env.name);
    if !ctx.dry_run {
        std::fs::create_dir_all(&dir)?;
        for layer in &layers {
            let _ = std::fs::remove_file(saved_file(&ctx.root, &env.name, layer));
            let _ = std::fs::remove_file(plan_file(&ctx.root, &env.name, layer));
            let _ = std::fs::remove_file(plan_json_file(&ctx.root, &env.name, layer));
        }
    }
    let fp = fingerprint(&ctx.root, &env)?;
    // Emulator environments: attributes the emulator reads back differently on every plan.
    let gaps = terraform::drift::read_gaps(
        &std::fs::read_to_string(ctx.root.join("infra/envs").join(format!("{}.plan-gaps.txt", env.name)))
            .unwrap_or_default(),
    );
    let mut any_changes = false;
    // Layers with pending changes: a layer reading one of them cannot be planned yet.
    let mut changed: Vec<&str> = Vec::new();
    let mut report = String::new();
    let mut markdown = String::new();
    for layer in layers {
        if let Some(upstream) = terraform::upstream(layer).iter().find(|u| changed.contains(u)) {
            let reviewed: Vec<&str> = changed.clone();
            let line = format!(
                "{e}/{layer}: not planned yet (waiting): it reads {upstream}'s outputs and {upstream} has changes. \
                 This is pass 1 of 2 (a first bootstrap, or a change {layer} depends on): apply applies only the \
                 plans above and leaves {layer} alone{prod}; then run `cargo xtask plan --env {e}` again to \
                 review {layer}, and apply that (pass 2).",
                e = env.name,
                prod = if env.is_prod() {
                    format!(" (prod: with `--layer {}`, which says so explicitly)", reviewed.join(","))
                } else {
                    String::new()
                }
            );
            println!("{line}");
            report.push_str(&line);
            report.push('\n');
            markdown.push_str(&format!(
                "### `{}/{layer}`: waits for `{upstream}` (pass 1 of 2: not applied now; plan again after this apply)\n\n",
                env.name
            ));
            if !ctx.dry_run {
                save(&ctx.root, &env, layer, Status::Waiting, &fp)?;
            }
            out.push(layer_json(ctx, &env.name, layer, None, Some(upstream)));
            continue;
        }
        eprintln!("\n==> plan {}/{layer}", env.name);
        let summary = plan_layer(ctx, &env, layer, &fp)?;
        if ctx.dry_run {
            continue;
        }
        out.push(layer_json(ctx, &env.name, layer, Some(&summary), None));
        let text = summary.render(&env.name, layer);
        print!("{text}");
        report.push_str(&text);
        markdown.push_str(&summary.markdown(&env.name, layer));
        if summary.has_changes() {
            any_changes = true;
            let json = std::fs::read_to_string(plan_json_file(&ctx.root, &env.name, layer)).unwrap_or_default();
            if holds_back_readers(layer, &json, &gaps)? {
                changed.push(layer);
            } else {
                let line = format!(
                    "{e}/{layer}: every change is a known emulator read-back gap (infra/envs/{e}.plan-gaps.txt): the layers \
                     reading its outputs are planned now\n",
                    e = env.name
                );
                print!("{line}");
                report.push_str(&line);
            }
        }
    }
    if ctx.dry_run {
        return Ok(());
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(f, "## Terraform plan: {}\n\n{markdown}", env.name)?;
    }
    println!(
        "\n==> plan summary ({}; plans saved in {})\n{report}",
        env.name,
        dir.strip_prefix(&ctx.root).unwrap_or(&dir).display()
    );
    if any_changes && args.detailed_exitcode {
        return Err(CodedError::new(3, "changes pending").into());
    }
    Ok(())
}

/// Whether a layer's planned changes hold back the layers that read its outputs (they wait for
/// pass 2). Not when every change is a known emulator read-back gap (`<env>.plan-gaps.txt`,
/// the local environment only): those are in-place updates of attributes the emulator does not
/// store (the database's parameter group in core, for one), they change no output, and they show
/// again on every plan, so the readers would otherwise never be planned.
fn holds_back_readers(
    layer: &str,
    plan_json: &str,
    gaps: &std::collections::BTreeSet<(String, String, String)>,
) -> Result<bool> {
    Ok(!terraform::drift::differences(layer, plan_json, gaps)?.is_empty())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::terraform::LAYERS;

    #[test]
    fn only_known_gaps_do_not_hold_back_the_readers() {
        let plan = |action: &str| {
            format!(
                r#"{{"resource_changes":[{{"address":"module.database[0].aws_db_parameter_group.this","change":{{"actions":["{action}"],"before":{{"parameter":[]}},"after":{{"parameter":[{{"name":"rds.force_ssl"}}]}}}}}}]}}"#
            )
        };
        let gaps = terraform::drift::read_gaps(
            "core module.database[0].aws_db_parameter_group.this parameter  # [database] emulator\n",
        );
        assert!(!holds_back_readers("core", &plan("update"), &gaps).unwrap(), "only a known gap");
        assert!(holds_back_readers("core", &plan("update"), &Default::default()).unwrap(), "no gaps file: a change");
        assert!(holds_back_readers("app", &plan("update"), &gaps).unwrap(), "the gap is core's, not app's");
        assert!(holds_back_readers("core", &plan("create"), &gaps).unwrap(), "a create is never a gap");
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans").join(name)).unwrap()
    }

    #[test]
    fn create_plan_is_counted() {
        let s = Summary::from_show_json(&fixture("create.json")).unwrap();
        assert_eq!(s.create, ["aws_ecr_repository.app", "aws_iam_role.deploy"]);
        assert!(s.has_changes() && !s.is_destructive());
        assert_eq!(s.counts(), "2 to create, 0 to update, 0 to replace, 0 to destroy");
    }

    #[test]
    fn update_plan_is_counted() {
        let s = Summary::from_show_json(&fixture("update.json")).unwrap();
        assert_eq!(s.update, ["module.ecs.aws_ecs_service.app"]);
        assert!(!s.is_destructive());
    }

    #[test]
    fn replace_in_prod_is_highlighted_loudly() {
        let s = Summary::from_show_json(&fixture("replace.json")).unwrap();
        assert_eq!(s.replace, ["module.network.aws_subnet.private[0]", "module.alb.aws_lb.this"]);
        let text = s.render("prod", "core");
        assert!(text.contains("-/+ REPLACE module.network.aws_subnet.private[0]"), "{text}");
        assert!(text.contains("WARNING: this prod plan REPLACES 2 and DESTROYS 0"), "{text}");
        assert!(!s.render("dev", "core").contains("WARNING"));
        assert!(s.markdown("prod", "core").contains("[!WARNING]"));
    }

    #[test]
    fn destroy_is_highlighted() {
        let s = Summary::from_show_json(&fixture("destroy.json")).unwrap();
        assert_eq!(s.destroy, ["module.database[0].aws_db_instance.this"]);
        assert!(s.render("prod", "app").contains("- DESTROY module.database[0].aws_db_instance.this"));
        assert!(s.render("prod", "app").contains("DESTROYS 1"));
    }

    #[test]
    fn no_op_plan_has_no_changes() {
        let s = Summary::from_show_json(&fixture("noop.json")).unwrap();
        assert!(!s.has_changes());
        assert_eq!(s.render("dev", "shared"), "dev/shared: no changes\n");
    }

    #[test]
    fn garbage_is_an_error_not_an_empty_plan() {
        assert!(Summary::from_show_json("Error: no plan").is_err());
    }

    #[test]
    fn fingerprint_changes_with_the_env_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let local = Env::load(root, "local").unwrap();
        let dev = Env::load(root, "dev").unwrap();
        assert_eq!(fingerprint(root, &local).unwrap(), fingerprint(root, &local).unwrap());
        assert_ne!(fingerprint(root, &local).unwrap(), fingerprint(root, &dev).unwrap());
    }

    #[test]
    fn layers_are_validated() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(terraform::select_layers(&[]).unwrap(), LAYERS);
        assert_eq!(terraform::select_layers(&names(&[""])).unwrap(), LAYERS, "an empty XTASK_LAYERS is all");
        assert_eq!(terraform::select_layers(&names(&["core"])).unwrap(), ["core"]);
        assert_eq!(terraform::select_layers(&names(&["core", "shared"])).unwrap(), ["shared", "core"], "apply order");
        assert!(terraform::select_layers(&names(&["db"])).is_err());
    }
}
