//! `cargo xtask revisions`: the family's recent revisions, each with its image, when and by whom
//! it was registered, and whether it ever served (a deploy saw it COMPLETED).

use anyhow::Result;

use crate::deploy::Target;
use crate::deploy::preflight::Connection;
use crate::env::Env;
use crate::ops::revisions;
use crate::run::Ctx;

pub const REVISIONS_HELP: &str = "\
The newest ACTIVE revisions of the environment's task definition family (up to 30), newest first.
SERVED is yes when a deploy, rollback or restart saw the revision COMPLETED (its rdeploy:completed
tag), or it serves now, settled; only those are rollback targets. Marks: serving, bootstrap
(Terraform's seed revision, image tag bootstrap: it can never start), deregistered.

--json prints one object (schema 1; fields are only ever added): environment, family, serving,
revisions[] with revision, number, task_definition_arn, status, image, digest, registered_at,
registered_by, ever_served, completed_at, serving, terraform, bootstrap.
Exit codes: 0 listed; 2 usage or configuration error (unknown environment, no service, no credentials).";

#[derive(Debug, clap::Args)]
#[command(after_help = REVISIONS_HELP)]
pub struct RevisionsArgs {
    /// Environment: names come from infra/envs/<ENV>.tfvars.
    #[arg(long)]
    pub env: String,
    /// Print the revisions as one JSON object (schema 1).
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Ctx, args: &RevisionsArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    let target = Target::of_service(&env, ctx.dry_run);
    if ctx.dry_run {
        println!(
            "--dry-run: would read (nothing changes): DescribeServices {} in {}, ListTaskDefinitions of family {} \
             (ACTIVE), DescribeTaskDefinition (with tags) of each",
            target.service, target.cluster, target.family
        );
        return Ok(());
    }
    let aws = Connection::open(ctx, &env)?;
    let doc = aws.session(async |session| session.revisions(&target, None).await)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("{} in {} (serving {}):", doc.family, doc.environment, crate::ops::short(&doc.serving));
        println!("{}", revisions::render(&doc.revisions));
    }
    Ok(())
}
