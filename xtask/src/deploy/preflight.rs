//! What deploy and migrate (and any command that acts on an environment's service) check and load
//! before their first AWS call: the image (`--image` or the recorded one, which must be HEAD's
//! build), prod's clean-tree rule, credentials, the SDK configuration, and prod's immutable-image
//! rule (a tag is pinned to its digest). Then [`Connection::session`] runs the steps on the real
//! AWS SDK, tokio's clock and the terminal.

use anyhow::Result;
use aws_config::SdkConfig;
use xshell::cmd;

use super::api::{Ecr, Session, TokioClock};
use super::image_ref::ImageRef;
use super::images_file;
use super::outcome::{code, fail};
use super::sdk::{SdkEcr, SdkEcs, SdkLogs};
use super::ui::TerminalUi;
use crate::base::error::CodedError;
use crate::env::Env;
use crate::env::aws;
use crate::env::sdk_config;
use crate::run::Ctx;

/// The real thing the steps talk to: a runtime and the SDK configuration of one environment.
pub struct Connection {
    pub runtime: tokio::runtime::Runtime,
    pub config: SdkConfig,
}

/// A [`Session`] on the AWS SDK, tokio's clock and the terminal.
pub type LiveSession<'a> = Session<'a, SdkEcs, SdkLogs, TokioClock, TerminalUi>;

impl Connection {
    /// Credentials (named when missing), then the environment's SDK configuration.
    pub fn open(ctx: &Ctx, env: &Env) -> Result<Self> {
        aws::require_credentials(env)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let config = runtime.block_on(sdk_config::load_config(&ctx.root, env))?;
        Ok(Self { runtime, config })
    }

    /// Run `steps` to their end on a live session.
    pub fn session<R>(&self, steps: impl AsyncFnOnce(&mut LiveSession<'_>) -> Result<R>) -> Result<R> {
        self.session_on(TerminalUi::new(), steps)
    }

    /// The same, its progress on stderr (for `--json`, whose document alone goes to stdout).
    pub fn session_quiet<R>(&self, steps: impl AsyncFnOnce(&mut LiveSession<'_>) -> Result<R>) -> Result<R> {
        self.session_on(TerminalUi::on_stderr(), steps)
    }

    fn session_on<R>(
        &self,
        mut ui: TerminalUi,
        steps: impl AsyncFnOnce(&mut LiveSession<'_>) -> Result<R>,
    ) -> Result<R> {
        self.runtime.block_on(async {
            let (ecs, logs, clock) = (SdkEcs::new(&self.config), SdkLogs::new(&self.config), TokioClock::new());
            steps(&mut Session { ecs: &ecs, logs: &logs, clock: &clock, ui: &mut ui }).await
        })
    }
}

/// What deploy and migrate check and load before their first AWS change: the image (`--image`
/// or the recorded one), prod's clean-tree rule, credentials, the SDK config, and prod's
/// immutable-image rule (a tag is pinned to its digest).
pub fn prepare(ctx: &Ctx, env: &Env, image: Option<&str>, allow_dirty: bool) -> Result<(Connection, ImageRef)> {
    let mut image = resolve_image(ctx, env, image)?;
    if env.is_prod() && !allow_dirty {
        refuse_dirty_tree(ctx)?;
    }
    let aws = Connection::open(ctx, env)?;
    if env.is_prod() {
        aws.runtime.block_on(ensure_immutable(&SdkEcr::new(&aws.config), env, &mut image))?;
    }
    Ok((aws, image))
}

/// `--image`, or the image recorded for the environment (which must be HEAD's build).
fn resolve_image(ctx: &Ctx, env: &Env, image: Option<&str>) -> Result<ImageRef> {
    if let Some(uri) = image {
        return ImageRef::parse(uri).map_err(|e| CodedError::usage(format!("--image: {e}")));
    }
    let image = images_file::recorded(&ctx.root, &env.name).map_err(CodedError::usage)?;
    let head = {
        let sh = &ctx.sh;
        cmd!(sh, "git rev-parse HEAD").quiet().ignore_stderr().read().ok()
    };
    let shown = images_file::shown(&ctx.root, &env.name);
    images_file::check_commit_tag(&image, head.as_deref(), &shown).map_err(CodedError::usage)?;
    Ok(image)
}

/// prod deploys only what is committed: refuse a dirty tree unless --allow-dirty.
fn refuse_dirty_tree(ctx: &Ctx) -> Result<()> {
    let sh = &ctx.sh;
    let status = cmd!(sh, "git status --porcelain")
        .quiet()
        .read()
        .map_err(|e| CodedError::usage(format!("prod deploys need a clean git tree, and `git status` failed: {e}")))?;
    if !status.trim().is_empty() {
        let files: Vec<&str> = status.lines().take(10).collect();
        return Err(CodedError::usage(format!(
            "refusing to deploy prod from a dirty git tree (commit or stash first, or pass --allow-dirty):\n  {}",
            files.join("\n  ")
        )));
    }
    Ok(())
}

/// prod runs only immutable images: pinned by digest, or a tag that exists in the environment's
/// ECR repository (then pinned to that tag's digest, so the tag cannot move under the service).
pub(super) async fn ensure_immutable(ecr: &impl Ecr, env: &Env, image: &mut ImageRef) -> Result<()> {
    if image.digest.is_some() {
        return Ok(());
    }
    let Some(tag) = image.tag.clone() else {
        return Err(CodedError::usage(format!(
            "prod needs an immutable image: {} has neither an @sha256: digest nor a tag",
            image.name
        )));
    };
    let repository = env.repository();
    if image.repository != repository {
        return Err(CodedError::usage(format!(
            "prod image {}:{tag} is not in the environment's ECR repository {repository}: pass it by @sha256: digest",
            image.name
        )));
    }
    match ecr.image_digest(&repository, &tag).await {
        Ok(Some(digest)) => {
            eprintln!("{}:{tag} is {digest} in ECR; deploying it by digest", image.name);
            image.digest = Some(digest);
            Ok(())
        }
        Ok(None) => Err(CodedError::usage(format!(
            "prod needs an immutable image: tag {tag} does not exist in ECR repository {repository} (build and push it \
             with `cargo xtask image --env prod`, or pass --image with an @sha256: digest)"
        ))),
        Err(err) => Err(fail(code::USAGE, format!("checking the image in ECR: {err}"))),
    }
}
