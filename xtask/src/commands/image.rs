//! `cargo xtask image`: the static release binary (crt-static, LTO, stripped, with its
//! dependency list embedded by cargo-auditable) in a FROM-scratch image, built with podman or
//! docker, tagged `<repository>:<git-sha>` and `<repository>:<crate version>`, scanned, and
//! optionally pushed to the environment's ECR repository.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use xshell::cmd;

use crate::base::error::CodedError;
use crate::base::paths;
use crate::env::Env;
use crate::permissions::ops;
use crate::run::{Ctx, Step};
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
    #[arg(long, conflicts_with = "promote")]
    pub push: bool,
    /// Copy an image that another environment runs (`<repository-uri>@sha256:<digest>`) by digest
    /// into this environment's repository, through the ECR API; builds nothing. Prints (and
    /// writes to $GITHUB_OUTPUT) the URI to deploy.
    #[arg(long, value_name = "IMAGE_URI")]
    pub promote: Option<String>,
    /// Container engine (default: the first of podman, docker that works).
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    /// Build from a tree with uncommitted changes (tagged `<sha>-dirty`).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Print one JSON object on stdout (schema 1: command, environment, ok, exit_code, message,
    /// image {uri, tag, digest, id, size_bytes} or null, pinned: the URI deploy pins or null);
    /// the build's progress goes to stderr.
    #[arg(long)]
    pub json: bool,
}

/// What `image` records in target/images/<env>.json for `deploy`.
pub use crate::deploy::images_file::ImageRecord as Built;

/// The platform the image runs on: ECS's `cpu_architecture` default in the ecs-service module
/// (`X86_64`, Linux). The binary is built for it whatever the host is.
pub const IMAGE_TARGET: &str = "x86_64-unknown-linux-gnu";

/// A host that is not `IMAGE_TARGET` would need a cross toolchain (a Mach-O binary would end up
/// in a Linux image): say so instead of building the wrong thing.
pub fn check_host(host: &str) -> Result<()> {
    if host == IMAGE_TARGET {
        return Ok(());
    }
    Err(CodedError::usage(format!(
        "image builds a static {IMAGE_TARGET} binary (what the ECS tasks run), and this host is {host}: \
         build images on Linux x86_64 or let CI build them (deploy.yml); cross-compiling needs \
         `rustup target add {IMAGE_TARGET}` plus a linker for it"
    )))
}

/// Exit code trivy is told to use when it finds HIGH/CRITICAL vulnerabilities (its own errors
/// exit 1, so the two cannot be confused).
pub const TRIVY_FOUND: i32 = 5;

/// What a trivy run means.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    Clean,
    Vulnerable,
    /// No vulnerability database could be reached (downloaded, or given with XTASK_TRIVY_DB).
    Skipped(String),
    Failed(String),
}

pub fn scan_verdict(code: Option<i32>, output: &str) -> Scan {
    match code {
        Some(0) => Scan::Clean,
        Some(TRIVY_FOUND) => Scan::Vulnerable,
        _ => {
            // trivy's fatal line: "... init error: DB error: failed to download vulnerability DB: <why>".
            let db = output.lines().find_map(|l| {
                let at = l.find("failed to download vulnerability DB").or_else(|| l.find("DB error"))?;
                Some(l[at..].chars().take(200).collect::<String>())
            });
            match db {
                Some(why) => Scan::Skipped(why.trim().to_owned()),
                None => {
                    Scan::Failed(output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned())
                }
            }
        }
    }
}

/// `<sha>` for a clean tree, `<sha>-dirty` otherwise (refused without --allow-dirty).
pub fn tag_for(sha: &str, dirty: bool, allow_dirty: bool) -> Result<String> {
    match (dirty, allow_dirty) {
        (false, _) => Ok(sha.to_owned()),
        (true, true) => Ok(format!("{sha}-dirty")),
        (true, false) => Err(CodedError::usage(
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
    let context = paths::IMAGE_CONTEXT_REL;
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
    Err(CodedError::usage(
        "no container engine works here: install podman (`apt-get install podman runc nftables`) or start Docker, or pass --engine",
    ))
}

pub fn run(ctx: &Ctx, args: &ImageArgs) -> Result<()> {
    if !args.json {
        return build(ctx, args).map(|_| ());
    }
    let out = crate::base::stdout::JsonStdout::take()?;
    let (result, built) = match build(ctx, args) {
        Ok(built) => (Ok(()), built),
        Err(e) => (Err(e), None),
    };
    out.emit(&crate::base::stdout::result("image", &args.env, &result, json_fields(built.as_ref())))?;
    result
}

/// `image --json`'s own fields: the record deploy reads (null in `--dry-run` or on failure) and
/// the URI to deploy (by digest once pushed or promoted).
pub fn json_fields(built: Option<&Built>) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("image".into(), serde_json::to_value(built).expect("a plain record"));
    fields.insert("pinned".into(), built.map(pinned).into());
    fields
}

/// The URI deploy pins: `<repository>@<digest>` once the image has one, else `<repository>:<tag>`.
pub fn pinned(built: &Built) -> String {
    match &built.digest {
        Some(d) => format!("{}@{d}", built.uri.rsplit_once(':').map_or(built.uri.as_str(), |(r, _)| r)),
        None => built.uri.clone(),
    }
}

/// Build (or promote) and record; the record, unless `--dry-run`.
fn build(ctx: &Ctx, args: &ImageArgs) -> Result<Option<Built>> {
    let env = Env::load(&ctx.root, &args.env)?;
    if let Some(uri) = &args.promote {
        return promote(ctx, &env, uri);
    }
    let sh = &ctx.sh;
    let sha = cmd!(sh, "git rev-parse --short=12 HEAD")
        .quiet()
        .read()
        .context("git rev-parse HEAD (is this a git checkout?)")?;
    let dirty = !cmd!(sh, "git status --porcelain --untracked-files=no").quiet().read()?.trim().is_empty();
    let tag = tag_for(&sha, dirty, args.allow_dirty)?;
    if args.push && dirty {
        return Err(CodedError::usage("refusing to push an image built from uncommitted changes"));
    }
    let engine = match args.engine {
        Some(e) => e,
        None if ctx.dry_run => Engine::Podman,
        None => detect_engine(ctx)?,
    };
    // The tools of the steps below, up front (running a step installs nothing).
    ctx.prepare(&[&CARGO_AUDITABLE, &CARGO_AUDIT])?;
    let repo = env.repository();
    check_host(&crate::base::rustc::field("host")?)?;
    let triple = IMAGE_TARGET.to_owned();
    let binary = ctx.root.join("target").join(&triple).join("release/app");
    let context = paths::image_context(&ctx.root);
    let steps = build_steps(ctx, engine, &triple, &repo, &tag, &sha);
    ctx.run(&steps[0])?;
    if !ctx.dry_run {
        std::fs::create_dir_all(&context)?;
        std::fs::copy(&binary, context.join("app")).with_context(|| format!("copying {}", binary.display()))?;
    }
    ctx.run(&steps[1])?;
    if ctx.dry_run {
        return Ok(None);
    }
    let bin = engine.bin();
    let reference = format!("{repo}:{tag}");
    let format = "{{.Id}} {{.Size}}";
    let inspect = cmd!(sh, "{bin} image inspect --format {format} {reference}").quiet().read()?;
    let (id, size) = inspect.split_once(' ').context("unexpected image inspect output")?;
    let size_bytes: u64 = size.trim().parse().unwrap_or(0);
    println!("image: {reference}  id {}  size {:.1} MB", &id[..id.len().min(19)], size_bytes as f64 / 1e6);
    scan(ctx, &binary)?;
    let scanned = scan_image(ctx, engine, &reference)?;
    if let Scan::Skipped(why) = &scanned
        && args.push
        && !env.is_local()
    {
        unscanned_push(why, ctx.sh.var_os("CI").is_some_and(|v| !v.is_empty()))?;
    }
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
    Ok(Some(built))
}

/// `--promote`: copy by digest into `env`'s repository (see promote.rs), record it for deploy.
fn promote(ctx: &Ctx, env: &Env, uri: &str) -> Result<Option<Built>> {
    let source = crate::promote::Source::parse(uri).map_err(CodedError::usage)?;
    if env.is_local() {
        return Err(CodedError::usage("--promote needs a real registry: the local emulator has none"));
    }
    if ctx.dry_run {
        println!("would {}", crate::promote::describe(&source, &env.repository()));
        return Ok(None);
    }
    crate::env::aws::require_credentials(env)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let promoted = rt.block_on(async {
        let config = crate::env::sdk_config::load_config(&ctx.root, env).await?;
        let target = aws_sdk_ecr::Client::new(&config);
        let source_client = if source.region == env.region {
            target.clone()
        } else {
            let conf = aws_sdk_ecr::config::Builder::from(&config)
                .region(aws_config::Region::new(source.region.clone()))
                .build();
            aws_sdk_ecr::Client::from_conf(conf)
        };
        crate::promote::promote(&source_client, &target, &source, &env.repository(), &mut |l| println!("{l}")).await
    })?;
    let tag = promoted.tags[0].clone();
    let built = Built {
        uri: format!("{}:{tag}", promoted.repository_uri),
        tag,
        digest: Some(promoted.digest.clone()),
        id: String::new(),
        size_bytes: 0,
    };
    write_record(&ctx.root, &env.name, &built)?;
    println!("deploy with: cargo xtask deploy --env {} --image {}", env.name, promoted.pinned());
    Ok(Some(built))
}

fn write_record(root: &Path, env: &str, built: &Built) -> Result<()> {
    crate::deploy::images_file::write(root, env, built)?;
    if let Some(out) = std::env::var_os("GITHUB_OUTPUT") {
        use std::io::Write as _;
        let uri = pinned(built);
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(out)?;
        writeln!(f, "image={uri}")?;
    }
    Ok(())
}

/// The Rust dependency audit of the binary's embedded dependency list (offline-capable).
fn scan(ctx: &Ctx, binary: &PathBuf) -> Result<()> {
    let sh = &ctx.sh;
    let audit = match std::env::var_os("XTASK_ADVISORY_DB") {
        Some(db) => cmd!(sh, "cargo audit --no-fetch --stale --db {db} bin {binary}"),
        None => cmd!(sh, "cargo audit bin {binary}"),
    };
    ctx.run(&Step::diagnosed("cargo audit bin", Some(&CARGO_AUDIT), audit, crate::tools::hints::advisory_db_hint))?;
    Ok(())
}

/// Trivy on the built image: fails on HIGH or CRITICAL. Its vulnerability database is downloaded
/// (cached under the tools directory), or read from `XTASK_TRIVY_DB` (a trivy cache directory
/// holding `db/trivy.db`) without downloading. Only when no database can be had is the scan
/// skipped, saying why (and a push after it then fails in CI: [`unscanned_push`]).
pub fn scan_image(ctx: &Ctx, engine: Engine, reference: &str) -> Result<Scan> {
    let sh = &ctx.sh;
    let bin = engine.bin();
    let archive = paths::image_archive(&ctx.root);
    let _ = std::fs::remove_file(&archive);
    let save: &[&str] = if engine == Engine::Podman { &["--format", "docker-archive"] } else { &[] };
    ctx.run(&Step::new("image save", None, cmd!(sh, "{bin} save {save...} --output {archive} {reference}").quiet()))?;
    scan_archive(ctx, &archive)
}

/// Pushing an image whose scan was skipped (no vulnerability database): in CI (`CI` set) that
/// fails closed, exit 1, since nobody is there to read a warning; locally it warns and goes on.
pub fn unscanned_push(why: &str, ci: bool) -> Result<()> {
    if ci {
        return Err(CodedError::failed(format!(
            "refusing to push an image trivy could not scan ({why}) while CI is set: give the job a \
             vulnerability database (network, or XTASK_TRIVY_DB), or push from a machine that has one"
        )));
    }
    eprintln!("warning: pushing an image trivy could not scan ({why}); in CI this fails");
    Ok(())
}

/// [`scan_image`] on an image saved as a docker archive: Ok when clean or skipped (which it says).
pub fn scan_archive(ctx: &Ctx, archive: &Path) -> Result<Scan> {
    let sh = &ctx.sh;
    tools::ensure(&ctx.sh, &ctx.root, &tools::TRIVY)?;
    let found = TRIVY_FOUND.to_string();
    let (cache, offline): (PathBuf, &[&str]) = match sh.var_os("XTASK_TRIVY_DB").filter(|v| !v.is_empty()) {
        Some(db) => (db.into(), &["--skip-db-update"]),
        // Where the downloaded database is kept between runs (tests point it at a scratch dir).
        None => (
            sh.var_os("XTASK_TRIVY_CACHE")
                .map_or_else(|| tools::tools_dir(&ctx.root).join("trivy-cache"), PathBuf::from),
            &[],
        ),
    };
    let cmd = cmd!(
        sh,
        "trivy image --input {archive} --scanners vuln --severity HIGH,CRITICAL --exit-code {found} --no-progress --cache-dir {cache} {offline...}"
    )
    .ignore_status();
    eprintln!("$ {cmd}");
    let out = cmd.output()?;
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(&out.stdout);
    let _ = std::io::stderr().write_all(&out.stderr);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    match scan_verdict(out.status.code(), &text) {
        Scan::Clean => {
            println!("scan: trivy found no HIGH or CRITICAL vulnerabilities in the image");
            Ok(Scan::Clean)
        }
        Scan::Vulnerable => Err(CodedError::new(
            1,
            "trivy found HIGH or CRITICAL vulnerabilities in the image (listed above): update the dependency, or rebuild",
        )
        .into()),
        Scan::Skipped(why) => {
            println!(
                "scan: trivy image scan SKIPPED: no vulnerability database could be reached ({why}). \
                 Offline, set XTASK_TRIVY_DB to a trivy cache directory holding db/trivy.db"
            );
            Ok(Scan::Skipped(why))
        }
        Scan::Failed(why) => Err(CodedError::failed(format!("trivy failed: {why}"))),
    }
}

/// Log in to ECR with GetAuthorizationToken (no aws CLI), push, and record the digest.
fn push(ctx: &Ctx, engine: Engine, env: &Env, reference: &str, built: &mut Built) -> Result<()> {
    crate::env::aws::require_credentials(env)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let config = rt.block_on(crate::env::sdk_config::load_config(&ctx.root, env))?;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let auth = rt.block_on(ecr.get_authorization_token().send()).map_err(|e| {
        let needs = crate::permissions::needs_line(ops::GET_AUTHORIZATION_TOKEN.name).unwrap_or_default();
        anyhow::anyhow!("ECR GetAuthorizationToken failed: {}\n  {needs}", aws_sdk_ecr::error::DisplayErrorContext(&e))
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
        return Err(CodedError::new(
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
    fn an_unscanned_push_fails_closed_in_ci_and_warns_locally() {
        let err = unscanned_push("failed to download vulnerability DB", true).unwrap_err();
        let coded = err.downcast_ref::<CodedError>().expect("a coded error");
        assert_eq!(coded.code, 1);
        assert!(err.to_string().contains("CI") && err.to_string().contains("vulnerability DB"), "{err}");
        assert!(unscanned_push("failed to download vulnerability DB", false).is_ok());
    }

    #[test]
    fn the_image_is_built_for_the_platform_ecs_runs() {
        let vars = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/modules/ecs-service/variables.tf"),
        )
        .unwrap();
        // Whitespace-insensitive: `terraform fmt` aligns the `=` with its neighbours.
        let vars: String = vars.split_whitespace().collect();
        assert!(vars.contains("cpu_architecture=optional(string,\"X86_64\")"), "the task definition runs X86_64");
        assert!(IMAGE_TARGET.starts_with("x86_64-") && IMAGE_TARGET.contains("-linux-"));
        assert!(check_host("x86_64-unknown-linux-gnu").is_ok());
        let mac = check_host("aarch64-apple-darwin").unwrap_err();
        assert_eq!(mac.downcast_ref::<CodedError>().unwrap().code, 2);
        assert!(mac.to_string().contains("aarch64-apple-darwin"), "{mac}");
    }

    #[test]
    fn trivy_outcomes() {
        assert_eq!(scan_verdict(Some(0), "Total: 0"), Scan::Clean);
        assert_eq!(scan_verdict(Some(TRIVY_FOUND), "CVE-2024-1 HIGH"), Scan::Vulnerable);
        let offline = "2026-11-29T22:00:00Z\tFATAL\tFatal error\trun error: init error: DB error: failed to download vulnerability DB: OCI repository error";
        assert!(
            matches!(scan_verdict(Some(1), offline), Scan::Skipped(why) if why.contains("failed to download vulnerability DB"))
        );
        assert!(matches!(scan_verdict(Some(1), "FATAL unable to open archive"), Scan::Failed(_)));
        assert!(matches!(scan_verdict(None, "killed"), Scan::Failed(_)));
    }

    /// A context whose PATH starts with `dir`, with no offline trivy database configured.
    fn ctx_with_path_first(dir: &Path) -> Ctx {
        let ctx = Ctx::new(&std::env::temp_dir(), false, false).unwrap();
        let mut path = vec![dir.to_owned()];
        path.extend(std::env::split_paths(&ctx.sh.var_os("PATH").unwrap_or_default()));
        ctx.sh.set_var("PATH", std::env::join_paths(path).unwrap());
        ctx.sh.set_var("XTASK_TRIVY_DB", "");
        ctx
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-image-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The real trivy, with its database repository on a closed loopback port: nothing can be
    /// downloaded, so the scan is skipped, saying why (and nothing fails).
    #[test]
    fn without_a_reachable_database_the_scan_is_skipped_with_the_reason() {
        let d = scratch("trivy-offline");
        let ctx = ctx_with_path_first(&d);
        ctx.sh.set_var("TRIVY_DB_REPOSITORY", "127.0.0.1:9/aquasecurity/trivy-db:2");
        // A cache of its own: no database left from an earlier online run.
        ctx.sh.set_var("XTASK_TRIVY_CACHE", d.join("cache"));
        let archive = d.join("image.tar");
        std::fs::write(&archive, "not read: the database comes first").unwrap();
        let scan = scan_archive(&ctx, &archive).expect("skipped, not failed");
        assert!(matches!(&scan, Scan::Skipped(why) if why.contains("failed to download vulnerability DB")), "{scan:?}");
    }

    /// trivy's verdicts on a database it can read. No vulnerability database can be had on this
    /// offline machine, so a stand-in `trivy` reports what the real one does (exit code, table).
    #[test]
    fn findings_fail_the_image_and_a_clean_scan_passes() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("trivy-fake");
        let fake = |code: i32| {
            let script = format!(
                "#!/bin/sh\ncase \"$1\" in --version) echo 'Version: {}'; exit 0;; esac\necho \"$@\" > {}/args\necho 'app (rustbinary) Total: 1 (HIGH: 1, CRITICAL: 0)'\nexit {code}\n",
                tools::TRIVY.version,
                d.display()
            );
            std::fs::write(d.join("trivy"), script).unwrap();
            std::fs::set_permissions(d.join("trivy"), std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        let ctx = ctx_with_path_first(&d);
        let archive = d.join("image.tar");
        fake(TRIVY_FOUND);
        let err = scan_archive(&ctx, &archive).unwrap_err();
        assert_eq!(err.downcast_ref::<CodedError>().unwrap().code, 1);
        assert!(err.to_string().contains("HIGH or CRITICAL"), "{err}");
        let args = std::fs::read_to_string(d.join("args")).unwrap();
        assert!(
            args.contains("--severity HIGH,CRITICAL") && args.contains(&format!("--exit-code {TRIVY_FOUND}")),
            "{args}"
        );
        assert!(!args.contains("--skip-db-update"), "online: the database is downloaded: {args}");
        fake(0);
        assert_eq!(scan_archive(&ctx, &archive).unwrap(), Scan::Clean);
        ctx.sh.set_var("XTASK_TRIVY_DB", d.join("db-snapshot"));
        assert_eq!(scan_archive(&ctx, &archive).unwrap(), Scan::Clean);
        let args = std::fs::read_to_string(d.join("args")).unwrap();
        assert!(args.contains("--skip-db-update") && args.contains("db-snapshot"), "offline snapshot: {args}");
    }

    #[test]
    fn dirty_trees_are_refused_unless_allowed() {
        assert_eq!(tag_for("abc123", false, false).unwrap(), "abc123");
        assert_eq!(tag_for("abc123", true, true).unwrap(), "abc123-dirty");
        let err = tag_for("abc123", true, false).unwrap_err();
        assert_eq!(err.downcast_ref::<CodedError>().unwrap().code, 2);
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
