//! `cargo xtask status`: the service, its deployments, tasks, target health, served digest and
//! last events; exit 0 healthy, 1 degraded (each reason named).

use anyhow::Result;

use crate::base::error::CodedError;
use crate::deploy::Target;
use crate::deploy::preflight::Connection;
use crate::deploy::sdk::SdkElb;
use crate::env::Env;
use crate::ops::status;
use crate::run::Ctx;

pub const STATUS_HELP: &str = "\
Exit codes:
  0  healthy: the service is ACTIVE, one COMPLETED deployment with every desired task running, every
     task RUNNING and HEALTHY, at least desiredCount healthy targets and none unhealthy
  1  degraded: each reason is printed (in --json: \"reasons\")
  2  usage or configuration error: unknown environment, no such cluster or service, no credentials

--json prints one object (schema 1; fields are only ever added): environment, cluster, service,
service_status, healthy, reasons, revision, task_definition, serving_digests, desired, running,
pending, deployments[], tasks[], targets[], events[].";

#[derive(Debug, clap::Args)]
#[command(after_help = STATUS_HELP)]
pub struct StatusArgs {
    /// Environment: names come from infra/envs/<ENV>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Print the status as one JSON object (schema 1).
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    let target = Target::of_service(&env, ctx.dry_run);
    if ctx.dry_run {
        println!(
            "--dry-run: would read (nothing changes): DescribeServices {} in {}, ListTasks + DescribeTasks of its \
             tasks, DescribeTargetHealth of its target groups",
            target.service, target.cluster
        );
        return Ok(());
    }
    let aws = Connection::open(ctx, &env)?;
    let elb = SdkElb::new(&aws.config);
    let status = aws.session(async |session| session.status(&target, &elb).await)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        println!("{}", status::render(&status));
    }
    match status::code(&status) {
        0 => Ok(()),
        code => {
            Err(CodedError::new(code, format!("{} is degraded ({} reason(s))", target.service, status.reasons.len()))
                .into())
        }
    }
}
