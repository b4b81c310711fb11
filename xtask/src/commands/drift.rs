//! `cargo xtask drift --env <env>`: a read-only plan of every layer (no state lock, nothing
//! saved for apply) and a per-layer summary of where the real environment differs from what the
//! code describes: resources changed outside Terraform, and changes Terraform would make.
//! Known emulator read-back gaps (`infra/envs/<env>.plan-gaps.txt`) are not drift.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use clap::Args;

use crate::base::error::CodedError;
use crate::base::paths;
use crate::env::Env;
use crate::run::Ctx;
use crate::terraform::drift::{Drifted, differences, read_gaps};
use crate::terraform::{LAYERS, Layer};

#[derive(Debug, Clone, Args)]
#[command(after_help = "Exit codes: 0 no drift; 1 terraform failed; 2 usage or configuration error;\n\
3 drift: the environment differs from the code (the summary says where).")]
pub struct DriftArgs {
    /// Environment: a file infra/envs/<env>.tfvars.
    #[arg(long)]
    pub env: String,
}

pub fn render(env: &str, layer: &str, found: &[Drifted]) -> String {
    if found.is_empty() {
        return format!("drift {env}/{layer}: none\n");
    }
    let mut out = format!("drift {env}/{layer}: {} resource(s) differ from the code\n", found.len());
    for d in found {
        let what = if d.attributes.is_empty() { String::new() } else { format!(": {}", d.attributes.join(", ")) };
        let why = if d.outside { " (changed outside Terraform)" } else { " (Terraform would change it)" };
        let _ = writeln!(out, "  {} {}{what}{why}", d.action, d.address);
    }
    out
}

pub fn run(ctx: &Ctx, args: &DriftArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    crate::env::aws::require_credentials(&env)?;
    crate::tools::ensure(&ctx.sh, &ctx.root, &crate::tools::TERRAFORM)?;
    let gaps_file = ctx.root.join("infra/envs").join(format!("{}.plan-gaps.txt", env.name));
    let gaps = read_gaps(&std::fs::read_to_string(&gaps_file).unwrap_or_default());
    let dir = paths::drift(&ctx.root, &env.name);
    if !ctx.dry_run {
        std::fs::create_dir_all(&dir)?;
    }
    let mut report = String::new();
    let mut layers_with_drift = Vec::new();
    for layer in LAYERS {
        let tf = Layer::new(ctx, &env, layer)?;
        let out = dir.join(format!("{layer}.tfplan"));
        eprintln!("\n==> drift {}/{layer} (read-only plan)", env.name);
        ctx.run(&tf.init())?;
        ctx.run(&tf.plan_read_only(&out))?;
        if ctx.dry_run {
            println!("{}", tf.show_json(&out));
            continue;
        }
        let json = tf.show_json(&out).cmd.read().context("terraform show -json")?;
        let _ = std::fs::remove_file(&out);
        let found = differences(layer, &json, &gaps)?;
        let text = render(&env.name, layer, &found);
        print!("{text}");
        report.push_str(&text);
        if !found.is_empty() {
            layers_with_drift.push(layer);
        }
    }
    if ctx.dry_run {
        return Ok(());
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(f, "## Drift: {}\n\n```\n{report}```", env.name)?;
    }
    if layers_with_drift.is_empty() {
        println!("\ndrift {}: none; the environment matches the code", env.name);
        return Ok(());
    }
    Err(CodedError::new(
        3,
        format!(
            "drift in {}: layer(s) {} differ from the code (see above); revert the manual change or plan and apply",
            env.name,
            layers_with_drift.join(", ")
        ),
    )
    .into())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const PLAN: &str = r#"{
      "resource_drift": [{"address": "aws_ecr_repository.app", "change": {"actions": ["update"]}}],
      "resource_changes": [
        {"address": "aws_ecr_repository.app", "change": {"actions": ["update"],
          "before": {"image_tag_mutability": "MUTABLE", "name": "x", "tags_all": {"a": "1"}},
          "after": {"image_tag_mutability": "IMMUTABLE", "name": "x", "tags_all": {"a": "2"}}}},
        {"address": "module.ecs.aws_ecs_service.app", "change": {"actions": ["update"],
          "before": {"health_check_grace_period_seconds": 0}, "after": {"health_check_grace_period_seconds": 60}}},
        {"address": "aws_cloudwatch_log_group.app", "change": {"actions": ["create"], "before": null, "after": {}}},
        {"address": "data.aws_caller_identity.current", "change": {"actions": ["read"]}},
        {"address": "aws_vpc.this", "change": {"actions": ["no-op"]}}
      ]
    }"#;

    #[test]
    fn changes_are_drift_except_known_gaps_and_tags_all() {
        let gaps =
            read_gaps("# comment\napp module.ecs.aws_ecs_service.app health_check_grace_period_seconds # moto\n");
        let found = differences("app", PLAN, &gaps).unwrap();
        assert_eq!(
            found,
            [
                Drifted {
                    address: "aws_ecr_repository.app".into(),
                    action: "update".into(),
                    attributes: vec!["image_tag_mutability".into()],
                    outside: true,
                },
                Drifted {
                    address: "aws_cloudwatch_log_group.app".into(),
                    action: "create".into(),
                    attributes: vec![],
                    outside: false,
                },
            ]
        );
        let text = render("local", "app", &found);
        assert!(
            text.contains("update aws_ecr_repository.app: image_tag_mutability (changed outside Terraform)"),
            "{text}"
        );
        // The gap only covers its own layer.
        assert_eq!(differences("core", PLAN, &gaps).unwrap().len(), 3);
    }

    #[test]
    fn an_empty_plan_is_no_drift() {
        let found = differences(
            "shared",
            r#"{"resource_changes": [{"address": "a.b", "change": {"actions": ["no-op"]}}]}"#,
            &BTreeSet::new(),
        )
        .unwrap();
        assert!(found.is_empty());
        assert_eq!(render("dev", "shared", &found), "drift dev/shared: none\n");
        assert!(differences("x", "not json", &BTreeSet::new()).is_err());
    }
}
