//! `cargo xtask status --env E [--json]`: healthy (exit 0) or degraded (exit 1), with reasons.
//!
//! Healthy means every one of these holds; each that does not is one reason:
//! - the service is ACTIVE and wants tasks (desiredCount > 0);
//! - it has one deployment, PRIMARY, rolloutState COMPLETED, running == desired;
//! - every task the service runs is RUNNING with health HEALTHY (the container health check);
//! - the target group has at least `desired` healthy targets and none unhealthy.
//!
//! The inputs: DescribeServices (the service with its deployments and events), ListTasks +
//! DescribeTasks of the service, and the target group's DescribeTargetHealth (ELBv2: passed in as
//! [`Target`], so this module needs no ELBv2 SDK types).
//!
//! `--json` prints [`Status`] (serde): `schema` is 1 and grows only by new fields; a removed or
//! renamed field is a new schema number. The human rendering is [`render`].

use aws_sdk_ecs::primitives::DateTimeFormat;
use aws_sdk_ecs::types::{DeploymentRolloutState, Service, Task};
use serde::Serialize;

use super::revisions::APP_CONTAINER;
use super::short;

/// Events shown (newest first).
pub const EVENTS: usize = 5;

/// One target of the target group (DescribeTargetHealth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The task's IP (awsvpc), as registered.
    pub id: String,
    pub port: Option<i32>,
    /// healthy, unhealthy, initial, draining, unused, unavailable.
    pub state: String,
    /// Elb.* reason code when not healthy (e.g. Target.ResponseCodeMismatch), else null.
    pub reason: Option<String>,
    pub description: Option<String>,
}

/// The `--json` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// 1.
    pub schema: u32,
    pub environment: String,
    pub cluster: String,
    pub service: String,
    /// ACTIVE, DRAINING or INACTIVE.
    pub service_status: String,
    /// True when `reasons` is empty: exit 0; else exit 1.
    pub healthy: bool,
    /// One line per unmet condition (see the module docs), in that order.
    pub reasons: Vec<String>,
    /// The revision the service points at (`family:N`) and its ARN.
    pub revision: String,
    pub task_definition: String,
    /// The distinct image digests the running app containers report (what really serves).
    pub serving_digests: Vec<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<DeploymentStatus>,
    pub tasks: Vec<TaskStatus>,
    pub targets: Vec<Target>,
    /// The newest [`EVENTS`] service events, newest first.
    pub events: Vec<EventStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentStatus {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    /// `family:N`.
    pub revision: String,
    /// IN_PROGRESS, COMPLETED, FAILED, or null (no rollout state reported).
    pub rollout_state: Option<String>,
    pub rollout_reason: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed: i32,
    /// RFC 3339.
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskStatus {
    /// The task ID (the last part of its ARN; `cargo xtask logs --task ID` takes it).
    pub id: String,
    /// `family:N`.
    pub revision: String,
    /// PROVISIONING, PENDING, RUNNING, DEPROVISIONING, STOPPED, ...
    pub last_status: String,
    /// HEALTHY, UNHEALTHY or UNKNOWN.
    pub health: String,
    pub availability_zone: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// The app container's image digest.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventStatus {
    /// RFC 3339.
    pub at: Option<String>,
    pub message: String,
}

fn time(t: Option<&aws_sdk_ecs::primitives::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
}

/// Names for the document; the service, its tasks and its target group's targets.
pub fn status(env: &str, cluster: &str, service: &Service, tasks: &[Task], targets: &[Target]) -> Status {
    let deployments: Vec<DeploymentStatus> = service
        .deployments()
        .iter()
        .map(|d| DeploymentStatus {
            id: d.id().unwrap_or_default().to_owned(),
            status: d.status().unwrap_or_default().to_owned(),
            revision: short(d.task_definition().unwrap_or_default()).to_owned(),
            rollout_state: d.rollout_state().map(|s| s.as_str().to_owned()),
            rollout_reason: d.rollout_state_reason().map(str::to_owned),
            desired: d.desired_count(),
            running: d.running_count(),
            pending: d.pending_count(),
            failed: d.failed_tasks(),
            created_at: time(d.created_at()),
        })
        .collect();
    let tasks: Vec<TaskStatus> = tasks
        .iter()
        .map(|t| TaskStatus {
            id: t.task_arn().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned(),
            revision: short(t.task_definition_arn().unwrap_or_default()).to_owned(),
            last_status: t.last_status().unwrap_or_default().to_owned(),
            health: t.health_status().map_or("UNKNOWN", |h| h.as_str()).to_owned(),
            availability_zone: t.availability_zone().map(str::to_owned),
            started_at: time(t.started_at()),
            digest: t
                .containers()
                .iter()
                .find(|c| c.name() == Some(APP_CONTAINER))
                .and_then(|c| c.image_digest())
                .map(str::to_owned),
        })
        .collect();
    let mut digests: Vec<String> =
        tasks.iter().filter(|t| t.last_status == "RUNNING").filter_map(|t| t.digest.clone()).collect();
    digests.sort();
    digests.dedup();

    let desired = service.desired_count();
    let mut reasons = Vec::new();
    let service_status = service.status().unwrap_or_default().to_owned();
    if service_status != "ACTIVE" {
        reasons.push(format!("the service is {service_status}, not ACTIVE"));
    }
    if desired == 0 {
        reasons.push("the service is scaled to zero (desiredCount 0): nothing serves".into());
    }
    let primary = service.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    match primary {
        None => reasons.push("the service has no PRIMARY deployment".into()),
        Some(p) => {
            let rev = short(p.task_definition().unwrap_or_default());
            match p.rollout_state() {
                Some(DeploymentRolloutState::Completed) => {}
                Some(DeploymentRolloutState::Failed) => reasons.push(format!(
                    "the deployment of {rev} FAILED: {}",
                    p.rollout_state_reason().unwrap_or("no reason given")
                )),
                Some(state) => reasons.push(format!("the deployment of {rev} is {} (not settled)", state.as_str())),
                None => reasons.push(format!("the deployment of {rev} reports no rollout state")),
            }
            if p.running_count() != p.desired_count() {
                reasons.push(format!("{rev} runs {} of {} desired tasks", p.running_count(), p.desired_count()));
            }
        }
    }
    let others: Vec<&str> = service
        .deployments()
        .iter()
        .filter(|d| d.status() != Some("PRIMARY"))
        .map(|d| short(d.task_definition().unwrap_or_default()))
        .collect();
    if !others.is_empty() {
        reasons.push(format!(
            "other deployments still in the service: {} (a rollout or rollback in progress)",
            others.join(", ")
        ));
    }
    let live: Vec<&TaskStatus> = tasks.iter().filter(|t| t.last_status != "STOPPED").collect();
    let not_running: Vec<String> =
        live.iter().filter(|t| t.last_status != "RUNNING").map(|t| format!("{} {}", t.id, t.last_status)).collect();
    if !not_running.is_empty() {
        reasons.push(format!("tasks not running: {}", not_running.join(", ")));
    }
    let unhealthy: Vec<String> = live
        .iter()
        .filter(|t| t.last_status == "RUNNING" && t.health != "HEALTHY")
        .map(|t| format!("{} {}", t.id, t.health))
        .collect();
    if !unhealthy.is_empty() {
        reasons.push(format!("tasks not HEALTHY (container health check): {}", unhealthy.join(", ")));
    }
    let healthy_targets = targets.iter().filter(|t| t.state == "healthy").count();
    let bad: Vec<String> = targets
        .iter()
        .filter(|t| t.state == "unhealthy")
        .map(|t| format!("{} ({})", t.id, t.reason.as_deref().unwrap_or("unhealthy")))
        .collect();
    if !bad.is_empty() {
        reasons.push(format!("unhealthy targets in the load balancer: {}", bad.join(", ")));
    }
    if desired > 0 && healthy_targets < desired as usize {
        reasons.push(format!("{healthy_targets} healthy target(s) in the load balancer, {desired} desired"));
    }
    if digests.len() > 1 {
        reasons.push(format!("running tasks serve {} different images", digests.len()));
    }

    let events = service
        .events()
        .iter()
        .take(EVENTS)
        .map(|e| EventStatus { at: time(e.created_at()), message: e.message().unwrap_or_default().to_owned() })
        .collect();
    Status {
        schema: 1,
        environment: env.to_owned(),
        cluster: cluster.to_owned(),
        service: service.service_name().unwrap_or_default().to_owned(),
        service_status,
        healthy: reasons.is_empty(),
        reasons,
        revision: short(service.task_definition().unwrap_or_default()).to_owned(),
        task_definition: service.task_definition().unwrap_or_default().to_owned(),
        serving_digests: digests,
        desired,
        running: service.running_count(),
        pending: service.pending_count(),
        deployments,
        tasks,
        targets: targets.to_vec(),
        events,
    }
}

/// The exit code: 0 healthy, 1 degraded.
pub fn code(s: &Status) -> u8 {
    u8::from(!s.healthy)
}

/// What a terminal shows.
pub fn render(s: &Status) -> String {
    let mut out = Vec::new();
    let verdict = if s.healthy { "HEALTHY".to_owned() } else { format!("DEGRADED ({} reason(s))", s.reasons.len()) };
    out.push(format!("{} in {} (cluster {}): {verdict}", s.service, s.environment, s.cluster));
    for r in &s.reasons {
        out.push(format!("  - {r}"));
    }
    out.push(format!(
        "Serving {}: {} running / {} desired / {} pending; image {}",
        s.revision,
        s.running,
        s.desired,
        s.pending,
        if s.serving_digests.is_empty() {
            "(no running task reports a digest)".to_owned()
        } else {
            s.serving_digests.join(", ")
        }
    ));
    out.push("Deployments:".into());
    for d in &s.deployments {
        out.push(format!(
            "  {:<8} {:<22} {:<12} {}/{} running, {} pending, {} failed{}",
            d.status,
            d.revision,
            d.rollout_state.as_deref().unwrap_or("-"),
            d.running,
            d.desired,
            d.pending,
            d.failed,
            d.rollout_reason.as_deref().map_or(String::new(), |r| format!("  ({r})"))
        ));
    }
    out.push(format!("Tasks ({}):", s.tasks.len()));
    for t in &s.tasks {
        out.push(format!(
            "  {}  {:<22} {:<8} {:<9} {:<11} started {}",
            t.id,
            t.revision,
            t.last_status,
            t.health,
            t.availability_zone.as_deref().unwrap_or("-"),
            t.started_at.as_deref().unwrap_or("-")
        ));
    }
    out.push(format!("Targets ({}):", s.targets.len()));
    for t in &s.targets {
        out.push(format!(
            "  {}:{}  {}{}",
            t.id,
            t.port.map_or("-".to_owned(), |p| p.to_string()),
            t.state,
            t.reason.as_deref().map_or(String::new(), |r| format!(" ({r})"))
        ));
    }
    out.push("Events (newest first):".into());
    for e in &s.events {
        out.push(format!("  {}  {}", e.at.as_deref().unwrap_or("-"), e.message));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::primitives::DateTime;
    use aws_sdk_ecs::types::{Container, Deployment, HealthStatus, ServiceEvent};

    const TD: &str = "arn:aws:ecs:eu-west-1:1:task-definition/rdeploy-dev-app:8";

    fn deployment(status: &str, td: &str, state: DeploymentRolloutState, running: i32, desired: i32) -> Deployment {
        Deployment::builder()
            .id(format!("ecs-svc/{status}"))
            .status(status)
            .task_definition(td)
            .rollout_state(state)
            .running_count(running)
            .desired_count(desired)
            .created_at(DateTime::from_secs(1_796_000_000))
            .build()
    }

    fn service(deployments: Vec<Deployment>, desired: i32) -> Service {
        let mut s = Service::builder()
            .service_name("rdeploy-dev-app")
            .status("ACTIVE")
            .task_definition(TD)
            .desired_count(desired)
            .running_count(desired)
            .set_deployments(Some(deployments));
        for i in 0..7 {
            s = s.events(ServiceEvent::builder().id(format!("e{i}")).message(format!("event {i}")).build());
        }
        s.build()
    }

    fn task(id: &str, status: &str, health: HealthStatus, digest: &str) -> Task {
        Task::builder()
            .task_arn(format!("arn:aws:ecs:eu-west-1:1:task/rdeploy-dev-cluster/{id}"))
            .task_definition_arn(TD)
            .last_status(status)
            .health_status(health)
            .availability_zone("eu-west-1a")
            .started_at(DateTime::from_secs(1_796_000_100))
            .containers(Container::builder().name("app").image_digest(digest).build())
            .build()
    }

    fn target(id: &str, state: &str) -> Target {
        Target {
            id: id.into(),
            port: Some(5000),
            state: state.into(),
            reason: (state != "healthy").then(|| "Target.ResponseCodeMismatch".into()),
            description: None,
        }
    }

    type Change = dyn Fn(&mut Service, &mut Vec<Task>, &mut Vec<Target>);

    fn settled() -> (Service, Vec<Task>, Vec<Target>) {
        (
            service(vec![deployment("PRIMARY", TD, DeploymentRolloutState::Completed, 2, 2)], 2),
            vec![
                task("a1", "RUNNING", HealthStatus::Healthy, "sha256:aaa"),
                task("b2", "RUNNING", HealthStatus::Healthy, "sha256:aaa"),
            ],
            vec![target("10.0.1.5", "healthy"), target("10.0.2.6", "healthy")],
        )
    }

    #[test]
    fn a_settled_service_is_healthy() {
        let (svc, tasks, targets) = settled();
        let s = status("dev", "rdeploy-dev-cluster", &svc, &tasks, &targets);
        assert!(s.healthy, "{:?}", s.reasons);
        assert_eq!(code(&s), 0);
        assert_eq!(s.revision, "rdeploy-dev-app:8");
        assert_eq!(s.serving_digests, vec!["sha256:aaa".to_owned()]);
        assert_eq!(s.events.len(), EVENTS);
        assert_eq!(s.tasks[0].started_at.as_deref(), Some("2026-11-30T00:55:00Z"));
        let text = render(&s);
        assert!(text.starts_with("rdeploy-dev-app in dev (cluster rdeploy-dev-cluster): HEALTHY"), "{text}");
        assert!(text.contains("  a1  rdeploy-dev-app:8") && text.contains("HEALTHY   eu-west-1a"), "{text}");
        assert!(text.contains("10.0.1.5:5000  healthy") && text.contains("event 0"), "{text}");
    }

    #[test]
    fn each_unmet_condition_is_one_reason() {
        let old = TD.replace(":8", ":7");
        let cases: Vec<(Box<Change>, &str)> = vec![
            (Box::new(|s, _, _| s.status = Some("DRAINING".into())), "the service is DRAINING"),
            (
                Box::new(|s, _, t| {
                    s.desired_count = 0;
                    t.clear();
                }),
                "scaled to zero",
            ),
            (
                Box::new(|s, _, _| {
                    s.deployments.as_mut().unwrap()[0].rollout_state = Some(DeploymentRolloutState::InProgress)
                }),
                "is IN_PROGRESS (not settled)",
            ),
            (
                Box::new(|s, _, _| {
                    let d = &mut s.deployments.as_mut().unwrap()[0];
                    d.rollout_state = Some(DeploymentRolloutState::Failed);
                    d.rollout_state_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
                }),
                "FAILED: ECS deployment circuit breaker",
            ),
            (Box::new(|s, _, _| s.deployments.as_mut().unwrap()[0].running_count = 1), "runs 1 of 2 desired tasks"),
            (
                Box::new(move |s, _, _| {
                    s.deployments.as_mut().unwrap().push(deployment(
                        "ACTIVE",
                        &old,
                        DeploymentRolloutState::Completed,
                        1,
                        0,
                    ))
                }),
                "other deployments still in the service: rdeploy-dev-app:7",
            ),
            (Box::new(|_, t, _| t[1].last_status = Some("PENDING".into())), "tasks not running: b2 PENDING"),
            (
                Box::new(|_, t, _| t[0].health_status = Some(HealthStatus::Unhealthy)),
                "tasks not HEALTHY (container health check): a1 UNHEALTHY",
            ),
            (
                Box::new(|_, _, g| g[1] = target("10.0.2.6", "unhealthy")),
                "unhealthy targets in the load balancer: 10.0.2.6 (Target.ResponseCodeMismatch)",
            ),
            (
                Box::new(|_, _, g| g[1] = target("10.0.2.6", "initial")),
                "1 healthy target(s) in the load balancer, 2 desired",
            ),
            (
                Box::new(|_, t, _| {
                    t[1].containers = Some(vec![Container::builder().name("app").image_digest("sha256:bbb").build()])
                }),
                "serve 2 different images",
            ),
            (Box::new(|s, _, _| s.deployments = Some(vec![])), "no PRIMARY deployment"),
        ];
        for (change, expected) in cases {
            let (mut svc, mut tasks, mut targets) = settled();
            change(&mut svc, &mut tasks, &mut targets);
            let s = status("dev", "c", &svc, &tasks, &targets);
            assert!(!s.healthy && code(&s) == 1, "{expected}: healthy?");
            assert!(s.reasons.iter().any(|r| r.contains(expected)), "{expected}: {:?}", s.reasons);
            assert!(render(&s).contains(&format!("  - {}", s.reasons[0])));
        }
        // A stopped task of the service (ECS keeps them listed for a while) is no reason.
        let (svc, mut tasks, targets) = settled();
        tasks.push(task("c3", "STOPPED", HealthStatus::from("UNKNOWN"), "sha256:old"));
        assert!(status("dev", "c", &svc, &tasks, &targets).healthy);
    }

    #[test]
    fn the_json_document_keeps_its_documented_shape() {
        let (svc, tasks, targets) = settled();
        let json = serde_json::to_value(status("dev", "c", &svc, &tasks, &targets)).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
        let mut top = keys(&json);
        top.sort();
        assert_eq!(
            top,
            [
                "cluster",
                "deployments",
                "desired",
                "environment",
                "events",
                "healthy",
                "pending",
                "reasons",
                "revision",
                "running",
                "schema",
                "service",
                "service_status",
                "serving_digests",
                "targets",
                "task_definition",
                "tasks"
            ]
        );
        assert_eq!(json["schema"], 1);
        let mut d = keys(&json["deployments"][0]);
        d.sort();
        assert_eq!(
            d,
            [
                "created_at",
                "desired",
                "failed",
                "id",
                "pending",
                "revision",
                "rollout_reason",
                "rollout_state",
                "running",
                "status"
            ]
        );
        let mut t = keys(&json["tasks"][0]);
        t.sort();
        assert_eq!(t, ["availability_zone", "digest", "health", "id", "last_status", "revision", "started_at"]);
        assert_eq!(json["deployments"][0]["rollout_state"], "COMPLETED");
        assert_eq!(json["targets"][0]["state"], "healthy");
        assert_eq!(keys(&json["events"][0]), ["at", "message"]);
    }
}
