//! The shared fixtures of the deploy tests (compiled for tests only): revision ARNs, service and
//! task snapshots, a task definition, and the scripted seams: [`FakeEcs`] (DescribeServices
//! answers per phase, lag, lost or refused updates, RunTask/DescribeTasks answers), [`FakeLogs`],
//! [`FakeClock`] (no test sleeps for real) and the [`Recorder`] UI.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use aws_sdk_ecs::primitives::DateTime;
use aws_sdk_ecs::types::{
    Compatibility, Container, ContainerCondition, ContainerDefinition, ContainerDependency, Deployment,
    DeploymentController, DeploymentControllerType, DeploymentRolloutState, EphemeralStorage, Failure, HealthCheck,
    KeyValuePair, LogConfiguration, LogDriver, NetworkMode, PortMapping, RuntimePlatform, Secret, Service,
    ServiceEvent, Tag, Task, TaskDefinition, TaskDefinitionStatus, TaskStopCode, Volume,
};

use super::api::{ApiError, ApiErrorKind, Clock, Ecs, Logs, OneOffTask, ServiceLookup, Session, Ui};
use super::decide::{DeploymentView, Rollout, ServiceSnapshot};
use super::outcome::Outcome;
use super::rollout::Plan;
use super::taskdef::{APP_CONTAINER, VERSION_VAR};
use super::{Migration, Target};
use crate::base::error::CodedError;

pub const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:4";
pub const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:5";
pub const OTHER: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:6";

pub fn dep(id: &str, status: &str, td: &str, rollout: Rollout, running: i32, desired: i32) -> DeploymentView {
    DeploymentView {
        id: id.into(),
        status: status.into(),
        task_definition: td.into(),
        rollout,
        rollout_reason: String::new(),
        desired,
        running,
        pending: desired - running,
        failed: 0,
    }
}

pub fn snap(td: &str, deployments: Vec<DeploymentView>) -> ServiceSnapshot {
    ServiceSnapshot {
        status: "ACTIVE".into(),
        task_definition: td.into(),
        desired: 2,
        controller: Some("ECS".into()),
        deployments,
        events: vec![],
        alarms: vec![],
    }
}

pub const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/rdeploy-dev-cluster/0123abcd";

/// A described task: `status`, the app container's exit code and reason, whether it started.
pub fn task(status: &str, exit: Option<i32>, started: bool, stop_code: Option<TaskStopCode>) -> Task {
    let mut app = Container::builder().name("app");
    if let Some(code) = exit {
        app = app.exit_code(code);
    }
    let mut t = Task::builder().task_arn(TASK).last_status(status).containers(app.build());
    if started {
        t = t.started_at(DateTime::from_secs(10));
    }
    if let Some(code) = stop_code {
        t = t.stop_code(code);
    }
    t.build()
}

/// A definition with most fields set, the app container not first.
pub fn sample(image: &str, version: Option<&str>) -> TaskDefinition {
    let mut app = ContainerDefinition::builder()
        .name(APP_CONTAINER)
        .image(image)
        .essential(true)
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .environment(KeyValuePair::builder().name("RUST_LOG").value("info").build())
        .secrets(Secret::builder().name("DB_URL").value_from("arn:aws:secretsmanager:x").build().unwrap())
        .health_check(
            HealthCheck::builder().command("CMD").command("/app").command("healthcheck").interval(10).build().unwrap(),
        )
        .log_configuration(LogConfiguration::builder().log_driver(LogDriver::Awslogs).build().unwrap())
        .depends_on(
            ContainerDependency::builder()
                .container_name("sidecar")
                .condition(ContainerCondition::Start)
                .build()
                .unwrap(),
        );
    if let Some(v) = version {
        app = app.environment(KeyValuePair::builder().name(VERSION_VAR).value(v).build());
    }
    TaskDefinition::builder()
        .task_definition_arn(OLD)
        .family("rdeploy-dev-app")
        .revision(4)
        .status(TaskDefinitionStatus::Active)
        .task_role_arn("arn:aws:iam::1:role/task")
        .execution_role_arn("arn:aws:iam::1:role/exec")
        .network_mode(NetworkMode::Awsvpc)
        .container_definitions(ContainerDefinition::builder().name("sidecar").image("sidecar:1").build())
        .container_definitions(app.build())
        .volumes(Volume::builder().name("tmp").build())
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .ephemeral_storage(EphemeralStorage::builder().size_in_gib(21).build())
        .runtime_platform(RuntimePlatform::builder().build())
        .enable_fault_injection(false)
        .build()
}

pub const IMAGE_OLD: &str = "1.dkr.ecr.us-east-1.amazonaws.com/rdeploy-dev-app:aaaaaaa";
pub const IMAGE_NEW: &str = "1.dkr.ecr.us-east-1.amazonaws.com/rdeploy-dev-app:bbbbbbb";

pub type Answer = Result<ServiceLookup, ApiError>;

/// ECS with scripted DescribeServices answers per phase: phase N is "after N UpdateService
/// calls took effect", so the answers follow what the rollout did. The last answer of a phase
/// repeats. Lag: after update N took effect, the next `lag[N-1]` answers still come from the phase
/// before (the change becomes visible only after that many polls). Events carry their own
/// createdAt, so an event can arrive in a later answer than newer ones (out of order).
pub struct FakeEcs {
    pub phases: RefCell<Vec<VecDeque<Answer>>>,
    pub lag: Vec<u32>,
    pub lag_left: Cell<u32>,
    /// UpdateService calls that took effect.
    pub applied: Cell<usize>,
    /// Per UpdateService call, in order: None = OK, or the fault (missing entries are OK).
    pub faults: RefCell<VecDeque<Option<Fault>>>,
    /// ListTaskDefinitions calls (pruning).
    pub listed: Cell<u32>,
    /// The serving revision (OLD) and its tags.
    pub current: (TaskDefinition, Vec<Tag>),
    /// Further revisions of the family (e.g. one Terraform registered after OLD), with tags.
    pub newer: Vec<(TaskDefinition, Vec<Tag>)>,
    /// DescribeTaskDefinition arguments, in order.
    pub described: RefCell<Vec<String>>,
    pub registered: RefCell<Vec<(TaskDefinition, Vec<Tag>)>>,
    pub updates: RefCell<Vec<String>>,
    /// UpdateService fails from this call number on (1-based).
    pub fail_update_from: Option<usize>,
    pub stopped: Vec<Task>,
    pub running: Vec<Task>,
    pub active: Vec<String>,
    pub deregistered: RefCell<Vec<String>>,
    pub describes: Cell<u32>,
    /// Every ECS call that changes or runs something, in order (RegisterTaskDefinition, RunTask,
    /// StopTask, UpdateService), with DescribeTasks too.
    pub calls: RefCell<Vec<&'static str>>,
    /// RunTask answers in order (the last repeats); RunTask requests as sent.
    pub run_answers: RefCell<VecDeque<TaskAnswer>>,
    pub runs: RefCell<Vec<OneOffTask>>,
    /// DescribeTasks answers in order (the last repeats).
    pub task_answers: RefCell<VecDeque<TaskAnswer>>,
    /// StopTask calls (task ARN, reason); fail them when set.
    pub stops: RefCell<Vec<(String, String)>>,
    pub stop_fails: bool,
    /// TagResource calls (ARN, key=value); fail them when set.
    pub tagged: RefCell<Vec<(String, String)>>,
    pub tag_fails: bool,
}

pub type TaskAnswer = Result<(Vec<Task>, Vec<Failure>), ApiError>;

pub fn next_answer(queue: &RefCell<VecDeque<TaskAnswer>>, what: &str) -> TaskAnswer {
    let mut q = queue.borrow_mut();
    match q.len() {
        0 => panic!("no {what} answers scripted"),
        1 => q.front().unwrap().clone(),
        _ => q.pop_front().unwrap(),
    }
}

impl FakeEcs {
    pub fn new(phases: Vec<Vec<Answer>>) -> Self {
        Self {
            phases: RefCell::new(phases.into_iter().map(VecDeque::from).collect()),
            lag: vec![],
            lag_left: Cell::new(0),
            applied: Cell::new(0),
            faults: RefCell::default(),
            listed: Cell::new(0),
            current: (sample(IMAGE_OLD, Some("aaaaaaa")), vec![Tag::builder().key("Project").value("rdeploy").build()]),
            newer: vec![],
            described: RefCell::default(),
            registered: RefCell::default(),
            updates: RefCell::default(),
            fail_update_from: None,
            stopped: vec![],
            running: vec![],
            active: vec![],
            deregistered: RefCell::default(),
            describes: Cell::new(0),
            calls: RefCell::default(),
            run_answers: RefCell::default(),
            runs: RefCell::default(),
            task_answers: RefCell::default(),
            stops: RefCell::default(),
            stop_fails: false,
            tagged: RefCell::default(),
            tag_fails: false,
        }
    }
}

impl Ecs for FakeEcs {
    async fn describe_service(&self, _cluster: &str, _service: &str) -> Result<ServiceLookup, ApiError> {
        self.describes.set(self.describes.get() + 1);
        let mut phase = self.applied.get();
        if self.lag_left.get() > 0 {
            // Not visible yet: the previous phase's current answer, again.
            self.lag_left.set(self.lag_left.get() - 1);
            phase -= 1;
            return self.phases.borrow()[phase].front().unwrap().clone();
        }
        let mut phases = self.phases.borrow_mut();
        let queue = phases.get_mut(phase).unwrap_or_else(|| panic!("no answers scripted for phase {phase}"));
        if queue.len() > 1 { queue.pop_front().unwrap() } else { queue.front().unwrap().clone() }
    }
    /// By ARN, or by family name: the newest ACTIVE revision, as ECS answers.
    async fn describe_task_definition(&self, name: &str) -> Result<(TaskDefinition, Vec<Tag>), ApiError> {
        self.described.borrow_mut().push(name.to_owned());
        let all = || std::iter::once(&self.current).chain(&self.newer);
        let short = |d: &TaskDefinition| format!("{}:{}", d.family().unwrap_or_default(), d.revision());
        if let Some(found) = all().find(|(d, _)| d.task_definition_arn() == Some(name) || short(d) == name) {
            return Ok(found.clone());
        }
        let newest = all()
            .filter(|(d, _)| d.family() == Some(name) && d.status() != Some(&TaskDefinitionStatus::Inactive))
            .max_by_key(|(d, _)| d.revision());
        newest.cloned().ok_or_else(|| ApiError::new(ApiErrorKind::Other, "DescribeTaskDefinition", "not found"))
    }
    async fn register_task_definition(&self, def: &TaskDefinition, tags: &[Tag]) -> Result<TaskDefinition, ApiError> {
        self.calls.borrow_mut().push("RegisterTaskDefinition");
        self.registered.borrow_mut().push((def.clone(), tags.to_vec()));
        let mut out = def.clone();
        let newest = std::iter::once(&self.current).chain(&self.newer).map(|(d, _)| d.revision()).max().unwrap();
        out.revision = newest + 1;
        let family = def.family().unwrap_or("rdeploy-dev-app");
        out.task_definition_arn =
            Some(format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{}", out.revision));
        Ok(out)
    }
    async fn update_service(&self, _cluster: &str, _service: &str, td: &str) -> Result<(), ApiError> {
        self.calls.borrow_mut().push("UpdateService");
        self.updates.borrow_mut().push(td.to_owned());
        if self.fail_update_from.is_some_and(|n| self.updates.borrow().len() >= n) {
            return Err(ApiError::new(ApiErrorKind::AccessDenied, "UpdateService", "not allowed"));
        }
        let fault = self.faults.borrow_mut().pop_front().flatten();
        let apply = || {
            self.applied.set(self.applied.get() + 1);
            self.lag_left.set(self.lag.get(self.applied.get() - 1).copied().unwrap_or(0));
        };
        match fault {
            None => {
                apply();
                Ok(())
            }
            Some(Fault::Refused) => {
                Err(ApiError::new(ApiErrorKind::Other, "UpdateService", "InvalidParameterException: bad revision"))
            }
            Some(Fault::Lost { applied }) => {
                if applied {
                    apply();
                }
                Err(ApiError::new(ApiErrorKind::Unreachable, "UpdateService", "operation timed out"))
            }
        }
    }
    /// Takes effect like an UpdateService (the next phase), unless `faults` says otherwise.
    async fn force_new_deployment(&self, _cluster: &str, _service: &str) -> Result<(), ApiError> {
        self.calls.borrow_mut().push("UpdateService(force)");
        match self.faults.borrow_mut().pop_front().flatten() {
            None => {
                self.applied.set(self.applied.get() + 1);
                Ok(())
            }
            Some(Fault::Refused) => {
                Err(ApiError::new(ApiErrorKind::Other, "UpdateService", "InvalidParameterException: no"))
            }
            Some(Fault::Lost { applied }) => {
                if applied {
                    self.applied.set(self.applied.get() + 1);
                }
                Err(ApiError::new(ApiErrorKind::Unreachable, "UpdateService", "operation timed out"))
            }
        }
    }
    async fn stopped_tasks(&self, _cluster: &str, _service: &str) -> Result<Vec<Task>, ApiError> {
        Ok(self.stopped.clone())
    }
    async fn running_tasks(&self, _cluster: &str, _service: &str) -> Result<Vec<Task>, ApiError> {
        Ok(self.running.clone())
    }
    async fn active_revisions(&self, family: &str) -> Result<Vec<String>, ApiError> {
        assert_eq!(family, "rdeploy-dev-app");
        self.listed.set(self.listed.get() + 1);
        Ok(self.active.clone())
    }
    async fn deregister(&self, arn: &str) -> Result<(), ApiError> {
        self.deregistered.borrow_mut().push(arn.to_owned());
        Ok(())
    }
    async fn run_task(&self, task: &OneOffTask) -> TaskAnswer {
        self.calls.borrow_mut().push("RunTask");
        self.runs.borrow_mut().push(task.clone());
        next_answer(&self.run_answers, "RunTask")
    }
    async fn describe_tasks(&self, cluster: &str, arn: &str) -> TaskAnswer {
        assert_eq!((cluster, arn), ("rdeploy-dev-cluster", TASK));
        self.calls.borrow_mut().push("DescribeTasks");
        next_answer(&self.task_answers, "DescribeTasks")
    }
    async fn stop_task(&self, _cluster: &str, arn: &str, reason: &str) -> Result<(), ApiError> {
        self.calls.borrow_mut().push("StopTask");
        self.stops.borrow_mut().push((arn.to_owned(), reason.to_owned()));
        if self.stop_fails {
            return Err(ApiError::new(ApiErrorKind::AccessDenied, "StopTask", "not allowed"));
        }
        Ok(())
    }
    async fn tag_resource(&self, arn: &str, tags: &[Tag]) -> Result<(), ApiError> {
        self.calls.borrow_mut().push("TagResource");
        for t in tags {
            self.tagged
                .borrow_mut()
                .push((arn.to_owned(), format!("{}={}", t.key().unwrap_or(""), t.value().unwrap_or(""))));
        }
        if self.tag_fails {
            return Err(ApiError::new(ApiErrorKind::AccessDenied, "TagResource", "not allowed"));
        }
        Ok(())
    }
}

/// One FilterLogEvents request: group, stream, pattern, start_ms.
pub type FilterRequest = (String, Option<String>, Option<String>, i64);

/// CloudWatch Logs with scripted lines (or an error); records the (group, stream) asked for.
pub struct FakeLogs {
    pub answer: Result<Vec<String>, ApiError>,
    pub asked: RefCell<Vec<(String, String)>>,
    /// FilterLogEvents answers in order (the last repeats), and the requests: (group, stream,
    /// pattern, start_ms).
    pub filtered: RefCell<VecDeque<Vec<crate::ops::logs::Event>>>,
    pub filters: RefCell<Vec<FilterRequest>>,
}

impl FakeLogs {
    pub fn lines(lines: &[&str]) -> Self {
        Self {
            answer: Ok(lines.iter().map(|l| (*l).to_owned()).collect()),
            asked: RefCell::default(),
            filtered: RefCell::default(),
            filters: RefCell::default(),
        }
    }
}

impl Logs for FakeLogs {
    async fn last_lines(&self, group: &str, stream: &str, limit: i32) -> Result<Vec<String>, ApiError> {
        assert_eq!(limit, super::migration::LOG_LINES);
        self.asked.borrow_mut().push((group.to_owned(), stream.to_owned()));
        self.answer.clone()
    }
    async fn filter_events(
        &self,
        group: &str,
        stream: Option<&str>,
        pattern: Option<&str>,
        start_ms: i64,
        _limit: usize,
    ) -> Result<Vec<crate::ops::logs::Event>, ApiError> {
        self.filters.borrow_mut().push((
            group.to_owned(),
            stream.map(str::to_owned),
            pattern.map(str::to_owned),
            start_ms,
        ));
        let mut q = self.filtered.borrow_mut();
        Ok(if q.len() > 1 { q.pop_front().unwrap() } else { q.front().cloned().unwrap_or_default() })
    }
}

/// How an UpdateService call goes wrong.
pub enum Fault {
    /// AWS answers with a refusal (not transient): nothing changed.
    Refused,
    /// No answer (timeout); the update took effect or not.
    Lost { applied: bool },
}

#[derive(Default)]
pub struct FakeClock {
    pub now: Cell<Duration>,
    pub sleeps: RefCell<Vec<Duration>>,
    /// A signal that "arrives" during sleep number N (1-based).
    pub cancel_at: Option<(usize, crate::ops::interrupt::Signal)>,
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        self.now.get()
    }
    async fn sleep(&self, d: Duration) {
        self.sleeps.borrow_mut().push(d);
        self.now.set(self.now.get() + d);
    }
    fn cancelled(&self) -> Option<crate::ops::interrupt::Signal> {
        self.cancel_at.filter(|(n, _)| self.sleeps.borrow().len() >= *n).map(|(_, s)| s)
    }
    /// 2026-01-01T00:00:00Z plus the fake time.
    fn wall(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(1_767_225_600) + self.now.get()
    }
}

#[derive(Default)]
pub struct Recorder {
    pub lines: Vec<String>,
    pub statuses: Vec<String>,
}

impl Ui for Recorder {
    fn line(&mut self, text: &str) {
        self.lines.push(text.to_owned());
    }
    fn status(&mut self, text: &str) {
        self.statuses.push(text.to_owned());
    }
}

impl Recorder {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// Where the tests deploy: rdeploy-dev-app in rdeploy-dev-cluster, IMAGE_NEW.
pub fn target(image: &str, version: &str) -> Target {
    Target {
        env: "dev".into(),
        family: "rdeploy-dev-app".into(),
        cluster: "rdeploy-dev-cluster".into(),
        service: "rdeploy-dev-app".into(),
        image: image.into(),
        version: version.into(),
        dry_run: false,
    }
}

pub fn plan() -> Plan {
    Plan {
        target: target(IMAGE_NEW, "bbbbbbb"),
        no_wait: false,
        local: false,
        keep: None,
        timeout: Duration::from_secs(900),
        rollback_timeout: Duration::from_secs(600),
        poll_interval: Duration::from_secs(10),
        migration: Migration::Skip("no migration task: no database".into()),
        terraform_revision: None,
        force: false,
    }
}

/// A deployment: `d("n", "PRIMARY", NEW, InProgress, running, desired, failed)`.
pub fn d(
    id: &str,
    status: &str,
    td: &str,
    rollout: DeploymentRolloutState,
    running: i32,
    desired: i32,
    failed: i32,
) -> Deployment {
    Deployment::builder()
        .id(id)
        .status(status)
        .task_definition(td)
        .rollout_state(rollout.clone())
        .rollout_state_reason(if rollout == DeploymentRolloutState::Failed {
            "ECS deployment circuit breaker: tasks failed to start."
        } else {
            ""
        })
        .desired_count(desired)
        .running_count(running)
        .pending_count(desired - running)
        .failed_tasks(failed)
        .build()
}

/// A DescribeServices answer; events are given oldest first, created 1 s apart.
pub fn svc(td: &str, deployments: Vec<Deployment>, events: &[(&str, &str)]) -> Answer {
    let timed: Vec<(&str, i64, &str)> = events.iter().enumerate().map(|(i, (id, m))| (*id, i as i64, *m)).collect();
    svc_at(td, 2, deployments, &timed)
}

/// A DescribeServices answer with the service's desiredCount and events with their own createdAt,
/// listed newest first as ECS does (so a late event with an early createdAt sorts below newer ones).
pub fn svc_at(td: &str, desired: i32, deployments: Vec<Deployment>, events: &[(&str, i64, &str)]) -> Answer {
    let mut b = Service::builder()
        .service_name("rdeploy-dev-app")
        .status("ACTIVE")
        .task_definition(td)
        .desired_count(desired)
        .deployment_controller(DeploymentController::builder().r#type(DeploymentControllerType::Ecs).build().unwrap())
        .set_deployments(Some(deployments));
    let mut events = events.to_vec();
    events.sort_by_key(|(_, at, _)| std::cmp::Reverse(*at));
    for (id, at, msg) in events {
        b = b.events(ServiceEvent::builder().id(id).message(msg).created_at(DateTime::from_secs(at)).build());
    }
    Ok(ServiceLookup::Found(Box::new(b.build())))
}

pub use DeploymentRolloutState::{Completed, Failed, InProgress};

/// The service before the deploy: steady on OLD, with an old event that must not be printed.
pub fn steady_old() -> Answer {
    svc(OLD, vec![d("o", "PRIMARY", OLD, Completed, 2, 2, 0)], &[("old-1", "old news")])
}

pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.downcast_ref::<CodedError>().unwrap_or_else(|| panic!("not a CodedError: {err:#}")).code
}

pub async fn run(ecs: &FakeEcs, plan: &Plan) -> (anyhow::Result<Outcome>, Recorder, FakeClock) {
    run_with_logs(ecs, &FakeLogs::lines(&[]), plan).await
}

/// A deploy of `plan` on a session of fakes.
pub async fn run_with_logs(
    ecs: &FakeEcs,
    logs: &FakeLogs,
    plan: &Plan,
) -> (anyhow::Result<Outcome>, Recorder, FakeClock) {
    run_with_clock(ecs, logs, plan, FakeClock::default()).await
}

/// A deploy of `plan` on a session of fakes, with `clock` (e.g. one that fires a signal).
pub async fn run_with_clock(
    ecs: &FakeEcs,
    logs: &FakeLogs,
    plan: &Plan,
    clock: FakeClock,
) -> (anyhow::Result<Outcome>, Recorder, FakeClock) {
    let mut ui = Recorder::default();
    let result = Session { ecs, logs, clock: &clock, ui: &mut ui }.deploy(plan).await;
    (result, ui, clock)
}

/// The service settled on `td` alone.
pub fn settled(td: &str) -> Answer {
    svc(td, vec![d("s", "PRIMARY", td, Completed, 2, 2, 0)], &[])
}

/// The ARN of revision `n` of the family.
pub fn rev(n: i32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:{n}")
}
