//! `cargo xtask permissions --env E`: what each command needs from AWS in that environment,
//! from the one declaration in this module: the list to give a role (or to read in an
//! AccessDenied). The contract test checks the roles Terraform renders against the same table.

use anyhow::Result;
use clap::Args;

use crate::base::error::CodedError;
use crate::env::Env;
use crate::permissions::iam::{Decision, Policy, evaluate};
use crate::permissions::{Target, command_operations};
use crate::run::Ctx;

#[derive(Debug, Clone, Args)]
pub struct PermissionsArgs {
    /// Environment: a file infra/envs/<env>.tfvars.
    #[arg(long)]
    pub env: String,
    /// AWS account ID to put in the ARNs.
    #[arg(long, default_value = "<account>")]
    pub account: String,
    /// AWS partition to put in the ARNs.
    #[arg(long, default_value = "aws")]
    pub partition: String,
    /// Check IAM policy documents (JSON files, e.g. from `aws iam get-role-policy`) against what
    /// COMMAND needs; exit 1 listing every action they do not grant. Needs a real --account.
    #[arg(long, value_name = "POLICY.json", requires = "command")]
    pub check: Vec<std::path::PathBuf>,
    /// The command whose needs --check checks: image (--push), promote (image --promote), deploy, plan or apply.
    #[arg(long, value_parser = ["image", "promote", "deploy", "plan", "apply"])]
    pub command: Option<String>,
}

/// The commands that call AWS, as CI runs them.
const COMMANDS: &[&[&str]] = &[&["image", "--push"], &["image", "--promote"], &["deploy"], &["plan"], &["apply"]];

pub fn run(ctx: &Ctx, args: &PermissionsArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    if args.account != "<account>" && !(args.account.len() == 12 && args.account.chars().all(|c| c.is_ascii_digit())) {
        return Err(CodedError::usage(format!("--account {}: expected 12 digits", args.account)));
    }
    if args.check.is_empty() {
        print!("{}", render(&env, &args.partition, &args.account));
        return Ok(());
    }
    let mut policies = Vec::new();
    for path in &args.check {
        let text = std::fs::read_to_string(path).map_err(|e| CodedError::usage(format!("{}: {e}", path.display())))?;
        policies.push(Policy::parse(&path.display().to_string(), &text).map_err(CodedError::usage)?);
    }
    let command = args.command.as_deref().unwrap_or_default();
    let missing = check(&env, &args.partition, &args.account, command, &policies);
    if missing.is_empty() {
        println!("the policies grant everything `cargo xtask {command} --env {}` needs", env.name);
        return Ok(());
    }
    Err(CodedError::new(1, format!("the policies do not grant:\n  {}", missing.join("\n  "))).into())
}

/// Every declared need of `command` in `env` that `policies` do not allow.
pub fn check(env: &Env, partition: &str, account: &str, command: &str, policies: &[Policy]) -> Vec<String> {
    let argv: Vec<&str> = match command {
        "promote" => vec!["image", "--promote"],
        other => COMMANDS.iter().find(|c| c[0] == other).map(|c| c.to_vec()).unwrap_or_default(),
    };
    let mut missing = Vec::new();
    for op in command_operations(&argv).unwrap_or_default() {
        for layer in crate::terraform::LAYERS {
            let target = Target {
                env,
                partition: partition.into(),
                account: account.into(),
                source_repository: crate::permissions::source_repository(env, partition, account),
                layer,
            };
            for need in op.needs {
                let req = target.request(need);
                let line = format!("{} ({}) on {}", need.action, op.name, req.resource);
                if evaluate(policies, &req) != Decision::Allowed && !missing.contains(&line) {
                    missing.push(line);
                }
            }
        }
    }
    missing
}

pub fn render(env: &Env, partition: &str, account: &str) -> String {
    let mut out = String::new();
    for command in COMMANDS {
        let mut argv = command.to_vec();
        argv.extend(["--env", &env.name]);
        let ops = command_operations(&argv).unwrap_or_default();
        out.push_str(&format!("cargo xtask {}\n", argv.join(" ")));
        if ops.is_empty() {
            out.push_str("  (no AWS call)\n");
        }
        for op in ops {
            // Terraform's state calls are per layer: show the first, the others follow the pattern.
            let target = Target {
                env,
                partition: partition.into(),
                account: account.into(),
                source_repository: crate::permissions::source_repository(env, partition, account),
                layer: "<layer>",
            };
            for need in op.needs {
                let req = target.request(need);
                let cond: Vec<String> = req.context.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let cond = if cond.is_empty() { String::new() } else { format!("  if {}", cond.join(", ")) };
                out.push_str(&format!("  {:<36} {:<32} {}{cond}\n", op.name, need.action, req.resource));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_what_a_policy_lacks() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let env = Env::load(root, "dev").unwrap();
        let all = Policy::parse("all", r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#).unwrap();
        assert!(check(&env, "aws", "1", "deploy", std::slice::from_ref(&all)).is_empty());
        let no_tag = all.clone();
        let deny =
            Policy::parse("deny", r#"{"Statement":[{"Effect":"Deny","Action":"ecs:TagResource","Resource":"*"}]}"#)
                .unwrap();
        let missing = check(&env, "aws", "1", "deploy", &[no_tag, deny]);
        assert_eq!(
            missing,
            [
                "ecs:TagResource (RegisterTaskDefinition) on arn:aws:ecs:eu-west-1:1:task-definition/rdeploy-dev-app:42",
                "ecs:TagResource (TagResource) on arn:aws:ecs:eu-west-1:1:task-definition/rdeploy-dev-app:42",
                "ecs:TagResource (RegisterTaskDefinition (migration family)) on \
                 arn:aws:ecs:eu-west-1:1:task-definition/rdeploy-dev-app-migrate:42"
            ]
        );
    }

    #[test]
    fn lists_implicit_actions_with_resources() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let text = render(&Env::load(root, "dev").unwrap(), "aws", "111122223333");
        assert!(text.contains("cargo xtask deploy --env dev"), "{text}");
        assert!(
            text.contains("ecs:TagResource                  arn:aws:ecs:eu-west-1:111122223333:task-definition/rdeploy-dev-app:42  if ecs:CreateAction=RegisterTaskDefinition"),
            "{text}"
        );
        assert!(
            text.contains("iam:PassRole                     arn:aws:iam::111122223333:role/rdeploy-dev-task-execution"),
            "{text}"
        );
        assert!(
            text.contains(
                "s3:PutObject                     arn:aws:s3:::rdeploy-dev-tfstate/dev/<layer>.tfstate.tflock"
            ),
            "{text}"
        );
    }
}
