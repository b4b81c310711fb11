//! The permission contract: every AWS call xtask makes (or has Terraform or a container engine
//! make for it), declared ONCE, with every IAM action AWS authorises for it, implicit ones
//! included (`ecs:TagResource` when RegisterTaskDefinition carries tags, `iam:PassRole` for the
//! task and execution roles, the ECR actions of a push).
//!
//! - The SDK wrappers name their operation from this table (`operation()`), and AccessDenied
//!   errors print the actions it needs (`needs_line()`).
//! - A tidy test (below) fails when xtask/src calls an AWS SDK operation this table does not
//!   declare.
//! - `contract/` checks that the role Terraform renders for each workflow job grants every
//!   action of every command that job runs, on the resources of that environment.

#[cfg(test)]
mod contract;
pub mod iam;
#[cfg(test)]
pub mod reference;

use crate::env::Env;

/// What a declared action is authorised against, resolved per environment by [`Target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Res {
    /// Actions without resource-level permissions: AWS authorises them against `*`.
    Any,
    /// The environment's ECR repository.
    Repository,
    /// The repository `image --promote` copies from (`image_promoted_from` in the tfvars).
    SourceRepository,
    Service,
    /// A new revision of the environment's task definition family.
    Revision,
    /// A task of the environment's cluster.
    Task,
    TaskRole,
    ExecutionRole,
    /// A new revision of the migration task's family (`<family>-migrate`, #24).
    MigrationRevision,
    /// The migration task's execution role (it alone reads the database master secret).
    MigrationExecutionRole,
    /// The environment's app log group (its log streams).
    LogStreams,
    /// The environment's app log group itself (FilterLogEvents is authorised on the group).
    LogGroup,
    StateBucket,
    /// A layer's state object, `<env>/<layer>.tfstate`.
    State,
    /// Its lock object, `<env>/<layer>.tfstate.tflock`.
    StateLock,
}

/// A condition key value AWS puts in the request context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Text(&'static str),
    ClusterArn,
}

#[derive(Debug, Clone, Copy)]
pub struct Need {
    pub action: &'static str,
    pub resource: Res,
    pub context: &'static [(&'static str, Value)],
}

const fn need(action: &'static str, resource: Res) -> Need {
    Need { action, resource, context: &[] }
}

/// One AWS call and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// The API operation, as AWS and the SDK errors name it.
    pub name: &'static str,
    /// The SDK's fluent method (`client.<sdk>()`), or None when another program makes the call
    /// (Terraform's state access, the container engine's push). Read by the tidy test.
    #[cfg_attr(not(test), allow(dead_code))]
    pub sdk: Option<&'static str>,
    pub needs: &'static [Need],
}

const PASS_TO_ECS: &[(&str, Value)] = &[("iam:PassedToService", Value::Text("ecs-tasks.amazonaws.com"))];

macro_rules! op {
    ($name:literal, $sdk:expr, [$($need:expr),* $(,)?]) => {
        Operation { name: $name, sdk: $sdk, needs: &[$($need),*] }
    };
}

/// Every AWS call, by the xtask command that makes it.
pub mod ops {
    use super::*;

    // ---- deploy (xtask/src/deploy/sdk.rs) ----
    pub const DESCRIBE_SERVICES: Operation =
        op!("DescribeServices", Some("describe_services"), [need("ecs:DescribeServices", Res::Service)]);
    pub const DESCRIBE_TASK_DEFINITION: Operation =
        op!("DescribeTaskDefinition", Some("describe_task_definition"), [need("ecs:DescribeTaskDefinition", Res::Any)]);
    pub const LIST_TASK_DEFINITIONS: Operation =
        op!("ListTaskDefinitions", Some("list_task_definitions"), [need("ecs:ListTaskDefinitions", Res::Any)]);
    /// The family's tags are copied onto the new revision, so AWS also authorises TagResource
    /// ("tag on create"), and the task and execution roles are passed to ECS.
    pub const REGISTER_TASK_DEFINITION: Operation = op!(
        "RegisterTaskDefinition",
        Some("register_task_definition"),
        [
            // The Service Authorization Reference lists task-definition as its resource type:
            // authorised against the new revision's ARN (permissions/reference.rs checks it).
            need("ecs:RegisterTaskDefinition", Res::Revision),
            Need {
                action: "ecs:TagResource",
                resource: Res::Revision,
                context: &[("ecs:CreateAction", Value::Text("RegisterTaskDefinition"))]
            },
            Need { action: "iam:PassRole", resource: Res::TaskRole, context: PASS_TO_ECS },
            Need { action: "iam:PassRole", resource: Res::ExecutionRole, context: PASS_TO_ECS },
        ]
    );
    pub const UPDATE_SERVICE: Operation =
        op!("UpdateService", Some("update_service"), [need("ecs:UpdateService", Res::Service)]);
    pub const LIST_TASKS: Operation = op!(
        "ListTasks",
        Some("list_tasks"),
        [Need { action: "ecs:ListTasks", resource: Res::Any, context: &[("ecs:cluster", Value::ClusterArn)] }]
    );
    pub const DESCRIBE_TASKS: Operation =
        op!("DescribeTasks", Some("describe_tasks"), [need("ecs:DescribeTasks", Res::Task)]);
    /// A revision whose deployment a watch saw COMPLETED gets the `rdeploy:completed` tag
    /// (deploy, rollback, deploy --force): TagResource on the family's revisions, that key only.
    pub const TAG_RESOURCE: Operation = op!(
        "TagResource",
        Some("tag_resource"),
        [Need {
            action: "ecs:TagResource",
            resource: Res::Revision,
            context: &[("aws:TagKeys", Value::Text(crate::ops::revisions::COMPLETED_TAG))]
        }]
    );
    /// `status`: the health of the service's target group's targets (no resource-level
    /// permissions: AWS authorises the Describe* actions of ELBv2 against `*`).
    pub const DESCRIBE_TARGET_HEALTH: Operation = op!(
        "DescribeTargetHealth",
        Some("describe_target_health"),
        [need("elasticloadbalancing:DescribeTargetHealth", Res::Any)]
    );
    pub const DEREGISTER_TASK_DEFINITION: Operation = op!(
        "DeregisterTaskDefinition",
        Some("deregister_task_definition"),
        [need("ecs:DeregisterTaskDefinition", Res::Any)]
    );

    // ---- the migration task (deploy with `database_enabled`, and `migrate`) ----
    /// A one-off task of the new revision: AWS authorises RunTask against the task definition
    /// (in the cluster) and the task and execution roles are passed to ECS.
    pub const RUN_TASK: Operation = op!(
        "RunTask",
        Some("run_task"),
        [
            Need { action: "ecs:RunTask", resource: Res::Revision, context: &[("ecs:cluster", Value::ClusterArn)] },
            Need { action: "iam:PassRole", resource: Res::TaskRole, context: PASS_TO_ECS },
            Need { action: "iam:PassRole", resource: Res::ExecutionRole, context: PASS_TO_ECS },
        ]
    );
    /// The migration family's new revision (the new image), registered like the service's: its
    /// tags on create, and its own execution role passed (it has no task role).
    pub const REGISTER_MIGRATION_TASK_DEFINITION: Operation = op!(
        "RegisterTaskDefinition (migration family)",
        None,
        [
            need("ecs:RegisterTaskDefinition", Res::MigrationRevision),
            Need {
                action: "ecs:TagResource",
                resource: Res::MigrationRevision,
                context: &[("ecs:CreateAction", Value::Text("RegisterTaskDefinition"))]
            },
            Need { action: "iam:PassRole", resource: Res::MigrationExecutionRole, context: PASS_TO_ECS },
        ]
    );
    /// The migration task itself, from the migration family, in the cluster.
    pub const RUN_MIGRATION_TASK: Operation = op!(
        "RunTask (migration family)",
        None,
        [
            Need {
                action: "ecs:RunTask",
                resource: Res::MigrationRevision,
                context: &[("ecs:cluster", Value::ClusterArn)]
            },
            Need { action: "iam:PassRole", resource: Res::MigrationExecutionRole, context: PASS_TO_ECS },
        ]
    );
    /// A migration task still running at its deadline is stopped.
    pub const STOP_TASK: Operation = op!(
        "StopTask",
        Some("stop_task"),
        [Need { action: "ecs:StopTask", resource: Res::Task, context: &[("ecs:cluster", Value::ClusterArn)] }]
    );
    /// The failed migration's last log lines.
    pub const GET_LOG_EVENTS: Operation =
        op!("GetLogEvents", Some("get_log_events"), [need("logs:GetLogEvents", Res::LogStreams)]);

    /// `logs`: the app's log events (the log group's streams).
    pub const FILTER_LOG_EVENTS: Operation =
        op!("FilterLogEvents", Some("filter_log_events"), [need("logs:FilterLogEvents", Res::LogGroup)]);

    // ---- image (xtask/src/commands/image.rs, and the deploy's prod tag check) ----
    pub const GET_AUTHORIZATION_TOKEN: Operation =
        op!("GetAuthorizationToken", Some("get_authorization_token"), [need("ecr:GetAuthorizationToken", Res::Any)]);
    pub const DESCRIBE_IMAGES: Operation =
        op!("DescribeImages", Some("describe_images"), [need("ecr:DescribeImages", Res::Repository)]);
    /// `podman|docker push` after the SDK login: the registry API calls of a push.
    pub const PUSH: Operation = op!(
        "image push (container engine)",
        None,
        [
            need("ecr:BatchCheckLayerAvailability", Res::Repository),
            need("ecr:InitiateLayerUpload", Res::Repository),
            need("ecr:UploadLayerPart", Res::Repository),
            need("ecr:CompleteLayerUpload", Res::Repository),
            need("ecr:PutImage", Res::Repository),
            need("ecr:BatchGetImage", Res::Repository),
        ]
    );

    // ---- image --promote (xtask/src/promote.rs): copy by digest, registry API only ----
    pub const DESCRIBE_REPOSITORIES: Operation =
        op!("DescribeRepositories", Some("describe_repositories"), [need("ecr:DescribeRepositories", Res::Repository)]);
    pub const DESCRIBE_SOURCE_IMAGES: Operation = op!(
        "DescribeImages (promotion source)",
        Some("describe_images"),
        [need("ecr:DescribeImages", Res::SourceRepository)]
    );
    pub const BATCH_GET_IMAGE: Operation =
        op!("BatchGetImage", Some("batch_get_image"), [need("ecr:BatchGetImage", Res::SourceRepository)]);
    pub const GET_DOWNLOAD_URL_FOR_LAYER: Operation = op!(
        "GetDownloadUrlForLayer",
        Some("get_download_url_for_layer"),
        [need("ecr:GetDownloadUrlForLayer", Res::SourceRepository)]
    );
    pub const BATCH_CHECK_LAYER_AVAILABILITY: Operation = op!(
        "BatchCheckLayerAvailability",
        Some("batch_check_layer_availability"),
        [need("ecr:BatchCheckLayerAvailability", Res::Repository)]
    );
    pub const INITIATE_LAYER_UPLOAD: Operation =
        op!("InitiateLayerUpload", Some("initiate_layer_upload"), [need("ecr:InitiateLayerUpload", Res::Repository)]);
    pub const UPLOAD_LAYER_PART: Operation =
        op!("UploadLayerPart", Some("upload_layer_part"), [need("ecr:UploadLayerPart", Res::Repository)]);
    pub const COMPLETE_LAYER_UPLOAD: Operation =
        op!("CompleteLayerUpload", Some("complete_layer_upload"), [need("ecr:CompleteLayerUpload", Res::Repository)]);
    pub const PUT_IMAGE: Operation = op!("PutImage", Some("put_image"), [need("ecr:PutImage", Res::Repository)]);

    // ---- plan, apply, drift: Terraform's S3 state access (use_lockfile) ----
    pub const STATE_READ: Operation =
        op!("terraform state read", None, [need("s3:ListBucket", Res::StateBucket), need("s3:GetObject", Res::State)]);
    pub const STATE_LOCK: Operation = op!(
        "terraform state lock",
        None,
        [need("s3:PutObject", Res::StateLock), need("s3:DeleteObject", Res::StateLock)]
    );
    pub const STATE_WRITE: Operation = op!("terraform state write", None, [need("s3:PutObject", Res::State)]);

    // ---- what ECS does with the execution role when a task of the image starts ----
    pub const TASK_START: Operation = op!(
        "task start (ECS agent, execution role)",
        None,
        [
            need("ecr:GetAuthorizationToken", Res::Any),
            need("ecr:BatchGetImage", Res::Repository),
            need("ecr:GetDownloadUrlForLayer", Res::Repository),
            need("logs:CreateLogStream", Res::LogStreams),
            need("logs:PutLogEvents", Res::LogStreams),
        ]
    );
}

/// Every declared operation.
pub const OPERATIONS: &[Operation] = &[
    ops::DESCRIBE_SERVICES,
    ops::DESCRIBE_TASK_DEFINITION,
    ops::LIST_TASK_DEFINITIONS,
    ops::REGISTER_TASK_DEFINITION,
    ops::UPDATE_SERVICE,
    ops::LIST_TASKS,
    ops::DESCRIBE_TASKS,
    ops::DEREGISTER_TASK_DEFINITION,
    ops::TAG_RESOURCE,
    ops::DESCRIBE_TARGET_HEALTH,
    ops::RUN_TASK,
    ops::REGISTER_MIGRATION_TASK_DEFINITION,
    ops::RUN_MIGRATION_TASK,
    ops::STOP_TASK,
    ops::GET_LOG_EVENTS,
    ops::FILTER_LOG_EVENTS,
    ops::GET_AUTHORIZATION_TOKEN,
    ops::DESCRIBE_IMAGES,
    ops::PUSH,
    ops::DESCRIBE_REPOSITORIES,
    ops::DESCRIBE_SOURCE_IMAGES,
    ops::BATCH_GET_IMAGE,
    ops::GET_DOWNLOAD_URL_FOR_LAYER,
    ops::BATCH_CHECK_LAYER_AVAILABILITY,
    ops::INITIATE_LAYER_UPLOAD,
    ops::UPLOAD_LAYER_PART,
    ops::COMPLETE_LAYER_UPLOAD,
    ops::PUT_IMAGE,
    ops::STATE_READ,
    ops::STATE_LOCK,
    ops::STATE_WRITE,
    ops::TASK_START,
];

/// The declared operation named `name` (as the SDK wrappers name it in errors).
pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

/// "needs ecs:RegisterTaskDefinition, ecs:TagResource, iam:PassRole": for AccessDenied messages.
pub fn needs_line(name: &str) -> Option<String> {
    let op = operation(name)?;
    let mut actions: Vec<&str> = op.needs.iter().map(|n| n.action).collect();
    actions.dedup();
    Some(format!("{name} needs {} (declared in xtask/src/permissions/mod.rs)", actions.join(", ")))
}

/// The AWS calls one xtask command line makes (`args` without `cargo xtask`), or None when the
/// command is not one this table knows (a new command must be added here).
pub fn command_operations(args: &[&str]) -> Option<Vec<Operation>> {
    let has = |flag: &str| args.contains(&flag);
    let env_is_local = args.windows(2).any(|w| w[0] == "--env" && w[1] == "local");
    use ops::*;
    let list = match *args.first()? {
        // Emulator environments make their calls to the emulator, never to an account.
        _ if env_is_local => Vec::new(),
        "ci" | "lint" | "test" | "coverage" | "doctor" | "setup" | "bench" | "contract" | "local" | "permissions"
        | "completions" => Vec::new(),
        "image" if has("--push") => vec![GET_AUTHORIZATION_TOKEN, DESCRIBE_IMAGES, PUSH],
        "image" if has("--promote") => vec![
            DESCRIBE_REPOSITORIES,
            DESCRIBE_SOURCE_IMAGES,
            BATCH_GET_IMAGE,
            GET_DOWNLOAD_URL_FOR_LAYER,
            BATCH_CHECK_LAYER_AVAILABILITY,
            INITIATE_LAYER_UPLOAD,
            UPLOAD_LAYER_PART,
            COMPLETE_LAYER_UPLOAD,
            PUT_IMAGE,
        ],
        "image" => Vec::new(),
        "deploy" => {
            let mut list = vec![
                DESCRIBE_SERVICES,
                DESCRIBE_TASK_DEFINITION,
                LIST_TASK_DEFINITIONS,
                REGISTER_TASK_DEFINITION,
                UPDATE_SERVICE,
                LIST_TASKS,
                DESCRIBE_TASKS,
                DEREGISTER_TASK_DEFINITION,
                // The revision a watch saw COMPLETED is tagged rdeploy:completed.
                TAG_RESOURCE,
                // With `database_enabled`: the migration task before the rollout (from the
                // migration family; the serving revision where there is none yet).
                RUN_TASK,
                REGISTER_MIGRATION_TASK_DEFINITION,
                RUN_MIGRATION_TASK,
                STOP_TASK,
                GET_LOG_EVENTS,
                // prod: a tag is resolved to its digest in the environment's repository.
                DESCRIBE_IMAGES,
            ];
            // --keep reads Terraform's revision from the app layer's state (never deregistered).
            if has("--keep") {
                list.push(STATE_READ);
            }
            list
        }
        "migrate" => vec![
            DESCRIBE_SERVICES,
            DESCRIBE_TASK_DEFINITION,
            LIST_TASK_DEFINITIONS,
            REGISTER_TASK_DEFINITION,
            RUN_TASK,
            REGISTER_MIGRATION_TASK_DEFINITION,
            RUN_MIGRATION_TASK,
            DESCRIBE_TASKS,
            STOP_TASK,
            GET_LOG_EVENTS,
            DESCRIBE_IMAGES,
        ],
        "rollback" => vec![
            DESCRIBE_SERVICES,
            DESCRIBE_TASK_DEFINITION,
            LIST_TASK_DEFINITIONS,
            UPDATE_SERVICE,
            // A failed rollback's report: the stopped tasks.
            LIST_TASKS,
            DESCRIBE_TASKS,
            TAG_RESOURCE,
        ],
        "status" => vec![DESCRIBE_SERVICES, LIST_TASKS, DESCRIBE_TASKS, DESCRIBE_TARGET_HEALTH],
        "revisions" => vec![DESCRIBE_SERVICES, DESCRIBE_TASK_DEFINITION, LIST_TASK_DEFINITIONS],
        "logs" => vec![DESCRIBE_SERVICES, DESCRIBE_TASK_DEFINITION, FILTER_LOG_EVENTS],
        "run" => vec![DESCRIBE_SERVICES, DESCRIBE_TASK_DEFINITION, RUN_TASK, DESCRIBE_TASKS, STOP_TASK, GET_LOG_EVENTS],
        "plan" | "drift" => vec![STATE_READ, STATE_LOCK],
        "apply" | "destroy" | "bootstrap" => vec![STATE_READ, STATE_LOCK, STATE_WRITE],
        _ => return None,
    };
    Some(list)
}

/// Resolves [`Res`] to the ARNs of one environment in one account.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub env: &'a Env,
    pub partition: String,
    pub account: String,
    /// ARN of the `image_promoted_from` repository, if the environment has one.
    pub source_repository: Option<String>,
    /// Terraform layers (state keys) the command touches.
    pub layer: &'a str,
}

impl Target<'_> {
    pub fn arn(&self, res: Res) -> String {
        let (p, r, a, e) = (&self.partition, &self.env.region, &self.account, self.env);
        let bucket =
            e.values.get("state_bucket").cloned().unwrap_or_else(|| format!("{}-{}-tfstate", e.project, e.name));
        let key = format!("{}/{}.tfstate", e.name, self.layer);
        match res {
            Res::Any => "*".into(),
            Res::Repository => format!("arn:{p}:ecr:{r}:{a}:repository/{}", e.repository()),
            Res::SourceRepository => {
                self.source_repository.clone().unwrap_or_else(|| "(no image_promoted_from)".into())
            }
            Res::Service => format!("arn:{p}:ecs:{r}:{a}:service/{}/{}", e.cluster(), e.service()),
            Res::Revision => format!("arn:{p}:ecs:{r}:{a}:task-definition/{}:42", e.task_family()),
            Res::Task => format!("arn:{p}:ecs:{r}:{a}:task/{}/0123456789abcdef0123456789abcdef", e.cluster()),
            Res::TaskRole => format!("arn:{p}:iam::{a}:role/{}-{}-task", e.project, e.name),
            Res::ExecutionRole => format!("arn:{p}:iam::{a}:role/{}-{}-task-execution", e.project, e.name),
            Res::MigrationRevision => {
                format!("arn:{p}:ecs:{r}:{a}:task-definition/{}-migrate:42", e.task_family())
            }
            Res::MigrationExecutionRole => {
                format!("arn:{p}:iam::{a}:role/{}-{}-migrate-execution", e.project, e.name)
            }
            Res::LogStreams => format!("arn:{p}:logs:{r}:{a}:log-group:/ecs/{}:log-stream:app/app/0123", e.service()),
            Res::LogGroup => format!("arn:{p}:logs:{r}:{a}:log-group:/ecs/{}", e.service()),
            Res::StateBucket => format!("arn:{p}:s3:::{bucket}"),
            Res::State => format!("arn:{p}:s3:::{bucket}/{key}"),
            Res::StateLock => format!("arn:{p}:s3:::{bucket}/{key}.tflock"),
        }
    }

    pub fn value(&self, v: Value) -> String {
        match v {
            Value::Text(t) => t.into(),
            Value::ClusterArn => {
                format!(
                    "arn:{}:ecs:{}:{}:cluster/{}",
                    self.partition,
                    self.env.region,
                    self.account,
                    self.env.cluster()
                )
            }
        }
    }

    /// The IAM requests one declared need makes.
    pub fn request(&self, need: &Need) -> iam::Request {
        let mut req = iam::Request::new(need.action, &self.arn(need.resource));
        for (k, v) in need.context {
            req = req.with(k, &self.value(*v));
        }
        req
    }
}

/// The claim keys of the repository's OIDC subject template that the github-oidc trust policies
/// expect (its output `subject_claim_keys`; the permission contract test compares the two).
pub const OIDC_SUBJECT_CLAIM_KEYS: &[&str] = &["repo", "context", "ref"];

/// The repository `image --promote` copies from, as the shared layer builds it (same account and
/// region unless the tfvars say otherwise).
pub fn source_repository(env: &Env, partition: &str, account: &str) -> Option<String> {
    let from = env.values.get("image_promoted_from")?;
    let region = env.values.get("image_promoted_from_region").unwrap_or(&env.region);
    let account = env.values.get("image_promoted_from_account_id").map_or(account, String::as_str);
    Some(format!("arn:{partition}:ecr:{region}:{account}:repository/{}-{from}-app", env.project))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// SDK operations called from xtask/src (`client.<op>()`, `ecr.<op>()`): every one must be in
    /// [`OPERATIONS`], and every operation name the wrappers report (`api_error("<Name>", ..)`)
    /// must be declared. A new AWS call cannot land without its IAM actions.
    #[test]
    fn every_sdk_call_in_xtask_is_declared() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut dirs = vec![src];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("tests.rs") {
                    files.push(p);
                }
            }
        }
        let declared: Vec<&str> = OPERATIONS.iter().filter_map(|o| o.sdk).collect();
        let mut calls = 0;
        let mut undeclared = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            // Production code only: test modules script SDK values, they call nothing.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let tokens: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            for receiver in ["client.", "ecr.", "ecs.", "sts."] {
                for (i, _) in tokens.match_indices(receiver) {
                    // The receiver must be a whole identifier (`self.client.`, `ecr.`).
                    if tokens[..i].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        continue;
                    }
                    let rest = &tokens[i + receiver.len()..];
                    let method: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                    if method.is_empty() || !rest[method.len()..].starts_with("()") {
                        continue;
                    }
                    calls += 1;
                    if !declared.contains(&method.as_str()) {
                        undeclared.push(format!("{}: {receiver}{method}()", file.display()));
                    }
                }
            }
            for (i, _) in code.match_indices("api_error(\"") {
                let name: String = code[i + 11..].chars().take_while(|c| *c != '"').collect();
                if operation(&name).is_none() {
                    undeclared.push(format!("{}: api_error(\"{name}\")", file.display()));
                }
            }
        }
        assert!(calls >= 10, "found only {calls} SDK calls: the scan is broken");
        assert!(undeclared.is_empty(), "AWS calls missing from permissions::OPERATIONS: {undeclared:#?}");
    }

    #[test]
    fn register_declares_its_implicit_actions() {
        let actions: Vec<&str> = ops::REGISTER_TASK_DEFINITION.needs.iter().map(|n| n.action).collect();
        assert_eq!(actions, ["ecs:RegisterTaskDefinition", "ecs:TagResource", "iam:PassRole", "iam:PassRole"]);
        assert_eq!(
            needs_line("RegisterTaskDefinition").unwrap(),
            "RegisterTaskDefinition needs ecs:RegisterTaskDefinition, ecs:TagResource, iam:PassRole (declared in xtask/src/permissions/mod.rs)"
        );
        assert!(needs_line("Nope").is_none());
    }

    #[test]
    fn commands_map_to_operations() {
        let names = |args: &[&str]| command_operations(args).unwrap().iter().map(|o| o.name).collect::<Vec<_>>();
        assert!(names(&["deploy", "--env", "dev"]).contains(&"RegisterTaskDefinition"));
        assert!(names(&["deploy", "--env", "local"]).is_empty());
        assert_eq!(
            names(&["image", "--push", "--env", "dev"]),
            ["GetAuthorizationToken", "DescribeImages", "image push (container engine)"]
        );
        assert_eq!(names(&["plan", "--env", "prod"]), ["terraform state read", "terraform state lock"]);
        assert!(names(&["ci"]).is_empty());
        assert!(command_operations(&["frobnicate"]).is_none());
    }

    #[test]
    fn resources_resolve_from_the_tfvars() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let env = Env::load(root, "prod").unwrap();
        let t = Target {
            env: &env,
            partition: "aws".into(),
            account: "111122223333".into(),
            source_repository: None,
            layer: "app",
        };
        assert_eq!(
            t.arn(Res::Service),
            "arn:aws:ecs:eu-west-1:111122223333:service/rdeploy-prod-cluster/rdeploy-prod-app"
        );
        assert_eq!(t.arn(Res::StateLock), "arn:aws:s3:::rdeploy-prod-tfstate/prod/app.tfstate.tflock");
        assert_eq!(t.arn(Res::ExecutionRole), "arn:aws:iam::111122223333:role/rdeploy-prod-task-execution");
        let tag = t.request(&ops::REGISTER_TASK_DEFINITION.needs[1]);
        assert_eq!(tag.resource, "arn:aws:ecs:eu-west-1:111122223333:task-definition/rdeploy-prod-app:42");
        assert_eq!(tag.context["ecs:CreateAction"], "RegisterTaskDefinition");
    }
}
