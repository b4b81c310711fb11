//! `cargo xtask deploy --env local` against a real emulator (moto) started by the test on
//! 127.0.0.1 and a free port: request shapes, names from infra/envs/local.tfvars, the clear
//! errors, --dry-run, and the faithful copy of the task definition. The emulator runs no tasks,
//! so rollouts themselves (watch, failure, rollback) are covered by the scripted unit tests in
//! src/deploy/tests.rs. Nothing here contacts a non-loopback address.
//!
//! It never builds or runs the app, so `cargo xtask ci` reuses its last result while only app/ changed:
//! test-cache-ignores: app/

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, EphemeralStorage,
    HealthCheck, KeyValuePair, LogConfiguration, LogDriver, NetworkMode, PidMode, PortMapping, RuntimePlatform, Tag,
    TaskDefinition, TaskDefinitionField, TaskDefinitionStatus, Ulimit, UlimitName, Volume,
};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
const CLUSTER: &str = "rdeploy-local-cluster";
const SERVICE: &str = "rdeploy-local-app";
const FAMILY: &str = "rdeploy-local-app";
const OLD_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/rdeploy-local-app:aaaaaaa";
const NEW_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/rdeploy-local-app:bbbbbbb";

// The one emulator launcher xtask itself uses (`local up`, the permission contract test).
#[path = "../src/env/emulator.rs"]
#[allow(dead_code)]
mod emulator;

/// A moto server on a free loopback port, stopped on drop.
struct Moto {
    _emulator: emulator::Emulator,
    url: String,
}

impl Moto {
    fn start() -> Self {
        let emulator = emulator::Emulator::start_moto().unwrap_or_else(|e| panic!("{e:#}"));
        Self { url: emulator.url(), _emulator: emulator }
    }

    fn ecs(&self) -> aws_sdk_ecs::Client {
        let config = aws_sdk_ecs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build();
        aws_sdk_ecs::Client::from_conf(config)
    }
}

/// A scratch project root: the real local.tfvars (names come from it) and the emulator URL
/// where `cargo xtask local up` would record it.
fn scratch(name: &str, endpoint: Option<&str>) -> PathBuf {
    let root = std::env::temp_dir().join(format!("xtask-deploy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("infra/envs")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::copy(repo.join("infra/envs/local.tfvars"), root.join("infra/envs/local.tfvars")).unwrap();
    if let Some(url) = endpoint {
        std::fs::create_dir_all(root.join("target/local")).unwrap();
        std::fs::write(root.join("target/local/endpoint"), url).unwrap();
    }
    root
}

fn xtask(root: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(XTASK);
    for var in ["AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
        cmd.env_remove(var);
    }
    cmd.env("XTASK_ROOT", root).env("AWS_EC2_METADATA_DISABLED", "true").current_dir(root).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn tags() -> Vec<Tag> {
    ["Project=rdeploy", "Environment=local", "ManagedBy=terraform"]
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            Tag::builder().key(k).value(v).build()
        })
        .collect()
}

/// What Terraform would have created: cluster, a rich task definition, a service on it.
async fn create_stack(ecs: &aws_sdk_ecs::Client) -> String {
    ecs.create_cluster().cluster_name(CLUSTER).send().await.unwrap();
    let app = ContainerDefinition::builder()
        .name("app")
        .image(OLD_IMAGE)
        .essential(true)
        .cpu(128)
        .memory(256)
        .user("10001")
        .readonly_root_filesystem(true)
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .environment(KeyValuePair::builder().name("RUST_LOG").value("info").build())
        .environment(KeyValuePair::builder().name("APP_VERSION").value("aaaaaaa").build())
        .health_check(
            HealthCheck::builder()
                .command("CMD")
                .command("/app")
                .command("healthcheck")
                .interval(10)
                .retries(3)
                .build()
                .unwrap(),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/ecs/rdeploy-local")
                .options("awslogs-stream-prefix", "app")
                .build()
                .unwrap(),
        )
        .ulimits(Ulimit::builder().name(UlimitName::Nofile).soft_limit(1024).hard_limit(4096).build().unwrap())
        .build();
    let sidecar = ContainerDefinition::builder()
        .name("sidecar")
        .image("public.ecr.aws/x/sidecar:1")
        .memory(64)
        .essential(false)
        .build();
    let out = ecs
        .register_task_definition()
        .family(FAMILY)
        .task_role_arn("arn:aws:iam::123456789012:role/rdeploy-local-task")
        .execution_role_arn("arn:aws:iam::123456789012:role/rdeploy-local-exec")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(app)
        .container_definitions(sidecar)
        .volumes(Volume::builder().name("tmp").build())
        .ephemeral_storage(EphemeralStorage::builder().size_in_gib(21).build())
        .runtime_platform(
            RuntimePlatform::builder()
                .operating_system_family(aws_sdk_ecs::types::OsFamily::Linux)
                .cpu_architecture(aws_sdk_ecs::types::CpuArchitecture::X8664)
                .build(),
        )
        .pid_mode(PidMode::Task)
        .set_tags(Some(tags()))
        .send()
        .await
        .unwrap();
    let arn = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    ecs.create_service()
        .cluster(CLUSTER)
        .service_name(SERVICE)
        .task_definition(&arn)
        .desired_count(1)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    arn
}

async fn describe(ecs: &aws_sdk_ecs::Client, arn: &str) -> (TaskDefinition, Vec<Tag>) {
    let out =
        ecs.describe_task_definition().task_definition(arn).include(TaskDefinitionField::Tags).send().await.unwrap();
    (out.task_definition().unwrap().clone(), out.tags().to_vec())
}

async fn revisions(ecs: &aws_sdk_ecs::Client) -> Vec<String> {
    let out =
        ecs.list_task_definitions().family_prefix(FAMILY).status(TaskDefinitionStatus::Active).send().await.unwrap();
    out.task_definition_arns().to_vec()
}

async fn service_task_definition(ecs: &aws_sdk_ecs::Client) -> String {
    let out = ecs.describe_services().cluster(CLUSTER).services(SERVICE).send().await.unwrap();
    out.services()[0].task_definition().unwrap().to_owned()
}

fn env_value(def: &TaskDefinition, name: &str) -> Option<String> {
    let app = def.container_definitions().iter().find(|c| c.name() == Some("app")).unwrap();
    app.environment().iter().find(|kv| kv.name() == Some(name)).and_then(|kv| kv.value()).map(str::to_owned)
}

/// The definition with the server-assigned fields and our two changes blanked.
fn comparable(def: &TaskDefinition) -> TaskDefinition {
    let mut d = def.clone();
    d.task_definition_arn = None;
    d.revision = 0;
    d.registered_at = None;
    d.registered_by = None;
    for c in d.container_definitions.iter_mut().flatten() {
        if c.name() == Some("app") {
            c.image = None;
            for kv in c.environment.iter_mut().flatten() {
                if kv.name() == Some("APP_VERSION") {
                    kv.value = None;
                }
            }
        }
    }
    d
}

#[test]
fn local_deploy_registers_a_faithful_revision_verifies_it_and_stops() {
    let moto = Moto::start();
    let ecs = moto.ecs();
    let old_arn = block_on(create_stack(&ecs));
    let root = scratch("faithful", Some(&moto.url));

    // --dry-run: the diff of exactly the two changes, nothing registered, service unchanged.
    let out = xtask(&root, &["deploy", "--env", "local", "--image", NEW_IMAGE, "--dry-run"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains(&format!("- {OLD_IMAGE}")) && shown.contains(&format!("+ {NEW_IMAGE}")), "{shown}");
    assert!(shown.contains("environment.APP_VERSION\n    - aaaaaaa\n    + bbbbbbb"), "{shown}");
    assert!(!shown.contains("RUST_LOG") && !shown.contains("Registered"), "{shown}");
    assert_eq!(block_on(revisions(&ecs)).len(), 1, "--dry-run registered nothing");
    assert_eq!(block_on(service_task_definition(&ecs)), old_arn);

    // The deploy: registers, updates, verifies, says why it stops, exit 0, no waiting.
    let started = Instant::now();
    let out = xtask(&root, &["deploy", "--env", "local", "--image", NEW_IMAGE, "--timeout", "10m"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("emulator runs no tasks"), "{shown}");
    assert!(shown.contains(&format!("cluster {CLUSTER}, service {SERVICE}")), "names from local.tfvars: {shown}");
    assert!(started.elapsed() < Duration::from_secs(60), "did not sit until the timeout");
    let arns = block_on(revisions(&ecs));
    assert_eq!(arns.len(), 2, "{arns:?}");
    let new_arn = arns.iter().find(|a| **a != old_arn).unwrap().clone();
    assert_eq!(block_on(service_task_definition(&ecs)), new_arn, "the service points at the new revision");

    // Every field of the old revision survives; only image and APP_VERSION differ; tags too.
    let (old, old_tags) = block_on(describe(&ecs, &old_arn));
    let (new, new_tags) = block_on(describe(&ecs, &new_arn));
    assert_eq!(comparable(&new), comparable(&old));
    assert_eq!(new_tags, old_tags);
    assert_eq!(new_tags, tags());
    let image =
        |d: &TaskDefinition| d.container_definitions().iter().find(|c| c.name() == Some("app")).unwrap().image.clone();
    assert_eq!(image(&new).as_deref(), Some(NEW_IMAGE));
    assert_eq!(env_value(&new, "APP_VERSION").as_deref(), Some("bbbbbbb"));
    assert_eq!(env_value(&new, "RUST_LOG").as_deref(), Some("info"));
    // Fields that moto does keep, checked explicitly so a silent drop on either side shows.
    assert_eq!(new.cpu(), Some("256"));
    assert_eq!(new.task_role_arn(), Some("arn:aws:iam::123456789012:role/rdeploy-local-task"));
    assert_eq!(new.container_definitions().len(), 2);
    assert_eq!(new.ephemeral_storage().map(|e| e.size_in_gib()), Some(21));
    assert_eq!(new.runtime_platform(), old.runtime_platform());
    assert!(new.runtime_platform().is_some_and(|p| p.operating_system_family().is_some()));
    assert_eq!(new.pid_mode(), Some(&PidMode::Task));
    let app = |d: &TaskDefinition| d.container_definitions().iter().find(|c| c.name() == Some("app")).unwrap().clone();
    assert!(app(&new).health_check().is_some() && app(&new).log_configuration().is_some());
    assert_eq!(app(&new).ulimits().len(), 1);

    // The same image again: nothing to do, nothing registered.
    let out = xtask(&root, &["deploy", "--env", "local", "--image", NEW_IMAGE]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("nothing to do"), "{}", text(&out));
    assert_eq!(block_on(revisions(&ecs)).len(), 2);

    // The default image comes from target/images/local.json; --keep 2 deregisters the older ones
    // (--keep 1 is refused: it would leave no rollback target).
    std::fs::create_dir_all(root.join("target/images")).unwrap();
    let third = "123456789012.dkr.ecr.us-east-1.amazonaws.com/rdeploy-local-app:ccccccc";
    std::fs::write(
        root.join("target/images/local.json"),
        format!(r#"{{"uri": "{third}", "digest": null, "tag": "ccccccc"}}"#),
    )
    .unwrap();
    let out = xtask(&root, &["deploy", "--env", "local", "--keep", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(block_on(revisions(&ecs)).len(), 2, "--keep 1 changed nothing");
    // --keep 2 first reads Terraform's revision (never deregistered) from the app layer's state;
    // this scratch has no app layer, so it stops before any change (the pruning itself, sparing
    // Terraform's revision, is covered by the scripted tests in src/deploy/tests/day2.rs).
    let out = xtask(&root, &["deploy", "--env", "local", "--keep", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--keep: could not read Terraform's task definition revision"), "{}", text(&out));
    assert_eq!(block_on(revisions(&ecs)).len(), 2, "nothing registered or deregistered");
    let out = xtask(&root, &["deploy", "--env", "local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let arns = block_on(revisions(&ecs));
    assert_eq!(arns.len(), 3, "{arns:?}");
    assert!(arns.contains(&old_arn), "nothing deregistered without --keep: {arns:?}");
    let serving = block_on(service_task_definition(&ecs));
    assert_eq!(env_value(&block_on(describe(&ecs, &serving)).0, "APP_VERSION").as_deref(), Some("ccccccc"));
}

#[test]
fn missing_cluster_then_missing_service_are_clear_errors() {
    let moto = Moto::start();
    let root = scratch("missing", Some(&moto.url));

    let out = xtask(&root, &["deploy", "--env", "local", "--image", NEW_IMAGE]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(&format!("ECS cluster '{CLUSTER}' not found")), "{}", text(&out));

    block_on(async { moto.ecs().create_cluster().cluster_name(CLUSTER).send().await.unwrap() });
    let out = xtask(&root, &["deploy", "--env", "local", "--image", NEW_IMAGE]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains(&format!("ECS service '{SERVICE}' not found in cluster '{CLUSTER}'")), "{shown}");
    assert!(shown.contains("MISSING"), "{shown}");
    assert!(
        block_on(async { moto.ecs().list_task_definitions().send().await.unwrap() }).task_definition_arns().is_empty()
    );
}

#[test]
fn no_emulator_no_image_and_bad_flags_are_usage_errors() {
    // The endpoint file names a port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let root = scratch("unreachable", Some(&format!("http://127.0.0.1:{port}")));
    let out = xtask(&root, &["deploy", "--env", "local", "--image", NEW_IMAGE]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cannot reach the AWS endpoint"), "{}", text(&out));

    let root = scratch("noemulator", None);
    let out = xtask(&root, &["deploy", "--env", "local", "--image", NEW_IMAGE]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("emulator is not running"), "{}", text(&out));

    let out = xtask(&root, &["deploy", "--env", "local"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("pass --image") && text(&out).contains("cargo xtask image --env local"),
        "{}",
        text(&out)
    );

    let out = xtask(&root, &["deploy", "--env", "local", "--image", NEW_IMAGE, "--timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = xtask(&root, &["deploy", "--env", "nope", "--image", NEW_IMAGE]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn help_documents_the_exit_codes() {
    let out = Command::new(XTASK).args(["deploy", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    for line in [
        "0  deployed",
        "1  the rollout failed",
        "2  nothing changed",
        "3  the rollout timed out",
        "4  a person",
        "5  the outcome",
    ] {
        assert!(help.contains(line), "{line}: {help}");
    }
}

#[test]
fn prod_refuses_a_dirty_tree_before_any_aws_call() {
    let root = scratch("dirty", None);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::copy(repo.join("infra/envs/prod.tfvars"), root.join("infra/envs/prod.tfvars")).unwrap();
    let git = Command::new("git").args(["init", "-q"]).current_dir(&root).status().unwrap();
    assert!(git.success());
    // Untracked files make the tree dirty; no endpoint or credentials are needed to refuse.
    let image = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-prod-app@sha256:{}", "a".repeat(64));
    let out = xtask(&root, &["deploy", "--env", "prod", "--image", &image]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("dirty git tree") && text(&out).contains("--allow-dirty"), "{}", text(&out));
}
