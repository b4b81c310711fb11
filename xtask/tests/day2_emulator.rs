//! The day-2 commands (`status`, `revisions`, `logs`, `rollback`) with `--env local` against a
//! real emulator (moto) started by the test on 127.0.0.1 and a free port, the stack created
//! through the SDK the way Terraform would (cluster, revisions, service, log group, a target
//! group), so what moto answers is read by the real binary: the SDK calls, their parsing, the
//! JSON documents and the exit codes. The emulator runs no tasks, so `status` is degraded here
//! (exit 1) and the rollouts themselves are covered by the scripted tests in src/deploy/tests.
//! Nothing here contacts a non-loopback address.
//!
//! It never builds or runs the app:
//! test-cache-ignores: app/

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecs::types::{ContainerDefinition, LoadBalancer, LogConfiguration, LogDriver, Tag};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
const CLUSTER: &str = "rdeploy-local-cluster";
const SERVICE: &str = "rdeploy-local-app";
const FAMILY: &str = "rdeploy-local-app";
const GROUP: &str = "/ecs/rdeploy-local-app";
const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/rdeploy-local-app";
const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const TASK: &str = "0123456789abcdef0123456789abcdef";

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

    fn config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_ecs::config::SharedCredentialsProvider::new(Credentials::new(
                "test", "test", None, None, "test",
            )))
            .build()
    }
}

/// A scratch root: the real local.tfvars and the emulator URL where `local up` records it.
fn scratch(url: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("xtask-day2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("infra/envs")).unwrap();
    std::fs::create_dir_all(root.join("target/local")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::copy(repo.join("infra/envs/local.tfvars"), root.join("infra/envs/local.tfvars")).unwrap();
    std::fs::write(root.join("target/local/endpoint"), url).unwrap();
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

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// Register a revision with `image`, tagged rdeploy:completed or not; its ARN.
async fn register(ecs: &aws_sdk_ecs::Client, image: &str, completed: bool) -> String {
    let app = ContainerDefinition::builder()
        .name("app")
        .image(image)
        .essential(true)
        .memory(256)
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", GROUP)
                .options("awslogs-stream-prefix", "app")
                .build()
                .unwrap(),
        )
        .build();
    let mut tags = vec![Tag::builder().key("Project").value("rdeploy").build()];
    if completed {
        tags.push(Tag::builder().key("rdeploy:completed").value("2026-12-01T10:00:00Z").build());
    }
    let out = ecs
        .register_task_definition()
        .family(FAMILY)
        .container_definitions(app)
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap();
    out.task_definition().unwrap().task_definition_arn().unwrap().to_owned()
}

/// Terraform's stack: the bootstrap revision (1), a served one pinned by digest (2), the serving
/// one (3), the service behind a target group, and the app's log group with two events.
async fn create_stack(config: &aws_config::SdkConfig) -> Vec<String> {
    let ecs = aws_sdk_ecs::Client::new(config);
    ecs.create_cluster().cluster_name(CLUSTER).send().await.unwrap();
    let arns = vec![
        register(&ecs, &format!("{REPO}:bootstrap"), false).await,
        register(&ecs, &format!("{REPO}@{DIGEST}"), true).await,
        register(&ecs, &format!("{REPO}:ccccccc"), true).await,
    ];
    // A target group needs no VPC when its targets are Lambda functions: enough to have an ARN
    // that DescribeTargetHealth answers for.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let group = elb
        .create_target_group()
        .name("rdeploy-local")
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Lambda)
        .send()
        .await
        .unwrap();
    let group_arn = group.target_groups()[0].target_group_arn().unwrap().to_owned();
    ecs.create_service()
        .cluster(CLUSTER)
        .service_name(SERVICE)
        .task_definition(&arns[2])
        .desired_count(1)
        .load_balancers(
            LoadBalancer::builder().target_group_arn(&group_arn).container_name("app").container_port(8080).build(),
        )
        .send()
        .await
        .unwrap();
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    logs.create_log_group().log_group_name(GROUP).send().await.unwrap();
    let stream = format!("app/app/{TASK}");
    logs.create_log_stream().log_group_name(GROUP).log_stream_name(&stream).send().await.unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let event = |at: i64, message: &str| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(at).message(message).build().unwrap()
    };
    logs.put_log_events()
        .log_group_name(GROUP)
        .log_stream_name(&stream)
        .log_events(event(now - 60_000, "listening on 0.0.0.0:8080"))
        .log_events(event(
            now - 30_000,
            r#"{"timestamp":"2026-12-06T22:00:00.123456Z","level":"ERROR","fields":{"message":"db timeout","status":503},"target":"app"}"#,
        ))
        .send()
        .await
        .unwrap();
    arns
}

#[test]
fn day2_commands_read_the_emulator_and_rollback_points_the_service_back() {
    let moto = Moto::start();
    let config = moto.config();
    let arns = block_on(create_stack(&config));
    let root = scratch(&moto.url);

    // --dry-run of each read-only command reads nothing.
    for cmd in ["status", "revisions", "logs"] {
        let out = xtask(&root, &[cmd, "--env", "local", "--dry-run"]);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", text(&out));
        assert!(text(&out).contains("--dry-run: would read (nothing changes)"), "{cmd}: {}", text(&out));
    }

    // status: no tasks run on the emulator, so degraded (exit 1), with the document's shape.
    let out = xtask(&root, &["status", "--env", "local", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let status = json(&out);
    assert_eq!(status["schema"], 1);
    assert_eq!((status["service"].as_str(), status["healthy"].as_bool()), (Some(SERVICE), Some(false)));
    assert_eq!(status["revision"], "rdeploy-local-app:3");
    assert_eq!(status["targets"], serde_json::json!([]), "DescribeTargetHealth answered: no targets");
    let reasons = status["reasons"].to_string();
    assert!(reasons.contains("0 healthy target(s) in the load balancer, 1 desired"), "{reasons}");
    assert!(!reasons.contains("target health not read"), "{reasons}");
    let out = xtask(&root, &["status", "--env", "local"]);
    assert!(
        text(&out).contains("rdeploy-local-app in local (cluster rdeploy-local-cluster): DEGRADED"),
        "{}",
        text(&out)
    );

    // revisions: newest first, with whether each served and the bootstrap mark.
    let out = xtask(&root, &["revisions", "--env", "local", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = json(&out);
    let rows: Vec<(i64, bool, bool, bool)> = doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["number"].as_i64().unwrap(),
                r["ever_served"].as_bool().unwrap(),
                r["serving"].as_bool().unwrap(),
                r["bootstrap"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, vec![(3, true, true, false), (2, true, false, false), (1, false, false, true)], "{doc}");
    assert_eq!(doc["revisions"][1]["digest"], DIGEST);

    // logs: readable, raw with --json, one task, a filter.
    let out = xtask(&root, &["logs", "--env", "local", "--since", "1h"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("listening on 0.0.0.0:8080  [task 01234567]"), "{shown}");
    assert!(shown.contains("2026-12-06T22:00:00.123Z ERROR db timeout  status=503  [task 01234567]"), "{shown}");
    let out = xtask(&root, &["logs", "--env", "local", "--json", "--task", TASK]);
    let raw = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(raw.lines().count(), 2, "{}", text(&out));
    assert!(raw.lines().nth(1).unwrap().starts_with(r#"{"timestamp":"2026-12-06T22:00:00.123456Z""#), "{raw}");
    let out = xtask(&root, &["logs", "--env", "local", "--filter", "listening"]);
    let shown = text(&out);
    assert!(shown.contains("listening on") && !shown.contains("db timeout"), "{shown}");
    let out = xtask(&root, &["logs", "--env", "local", "--task", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // run: --dry-run shows the RunTask of the serving revision; the emulator runs no tasks.
    let out = xtask(&root, &["run", "--env", "local", "--dry-run", "--", "users", "list"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("--dry-run: would run: RunTask rdeploy-local-app:3 with command [\"users\", \"list\"]"),
        "{shown}"
    );
    let out = xtask(&root, &["run", "--env", "local", "--", "users"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = xtask(&root, &["run", "--env", "local", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "no subcommand: {}", text(&out));

    // rollback: --dry-run names revision 2 and its digest; then the real one points the service
    // at it (the emulator runs no tasks: verified, not watched).
    let out = xtask(&root, &["rollback", "--env", "local", "--dry-run"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("rdeploy-local-app:3 -> rdeploy-local-app:2") && shown.contains(DIGEST), "{shown}");
    assert!(shown.contains("No migration runs"), "{shown}");
    for (to, expected) in [("1", "bootstrap revision"), ("7", "does not exist"), ("other:2", "another family")] {
        let out = xtask(&root, &["rollback", "--env", "local", "--to", to]);
        assert_eq!(out.status.code(), Some(2), "--to {to}: {}", text(&out));
        assert!(text(&out).contains(expected), "--to {to}: {}", text(&out));
    }
    let served = || {
        block_on(async {
            let ecs = aws_sdk_ecs::Client::new(&config);
            let out = ecs.describe_services().cluster(CLUSTER).services(SERVICE).send().await.unwrap();
            out.services()[0].task_definition().unwrap().to_owned()
        })
    };
    assert_eq!(served(), arns[2], "--dry-run and refusals changed nothing");
    let out = xtask(&root, &["rollback", "--env", "local", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let result = json(&out);
    assert_eq!((result["command"].as_str(), result["ok"].as_bool()), (Some("rollback"), Some(true)), "{result}");
    assert_eq!((result["outcome"].as_str(), result["revision"].as_str()), (Some("unwatched"), Some(arns[1].as_str())));
    assert_eq!(served(), arns[1]);
    // Only the bootstrap revision is below 2 now.
    let out = xtask(&root, &["rollback", "--env", "local", "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("nothing to roll back to"), "{}", text(&out));
    let result = json(&out);
    assert_eq!((result["ok"].as_bool(), result["exit_code"].as_u64()), (Some(false), Some(2)), "{result}");
    let _ = std::fs::remove_dir_all(&root);
}
