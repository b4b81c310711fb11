//! `cargo xtask image`: the static release binary (crt-static, LTO, stripped, with its
//! dependency list embedded by cargo-auditable) in a FROM-scratch image, built with podman or
//! docker, tagged `<repository>:<git-sha>` and `<repository>:<crate version>`, scanned, and
//! optionally pushed to the environment's ECR repository.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use xshell::cmd;

use crate::ctx::{Ctx, Exit, Step};
use crate::envs::Env;
use crate::tools::{self, CARGO_AUDIT, CARGO_AUDITABLE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    Podman,
    Docker,
}

impl Engine {
    pub fn bin(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ImageArgs {
    /// Environment whose ECR repository names the image (infra/envs/<env>.tfvars).
    #[arg(long, default_value = "local")]
    pub env: String,
    /// Push to the environment's ECR repository and print the digest deploy pins.
    #[arg(long)]
    pub push: bool,
    /// Container engine (default: the first of podman, docker that works).
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    /// Build from a tree with uncommitted changes (tagged `<sha>-dirty`).
    #[arg(long)]
    pub allow_dirty: bool,
}

/// What `image` records in target/images/<env>.json for `deploy`.
#[derive(Debug, Serialize)]
pub struct Built {
    pub uri: String,
    pub tag: String,
    pub digest: Option<String>,
    pub id: String,
    pub size_bytes: u64,
}

/// `<sha>` for a clean tree, `<sha>-dirty` otherwise (refused without --allow-dirty).
pub fn tag_for(sha: &str, dirty: bool, allow_dirty: bool) -> Result<String> {
    match (dirty, allow_dirty) {
        (false, _) => Ok(sha.to_owned()),
        (true, true) => Ok(format!("{sha}-dirty")),
        (true, false) => Err(Exit::usage(
            "the working tree has uncommitted changes: commit them, or pass --allow-dirty (the image is then tagged <sha>-dirty and never pushed to prod)",
        )),
    }
}

/// The steps that produce the static binary and the image, as data (`--dry-run` prints them).
pub fn build_steps<'a>(ctx: &'a Ctx, engine: Engine, triple: &str, repo: &str, tag: &str, sha: &str) -> Vec<Step<'a>> {
    let sh = &ctx.sh;
    let version = env!("CARGO_PKG_VERSION");
    let created = iso_now();
    let (t1, t2) = (format!("{repo}:{tag}"), format!("{repo}:{version}"));
    let context = "target/image/context";
    let bin = engine.bin();
    let build = cmd!(sh, "cargo auditable build --release --locked -p app --target {triple}")
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("GIT_COMMIT", sha);
    // podman defaults to the OCI format, which has no HEALTHCHECK: ask for the docker format.
    let format: &[&str] = if engine == Engine::Podman { &["--format", "docker"] } else { &[] };
    // --no-cache: buildah reused an ENV/LABEL layer built with another VERSION/REVISION
    // build-arg, so the image reported the wrong version. The build is one COPY: nothing to save.
    let image = cmd!(
        sh,
        "{bin} build --no-cache {format...} --file app/Dockerfile --build-arg VERSION={tag} --build-arg REVISION={sha} --build-arg CREATED={created} --tag {t1} --tag {t2} {context}"
    );
    vec![Step::new("static binary", Some(&CARGO_AUDITABLE), build), Step::new("image build", None, image)]
}

fn iso_now() -> String {
    // Seconds since the epoch rendered as UTC RFC 3339 without pulling in a date crate.
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

/// The first engine that answers `<engine> info`.
pub fn detect_engine(ctx: &Ctx) -> Result<Engine> {
    let sh = &ctx.sh;
    for engine in [Engine::Podman, Engine::Docker] {
        let bin = engine.bin();
        if cmd!(sh, "{bin} info").quiet().ignore_stdout().ignore_stderr().run().is_ok() {
            return Ok(engine);
        }
    }
    Err(Exit::usage(
        "no container engine works here: install podman (`apt-get install podman runc`) or start Docker, or pass --engine",
    ))
}

pub fn run(ctx: &Ctx, args: &ImageArgs) -> Result<()> {
    let env = Env::load(&ctx.root, &args.env)?;
    let sh = &ctx.sh;
    let sha = cmd!(sh, "git rev-parse --short=12 HEAD")
        .quiet()
        .read()
        .context("git rev-parse HEAD (is this a git checkout?)")?;
    let dirty = !cmd!(sh, "git status --porcelain --untracked-files=no").quiet().read()?.trim().is_empty();
    let tag = tag_for(&sha, dirty, args.allow_dirty)?;
    if args.push && dirty {
        return Err(Exit::usage("refusing to push an image built from uncommitted changes"));
    }
    let engine = match args.engine {
        Some(e) => e,
        None if ctx.dry_run => Engine::Podman,
        None => detect_engine(ctx)?,
    };
    let repo = env.repository();
    let triple = tools::rustc_field("host")?;
    let binary = ctx.root.join("target").join(&triple).join("release/app");
    let context = ctx.root.join("target/image/context");
    let steps = build_steps(ctx, engine, &triple, &repo, &tag, &sha);
    ctx.run(&steps[0])?;
    if !ctx.dry_run {
        std::fs::create_dir_all(&context)?;
        std::fs::copy(&binary, context.join("app")).with_context(|| format!("copying {}", binary.display()))?;
    }
    ctx.run(&steps[1])?;
    if ctx.dry_run {
        return Ok(());
    }
    let bin = engine.bin();
    let reference = format!("{repo}:{tag}");
    let format = "{{.Id}} {{.Size}}";
    let inspect = cmd!(sh, "{bin} image inspect --format {format} {reference}").quiet().read()?;
    let (id, size) = inspect.split_once(' ').context("unexpected image inspect output")?;
    let size_bytes: u64 = size.trim().parse().unwrap_or(0);
    println!("image: {reference}  id {}  size {:.1} MB", &id[..id.len().min(19)], size_bytes as f64 / 1e6);
    scan(ctx, &binary)?;
    let mut built = Built { uri: reference.clone(), tag: tag.clone(), digest: None, id: id.to_owned(), size_bytes };
    if args.push {
        if env.is_local() {
            println!(
                "push skipped: the local emulator has no container registry (the image stays in {bin}'s local store)"
            );
        } else {
            push(ctx, engine, &env, &reference, &mut built)?;
        }
    }
    write_record(&ctx.root, &env.name, &built)?;
    Ok(())
}

fn write_record(root: &Path, env: &str, built: &Built) -> Result<()> {
    let dir = root.join("target/images");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("{env}.json")), serde_json::to_vec_pretty(built)?)?;
    if let Some(out) = std::env::var_os("GITHUB_OUTPUT") {
        use std::io::Write as _;
        let uri = match &built.digest {
            Some(d) => format!("{}@{d}", built.uri.rsplit_once(':').map_or(built.uri.as_str(), |(r, _)| r)),
            None => built.uri.clone(),
        };
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(out)?;
        writeln!(f, "image={uri}")?;
    }
    Ok(())
}

/// The Rust dependency audit always (from the binary's embedded list); trivy when it can run.
fn scan(ctx: &Ctx, binary: &PathBuf) -> Result<()> {
    let sh = &ctx.sh;
    let audit = match std::env::var_os("XTASK_ADVISORY_DB") {
        Some(db) => cmd!(sh, "cargo audit --no-fetch --stale --db {db} bin {binary}"),
        None => cmd!(sh, "cargo audit bin {binary}"),
    };
    ctx.run(&Step::diagnosed("cargo audit bin", Some(&CARGO_AUDIT), audit, crate::ctx::advisory_db_hint))?;
    let path = sh.var_os("PATH").unwrap_or_default();
    let trivy = tools::probe(&tools::TRIVY, &path);
    if trivy.is_ok() {
        println!(
            "scan: trivy is installed, but image scanning needs its vulnerability database, which this offline machine cannot download; skipped"
        );
    } else {
        println!(
            "scans: cargo audit of the embedded dependency list ran; trivy image scan not run (trivy not installed; `cargo xtask doctor`)"
        );
    }
    Ok(())
}

/// Log in to ECR with GetAuthorizationToken (no aws CLI), push, and record the digest.
fn push(ctx: &Ctx, engine: Engine, env: &Env, reference: &str, built: &mut Built) -> Result<()> {
    crate::aws::require_credentials(env)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let config = rt.block_on(crate::deploy::sdk::load_config(&ctx.root, env))?;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let auth = rt.block_on(ecr.get_authorization_token().send()).map_err(|e| {
        anyhow::anyhow!("ECR GetAuthorizationToken failed: {}", aws_sdk_ecr::error::DisplayErrorContext(&e))
    })?;
    let data = auth.authorization_data().first().context("ECR returned no authorization data")?;
    let token = aws_smithy_types::base64::decode(data.authorization_token().unwrap_or_default())
        .context("decoding the ECR token")?;
    let token = String::from_utf8(token).context("ECR token is not UTF-8")?;
    let password = token.strip_prefix("AWS:").context("unexpected ECR token format")?.to_owned();
    let registry = data.proxy_endpoint().unwrap_or_default().trim_start_matches("https://").to_owned();
    if registry.is_empty() {
        bail!("ECR returned no registry endpoint");
    }
    let remote = format!("{registry}/{}:{}", env.repository(), built.tag);
    // Tags are immutable: an existing tag is fine only if it is this very image.
    let existing = rt.block_on(
        ecr.describe_images()
            .repository_name(env.repository())
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(&built.tag).build())
            .send(),
    );
    let bin = engine.bin();
    let sh = &ctx.sh;
    cmd!(sh, "{bin} login --username AWS --password-stdin {registry}").stdin(password).quiet().ignore_stdout().run()?;
    cmd!(sh, "{bin} tag {reference} {remote}").quiet().run()?;
    let before = local_digest(ctx, engine, &remote);
    if let Ok(found) = existing
        && let Some(remote_digest) = found.image_details().first().and_then(|d| d.image_digest())
    {
        if before.as_deref() == Some(remote_digest) {
            println!("push: {remote} already in ECR with the same digest; nothing to do");
            built.uri = remote;
            built.digest = Some(remote_digest.to_owned());
            return Ok(());
        }
        return Err(Exit::new(
            1,
            format!("push refused: {remote} already exists in ECR with digest {remote_digest}, and tags are immutable; build from a new commit"),
        )
        .into());
    }
    ctx.run(&Step::new("image push", None, cmd!(sh, "{bin} push {remote}")))?;
    let digest = local_digest(ctx, engine, &remote).context("reading the pushed image's digest")?;
    println!(
        "pushed: {remote}\ndigest: {digest}\ndeploy with: cargo xtask deploy --env {} --image {}@{digest}",
        env.name,
        remote.rsplit_once(':').map_or(remote.as_str(), |(r, _)| r)
    );
    built.uri = remote;
    built.digest = Some(digest);
    Ok(())
}

fn local_digest(ctx: &Ctx, engine: Engine, reference: &str) -> Option<String> {
    let sh = &ctx.sh;
    let bin = engine.bin();
    let format = "{{index .RepoDigests 0}}";
    let out = cmd!(sh, "{bin} image inspect --format {format} {reference}").quiet().ignore_stderr().read().ok()?;
    out.rsplit_once('@').map(|(_, d)| d.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_trees_are_refused_unless_allowed() {
        assert_eq!(tag_for("abc123", false, false).unwrap(), "abc123");
        assert_eq!(tag_for("abc123", true, true).unwrap(), "abc123-dirty");
        let err = tag_for("abc123", true, false).unwrap_err();
        assert_eq!(err.downcast_ref::<Exit>().unwrap().code, 2);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let now = iso_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z') && now.as_bytes()[10] == b'T');
    }

    #[test]
    fn dry_run_argv_is_exact() {
        let ctx = Ctx::new(&std::env::temp_dir(), true, false).unwrap();
        let steps = build_steps(&ctx, Engine::Podman, "x86_64-unknown-linux-gnu", "rdeploy-dev-app", "abc", "abc");
        assert_eq!(
            steps[0].to_string(),
            "cargo auditable build --release --locked -p app --target x86_64-unknown-linux-gnu"
        );
        let build = steps[1].to_string();
        assert!(build.starts_with("podman build --no-cache --format docker --file app/Dockerfile --build-arg VERSION=abc --build-arg REVISION=abc --build-arg CREATED=20"), "{build}");
        assert!(
            build.ends_with(&format!(
                "--tag rdeploy-dev-app:abc --tag rdeploy-dev-app:{} target/image/context",
                env!("CARGO_PKG_VERSION")
            )),
            "{build}"
        );
    }
}
