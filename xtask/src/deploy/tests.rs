//! The engine against scripted ECS answers built with the SDK's own types, a fake clock (no test
//! sleeps for real) and a recording UI. Each test is one rollout story and its exit code.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use aws_sdk_ecs::primitives::DateTime;
use aws_sdk_ecs::types::{
    Container, Deployment, DeploymentController, DeploymentControllerType, DeploymentRolloutState, Failure, Service,
    ServiceEvent, Tag, Task, TaskDefinition, TaskDefinitionStatus,
};

use super::api::{ApiError, ApiErrorKind, Clock, Ecr, Ecs, Logs, OneOffTask, ServiceLookup, Ui};
use super::decide::tests::{NEW, OLD, OTHER};
use super::decide_task::tests::{TASK, task};
use super::engine::{Outcome, Plan, deploy, human, prune_list, stopped_task_lines};
use super::image::ImageRef;
use super::migrate::{MigratePlan, Migration, migrate};
use super::taskdef::tests::sample;
use super::{ensure_immutable, parse_duration};
use crate::base::error::CodedError as Exit;
use crate::env::Env;

const IMAGE_OLD: &str = "1.dkr.ecr.us-east-1.amazonaws.com/rdeploy-dev-app:aaaaaaa";
const IMAGE_NEW: &str = "1.dkr.ecr.us-east-1.amazonaws.com/rdeploy-dev-app:bbbbbbb";

type Answer = Result<ServiceLookup, ApiError>;

/// ECS with scripted DescribeServices answers per phase: phase N is "after N UpdateService
/// calls took effect", so the answers follow what the engine did. The last answer of a phase
/// repeats. Lag: after update N took effect, the next `lag[N-1]` answers still come from the phase
/// before (the change becomes visible only after that many polls). Events carry their own
/// createdAt, so an event can arrive in a later answer than newer ones (out of order).
struct FakeEcs {
    phases: RefCell<Vec<VecDeque<Answer>>>,
    lag: Vec<u32>,
    lag_left: Cell<u32>,
    /// UpdateService calls that took effect.
    applied: Cell<usize>,
    /// Per UpdateService call, in order: None = OK, or the fault (missing entries are OK).
    faults: RefCell<VecDeque<Option<Fault>>>,
    /// ListTaskDefinitions calls (pruning).
    listed: Cell<u32>,
    /// The serving revision (OLD) and its tags.
    current: (TaskDefinition, Vec<Tag>),
    /// Further revisions of the family (e.g. one Terraform registered after OLD), with tags.
    newer: Vec<(TaskDefinition, Vec<Tag>)>,
    /// DescribeTaskDefinition arguments, in order.
    described: RefCell<Vec<String>>,
    registered: RefCell<Vec<(TaskDefinition, Vec<Tag>)>>,
    updates: RefCell<Vec<String>>,
    /// UpdateService fails from this call number on (1-based).
    fail_update_from: Option<usize>,
    stopped: Vec<Task>,
    active: Vec<String>,
    deregistered: RefCell<Vec<String>>,
    describes: Cell<u32>,
    /// Every ECS call that changes or runs something, in order (RegisterTaskDefinition, RunTask,
    /// StopTask, UpdateService), with DescribeTasks too.
    calls: RefCell<Vec<&'static str>>,
    /// RunTask answers in order (the last repeats); RunTask requests as sent.
    run_answers: RefCell<VecDeque<TaskAnswer>>,
    runs: RefCell<Vec<OneOffTask>>,
    /// DescribeTasks answers in order (the last repeats).
    task_answers: RefCell<VecDeque<TaskAnswer>>,
    /// StopTask calls (task ARN, reason); fail them when set.
    stops: RefCell<Vec<(String, String)>>,
    stop_fails: bool,
}

type TaskAnswer = Result<(Vec<Task>, Vec<Failure>), ApiError>;

fn next_answer(queue: &RefCell<VecDeque<TaskAnswer>>, what: &str) -> TaskAnswer {
    let mut q = queue.borrow_mut();
    match q.len() {
        0 => panic!("no {what} answers scripted"),
        1 => q.front().unwrap().clone(),
        _ => q.pop_front().unwrap(),
    }
}

impl FakeEcs {
    fn new(phases: Vec<Vec<Answer>>) -> Self {
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
            active: vec![],
            deregistered: RefCell::default(),
            describes: Cell::new(0),
            calls: RefCell::default(),
            run_answers: RefCell::default(),
            runs: RefCell::default(),
            task_answers: RefCell::default(),
            stops: RefCell::default(),
            stop_fails: false,
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
        if let Some(found) = all().find(|(d, _)| d.task_definition_arn() == Some(name)) {
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
        out.task_definition_arn =
            Some(format!("arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:{}", out.revision));
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
    async fn stopped_tasks(&self, _cluster: &str, _service: &str) -> Result<Vec<Task>, ApiError> {
        Ok(self.stopped.clone())
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
}

/// CloudWatch Logs with scripted lines (or an error); records the (group, stream) asked for.
struct FakeLogs {
    answer: Result<Vec<String>, ApiError>,
    asked: RefCell<Vec<(String, String)>>,
}

impl FakeLogs {
    fn lines(lines: &[&str]) -> Self {
        Self { answer: Ok(lines.iter().map(|l| (*l).to_owned()).collect()), asked: RefCell::default() }
    }
}

impl Logs for FakeLogs {
    async fn last_lines(&self, group: &str, stream: &str, limit: i32) -> Result<Vec<String>, ApiError> {
        assert_eq!(limit, super::migrate::LOG_LINES);
        self.asked.borrow_mut().push((group.to_owned(), stream.to_owned()));
        self.answer.clone()
    }
}

/// How an UpdateService call goes wrong.
enum Fault {
    /// AWS answers with a refusal (not transient): nothing changed.
    Refused,
    /// No answer (timeout); the update took effect or not.
    Lost { applied: bool },
}

#[derive(Default)]
struct FakeClock {
    now: Cell<Duration>,
    sleeps: RefCell<Vec<Duration>>,
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        self.now.get()
    }
    async fn sleep(&self, d: Duration) {
        self.sleeps.borrow_mut().push(d);
        self.now.set(self.now.get() + d);
    }
}

#[derive(Default)]
struct Recorder {
    lines: Vec<String>,
    statuses: Vec<String>,
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
    fn text(&self) -> String {
        self.lines.join("\n")
    }
}

fn plan() -> Plan {
    Plan {
        env: "dev".into(),
        family: "rdeploy-dev-app".into(),
        cluster: "rdeploy-dev-cluster".into(),
        service: "rdeploy-dev-app".into(),
        image: IMAGE_NEW.into(),
        version: "bbbbbbb".into(),
        dry_run: false,
        no_wait: false,
        local: false,
        keep: None,
        timeout: Duration::from_secs(900),
        rollback_timeout: Duration::from_secs(600),
        poll_interval: Duration::from_secs(10),
        migration: Migration::Skip("no migration task: no database".into()),
    }
}

/// A deployment: `d("n", "PRIMARY", NEW, InProgress, running, desired, failed)`.
fn d(
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
fn svc(td: &str, deployments: Vec<Deployment>, events: &[(&str, &str)]) -> Answer {
    let timed: Vec<(&str, i64, &str)> = events.iter().enumerate().map(|(i, (id, m))| (*id, i as i64, *m)).collect();
    svc_at(td, 2, deployments, &timed)
}

/// A DescribeServices answer with the service's desiredCount and events with their own createdAt,
/// listed newest first as ECS does (so a late event with an early createdAt sorts below newer ones).
fn svc_at(td: &str, desired: i32, deployments: Vec<Deployment>, events: &[(&str, i64, &str)]) -> Answer {
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

use DeploymentRolloutState::{Completed, Failed, InProgress};

/// The service before the deploy: steady on OLD, with an old event that must not be printed.
fn steady_old() -> Answer {
    svc(OLD, vec![d("o", "PRIMARY", OLD, Completed, 2, 2, 0)], &[("old-1", "old news")])
}

fn exit_code(err: &anyhow::Error) -> u8 {
    err.downcast_ref::<Exit>().unwrap_or_else(|| panic!("not an Exit: {err:#}")).code
}

async fn run(ecs: &FakeEcs, plan: &Plan) -> (anyhow::Result<Outcome>, Recorder, FakeClock) {
    let clock = FakeClock::default();
    let mut ui = Recorder::default();
    let result = deploy(ecs, &FakeLogs::lines(&[]), &clock, &mut ui, plan).await;
    (result, ui, clock)
}

#[tokio::test]
async fn happy_path_registers_one_faithful_revision_and_succeeds() {
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![
            svc(NEW, vec![d("n", "PRIMARY", NEW, InProgress, 0, 2, 0), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)], &[]),
            svc(NEW, vec![d("n", "PRIMARY", NEW, InProgress, 2, 2, 0), d("o", "ACTIVE", OLD, Completed, 0, 0, 0)], &[]),
            svc(NEW, vec![d("n", "PRIMARY", NEW, Completed, 2, 2, 0)], &[]),
        ],
    ]);
    let (result, ui, clock) = run(&ecs, &plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()]);
    let registered = ecs.registered.borrow();
    assert_eq!(registered.len(), 1);
    let (def, tags) = &registered[0];
    assert_eq!(tags, &ecs.current.1, "tags copied");
    assert_eq!(super::taskdef::diff(&ecs.current.0, def).len(), 2, "only image and APP_VERSION change");
    let text = ui.text();
    assert!(text.contains(&format!("- {IMAGE_OLD}")) && text.contains(&format!("+ {IMAGE_NEW}")), "{text}");
    assert!(text.contains("Deployed"), "{text}");
    assert_eq!(*clock.sleeps.borrow(), vec![Duration::from_secs(10); 2]);
}

#[tokio::test]
async fn slow_progress_then_completed_respects_the_poll_interval() {
    let mut progress: Vec<Answer> = (0..20)
        .map(|i| {
            svc(
                NEW,
                vec![d("n", "PRIMARY", NEW, InProgress, i / 10, 2, 0), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)],
                &[],
            )
        })
        .collect();
    progress.push(svc(NEW, vec![d("n", "PRIMARY", NEW, Completed, 2, 2, 0)], &[]));
    let ecs = FakeEcs::new(vec![vec![steady_old()], progress]);
    let mut p = plan();
    p.poll_interval = Duration::from_secs(7);
    let (result, ui, clock) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    // 20 waits of exactly the poll interval, in fake time: the test itself does not sleep.
    assert_eq!(*clock.sleeps.borrow(), vec![Duration::from_secs(7); 20]);
    assert_eq!(clock.now.get(), Duration::from_secs(140));
    assert!(ui.statuses.iter().any(|s| s.contains("running 1/2")), "{:?}", ui.statuses);
}

#[tokio::test]
async fn rollout_failed_rolls_back_ourselves_and_exits_1_with_diagnostics() {
    let mut ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![svc(
            NEW,
            vec![d("n", "PRIMARY", NEW, Failed, 0, 2, 3), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)],
            &[("e1", "has started 2 tasks"), ("e2", "deployment failed: tasks failed to start")],
        )],
        vec![
            svc(OLD, vec![d("b", "PRIMARY", OLD, InProgress, 1, 2, 0), d("n", "ACTIVE", NEW, Failed, 0, 0, 3)], &[]),
            svc(OLD, vec![d("b", "PRIMARY", OLD, Completed, 2, 2, 0)], &[]),
        ],
    ]);
    ecs.stopped = vec![
        Task::builder()
            .task_arn("arn:aws:ecs:r:1:task/c/abc123")
            .task_definition_arn(NEW)
            .stopped_reason("Essential container in task exited")
            .stopped_at(DateTime::from_secs(100))
            .containers(Container::builder().name("app").exit_code(101).reason("panicked").build())
            .build(),
        Task::builder()
            .task_arn("arn:aws:ecs:r:1:task/c/other")
            .task_definition_arn(OLD)
            .stopped_reason("scaled in")
            .build(),
    ];
    let (result, ui, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(err.to_string().contains("FAILED") && err.to_string().contains("back on the previous revision"), "{err}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned(), OLD.to_owned()], "our own rollback to OLD");
    let text = ui.text();
    assert!(text.contains("Last service events:") && text.contains("deployment failed"), "{text}");
    assert!(text.contains("task abc123") && text.contains("exit 101 (panicked)"), "{text}");
    assert!(!text.contains("scaled in"), "only tasks of the failed revision: {text}");
}

#[tokio::test]
async fn circuit_breaker_rollback_exits_1_never_0() {
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![
            svc(NEW, vec![d("n", "PRIMARY", NEW, InProgress, 0, 2, 1), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)], &[]),
            // The circuit breaker: OLD is PRIMARY again, our deployment FAILED.
            svc(NEW, vec![d("r", "PRIMARY", OLD, InProgress, 2, 2, 0), d("n", "ACTIVE", NEW, Failed, 0, 0, 3)], &[]),
            // The rollback settles: steady, on the old revision. Must still not be a success.
            svc(OLD, vec![d("r", "PRIMARY", OLD, Completed, 2, 2, 0)], &[]),
        ],
    ]);
    let (result, ui, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(err.to_string().contains("rolled the service back"), "{err}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "ECS rolled back; we issue no UpdateService of our own");
    assert!(ui.text().contains("ECS is already rolling back"), "{}", ui.text());
}

#[tokio::test]
async fn timeout_rolls_back_and_exits_3() {
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![svc(
            NEW,
            vec![d("n", "PRIMARY", NEW, InProgress, 1, 2, 0), d("o", "ACTIVE", OLD, Completed, 1, 1, 0)],
            &[],
        )],
        vec![
            svc(
                OLD,
                vec![d("b", "PRIMARY", OLD, InProgress, 1, 2, 0), d("n", "ACTIVE", NEW, InProgress, 1, 1, 0)],
                &[],
            ),
            svc(OLD, vec![d("b", "PRIMARY", OLD, Completed, 2, 2, 0)], &[]),
        ],
    ]);
    let mut p = plan();
    p.timeout = Duration::from_secs(45);
    let (result, _, clock) = run(&ecs, &p).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 3, "{err:#}");
    assert!(err.to_string().contains("timed out after 45s"), "{err}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned(), OLD.to_owned()]);
    // 10, 10, 10, 10, then the last 5 s up to the deadline (never past it), then one rollback poll.
    let sleeps: Vec<u64> = clock.sleeps.borrow().iter().map(Duration::as_secs).collect();
    assert_eq!(sleeps, vec![10, 10, 10, 10, 5, 10]);
}

#[tokio::test]
async fn a_failed_rollback_update_exits_4() {
    let mut ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![svc(NEW, vec![d("n", "PRIMARY", NEW, Failed, 0, 2, 3), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)], &[])],
    ]);
    ecs.fail_update_from = Some(2);
    let (result, _, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    assert!(
        err.to_string().contains("ROLLBACK FAILED") && err.to_string().contains("Look at the service now"),
        "{err}"
    );
}

#[tokio::test]
async fn a_rollback_that_does_not_recover_exits_4() {
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![svc(
            NEW,
            vec![d("n", "PRIMARY", NEW, InProgress, 0, 2, 2), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)],
            &[],
        )],
        // The previous revision fails too now (e.g. a dependency broke).
        vec![svc(OLD, vec![d("b", "PRIMARY", OLD, Failed, 0, 2, 3), d("n", "ACTIVE", NEW, InProgress, 0, 0, 2)], &[])],
    ]);
    let (result, _, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    assert!(err.to_string().contains("did not settle on rdeploy-dev-app:4"), "{err}");
}

#[tokio::test]
async fn rising_failed_tasks_fail_before_the_circuit_breaker() {
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![
            svc(NEW, vec![d("n", "PRIMARY", NEW, InProgress, 0, 2, 0), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)], &[]),
            svc(NEW, vec![d("n", "PRIMARY", NEW, InProgress, 0, 2, 1), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)], &[]),
            svc(NEW, vec![d("n", "PRIMARY", NEW, InProgress, 0, 2, 2), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)], &[]),
        ],
        vec![svc(OLD, vec![d("b", "PRIMARY", OLD, Completed, 2, 2, 0)], &[])],
    ]);
    let (result, _, clock) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(err.to_string().contains("failedTasks rose from 0 to 2"), "{err}");
    assert_eq!(clock.now.get(), Duration::from_secs(20), "detected on the third poll, not at the timeout");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned(), OLD.to_owned()]);
}

#[tokio::test]
async fn each_event_is_printed_once_and_old_events_never() {
    let e1 = ("e1", "has started 1 tasks: (task a)");
    let e2 = ("e2", "has started 1 tasks: (task b)");
    let e3 = ("e3", "has reached a steady state.");
    let deps = || vec![d("n", "PRIMARY", NEW, InProgress, 1, 2, 0), d("o", "ACTIVE", OLD, Completed, 1, 1, 0)];
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![
            svc(NEW, deps(), &[("old-1", "old news"), e1]),
            svc(NEW, deps(), &[("old-1", "old news"), e1, e2]),
            svc(NEW, deps(), &[("old-1", "old news"), e1, e2]),
            svc(NEW, vec![d("n", "PRIMARY", NEW, Completed, 2, 2, 0)], &[("old-1", "old news"), e1, e2, e3]),
        ],
    ]);
    let (result, ui, _) = run(&ecs, &plan()).await;
    result.unwrap();
    for (_, msg) in [e1, e2, e3] {
        assert_eq!(ui.lines.iter().filter(|l| l.contains(msg)).count(), 1, "{msg}: {:#?}", ui.lines);
    }
    assert!(!ui.text().contains("old news"), "events from before the deploy are not news");
    let order: Vec<usize> =
        [e1, e2, e3].iter().map(|(_, m)| ui.lines.iter().position(|l| l.contains(m)).unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "oldest first");
}

#[tokio::test]
async fn the_image_already_serving_is_a_no_op() {
    let ecs = FakeEcs::new(vec![vec![steady_old()]]);
    let mut p = plan();
    p.image = IMAGE_OLD.into();
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::AlreadyServing { revision: OLD.into() });
    assert!(ecs.registered.borrow().is_empty() && ecs.updates.borrow().is_empty());
    assert!(ui.text().contains("nothing to do"), "{}", ui.text());
}

#[tokio::test]
async fn dry_run_shows_the_diff_and_registers_nothing() {
    let ecs = FakeEcs::new(vec![vec![steady_old()]]);
    let mut p = plan();
    p.dry_run = true;
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::DryRun);
    assert!(ecs.registered.borrow().is_empty() && ecs.updates.borrow().is_empty());
    let text = ui.text();
    assert!(text.contains("environment.APP_VERSION\n    - aaaaaaa\n    + bbbbbbb"), "{text}");
    assert!(!text.contains("RUST_LOG") && !text.contains("cpu"), "unchanged fields are not shown: {text}");
}

#[tokio::test]
async fn configuration_errors_exit_2_and_change_nothing() {
    let cases: Vec<(Answer, &str)> = vec![
        (Ok(ServiceLookup::Missing { reason: "MISSING".into() }), "service 'rdeploy-dev-app' not found in cluster"),
        (
            Err(ApiError::new(ApiErrorKind::ClusterNotFound, "DescribeServices", "ClusterNotFoundException")),
            "ECS cluster 'rdeploy-dev-cluster' not found",
        ),
        (Err(ApiError::new(ApiErrorKind::AccessDenied, "DescribeServices", "")), "access denied"),
        (Err(ApiError::new(ApiErrorKind::Credentials, "DescribeServices", "")), "no usable AWS credentials"),
        (Err(ApiError::new(ApiErrorKind::Unreachable, "DescribeServices", "")), "cannot reach"),
        (
            svc(
                OLD,
                vec![d("o", "PRIMARY", OLD, InProgress, 1, 2, 0), d("x", "ACTIVE", OTHER, Completed, 2, 2, 0)],
                &[],
            ),
            "already has a deployment in progress",
        ),
    ];
    for (answer, expected) in cases {
        let ecs = FakeEcs::new(vec![vec![answer]]);
        let (result, _, _) = run(&ecs, &plan()).await;
        let err = result.unwrap_err();
        assert_eq!(exit_code(&err), 2, "{err:#}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
        assert!(ecs.registered.borrow().is_empty() && ecs.updates.borrow().is_empty());
    }
}

#[tokio::test]
async fn local_stops_after_verifying_the_update_without_waiting() {
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        // The emulator: the service points at NEW, the deployment never moves.
        vec![svc(NEW, vec![d("o", "PRIMARY", OLD, InProgress, 0, 1, 0)], &[])],
    ]);
    let mut p = plan();
    p.local = true;
    let (result, ui, clock) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::Unwatched { revision: NEW.into() });
    assert!(ui.text().contains("emulator runs no tasks"), "{}", ui.text());
    assert!(clock.sleeps.borrow().is_empty(), "no waiting at all");
    assert_eq!(ecs.describes.get(), 2);
}

#[tokio::test]
async fn no_wait_does_not_poll() {
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![]]);
    let mut p = plan();
    p.no_wait = true;
    let (result, _, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::Unwatched { revision: NEW.into() });
    assert_eq!(ecs.describes.get(), 1);
}

#[tokio::test]
async fn a_third_revision_is_not_rolled_back_over() {
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![svc(
            OTHER,
            vec![d("x", "PRIMARY", OTHER, InProgress, 0, 2, 0), d("n", "ACTIVE", NEW, InProgress, 1, 1, 0)],
            &[],
        )],
    ]);
    let (result, _, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "no rollback over someone else's deploy");
}

#[tokio::test]
async fn keep_deregisters_older_revisions_after_success_only() {
    let arn = |n: u32| format!("arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:{n}");
    let mut ecs =
        FakeEcs::new(vec![vec![steady_old()], vec![svc(NEW, vec![d("n", "PRIMARY", NEW, Completed, 2, 2, 0)], &[])]]);
    ecs.active = (1..=5).map(arn).collect();
    let mut p = plan();
    p.keep = Some(2);
    let (result, _, _) = run(&ecs, &p).await;
    result.unwrap();
    assert_eq!(*ecs.deregistered.borrow(), vec![arn(3), arn(2), arn(1)]);
}

#[test]
fn prune_never_touches_the_serving_revision() {
    let arns: Vec<String> =
        ["f:10", "f:9", "f:11", "f:2"].iter().map(|s| format!("arn:x:task-definition/{s}")).collect();
    assert_eq!(prune_list(&arns, 2, "arn:x:task-definition/f:11"), vec![arns[1].clone(), arns[3].clone()]);
    // Serving an older revision (e.g. after a rollback): it is kept even beyond N.
    assert_eq!(prune_list(&arns, 1, "arn:x:task-definition/f:9"), vec![arns[0].clone(), arns[3].clone()]);
}

#[test]
fn stopped_tasks_show_newest_first_with_container_exits() {
    let t = |id: &str, at: i64| {
        Task::builder()
            .task_arn(format!("arn:t/{id}"))
            .task_definition_arn(NEW)
            .stopped_at(DateTime::from_secs(at))
            .stopped_reason("Task failed ELB health checks")
            .containers(Container::builder().name("app").build())
            .build()
    };
    let lines = stopped_task_lines(&[t("old", 1), t("new", 2)], NEW);
    assert!(lines[0].starts_with("task new") && lines[1].starts_with("task old"), "{lines:?}");
    assert!(lines[0].contains("ELB health checks; container app exit -"), "{lines:?}");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
    assert_eq!(parse_duration("600s"), Ok(Duration::from_secs(600)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
    assert!(parse_duration("15x").is_err() && parse_duration("m").is_err() && parse_duration("10m5").is_err());
    assert_eq!(human(Duration::from_secs(5400)), "1h30m");
    assert_eq!(human(Duration::from_secs(45)), "45s");
}

/// ECR with one known tag.
struct FakeEcr {
    calls: Cell<u32>,
}

impl Ecr for FakeEcr {
    async fn image_digest(&self, repository: &str, tag: &str) -> Result<Option<String>, ApiError> {
        self.calls.set(self.calls.get() + 1);
        assert_eq!(repository, "rdeploy-prod-app");
        Ok((tag == "abc1234").then(|| format!("sha256:{}", "f".repeat(64))))
    }
}

#[tokio::test]
async fn prod_images_must_be_immutable() {
    let env = Env::parse("prod", "project = \"rdeploy\"\nenvironment = \"prod\"\nregion = \"eu-west-1\"\n").unwrap();
    let ecr = FakeEcr { calls: Cell::new(0) };
    let registry = "1.dkr.ecr.eu-west-1.amazonaws.com";

    // A digest is immutable by itself: no lookup.
    let mut pinned = ImageRef::parse(&format!("{registry}/anything@sha256:{}", "a".repeat(64))).unwrap();
    ensure_immutable(&ecr, &env, &mut pinned).await.unwrap();
    assert_eq!(ecr.calls.get(), 0);

    // A tag that exists in the env's ECR repository is pinned to its digest.
    let mut tagged = ImageRef::parse(&format!("{registry}/rdeploy-prod-app:abc1234")).unwrap();
    ensure_immutable(&ecr, &env, &mut tagged).await.unwrap();
    assert_eq!(tagged.reference(), format!("{registry}/rdeploy-prod-app@sha256:{}", "f".repeat(64)));
    assert_eq!(tagged.version(), "abc1234");

    for (uri, expected) in [
        (format!("{registry}/rdeploy-prod-app:nope"), "does not exist in ECR repository rdeploy-prod-app"),
        (format!("{registry}/other-repo:abc1234"), "not in the environment's ECR repository"),
        (format!("{registry}/rdeploy-prod-app"), "neither an @sha256: digest nor a tag"),
    ] {
        let err = ensure_immutable(&ecr, &env, &mut ImageRef::parse(&uri).unwrap()).await.unwrap_err();
        assert_eq!(exit_code(&err), 2, "{err:#}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
}

fn rev(n: i32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:{n}")
}

/// What `terraform apply` registers after a tfvars change: revision `n` of the family with the
/// bootstrap image, more memory and a new variable, tagged by Terraform.
fn terraform_revision(n: i32) -> (TaskDefinition, Vec<Tag>) {
    let mut def = sample("1.dkr.ecr.us-east-1.amazonaws.com/rdeploy-dev-app:bootstrap", Some("bootstrap"));
    def.task_definition_arn = Some(rev(n));
    def.revision = n;
    def.memory = Some("1024".into());
    let app = def.container_definitions.as_mut().unwrap().iter_mut().find(|c| c.name() == Some("app")).unwrap();
    app.environment
        .as_mut()
        .unwrap()
        .push(aws_sdk_ecs::types::KeyValuePair::builder().name("TRUSTED_PROXY_HOPS").value("1").build());
    let tags = vec![
        Tag::builder().key("Project").value("rdeploy").build(),
        Tag::builder().key("ManagedBy").value("terraform").build(),
    ];
    (def, tags)
}

/// A steady rollout of `revision`: the answers after UpdateService.
fn rollout_to(revision: &str) -> Vec<Answer> {
    vec![
        svc(
            revision,
            vec![d("n", "PRIMARY", revision, InProgress, 1, 2, 0), d("o", "ACTIVE", OLD, Completed, 1, 1, 0)],
            &[],
        ),
        svc(revision, vec![d("n", "PRIMARY", revision, Completed, 2, 2, 0)], &[]),
    ]
}

#[tokio::test]
async fn terraform_changes_reach_the_service_and_the_diff_shows_them() {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()], rollout_to(&rev(7))]);
    ecs.newer = vec![terraform_revision(6)];
    let (result, ui, _) = run(&ecs, &plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: rev(7) });
    assert_eq!(*ecs.described.borrow(), vec![OLD.to_owned(), "rdeploy-dev-app".to_owned()], "serving, then the family");
    assert_eq!(*ecs.updates.borrow(), vec![rev(7)]);
    let registered = ecs.registered.borrow();
    let (def, tags) = &registered[0];
    // Terraform's configuration, our image and version: nothing else of revision 6 changed.
    assert_eq!(def.memory(), Some("1024"));
    assert_eq!(super::taskdef::app_image(def).unwrap(), IMAGE_NEW);
    assert_eq!(super::taskdef::diff(&ecs.newer[0].0, def).len(), 2, "only image and APP_VERSION differ from rev 6");
    assert_eq!(tags, &ecs.newer[0].1, "the newest revision's tags");
    let text = ui.text();
    for expected in [
        "serving revision 4; the next revision is built from revision 6 (the family's newest) with only the image and \
         APP_VERSION replaced",
        "revision 6 is the family's newest",
        "Changes from the serving revision 4:",
        "memory\n    - 512\n    + 1024",
        "environment.TRUSTED_PROXY_HOPS\n    - (unset)\n    + 1",
        &format!("image\n    - {IMAGE_OLD}\n    + {IMAGE_NEW}"),
    ] {
        assert!(text.contains(expected), "{expected}\n---\n{text}");
    }
    assert!(!text.contains("other fields differ") && !text.contains("bootstrap"), "{text}");
}

#[tokio::test]
async fn a_newer_revision_registered_by_a_failed_deploy_changes_only_the_image() {
    // Revision 5 was registered by a deploy that rolled back: same configuration, another image.
    let mut failed = ecs_revision(5, "1.dkr.ecr.us-east-1.amazonaws.com/rdeploy-dev-app:ccccccc");
    failed.0.registered_by = Some("arn:aws:sts::1:assumed-role/deploy/ci".into());
    let mut ecs = FakeEcs::new(vec![vec![steady_old()], rollout_to(&rev(6))]);
    ecs.newer = vec![failed];
    let (result, ui, _) = run(&ecs, &plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: rev(6) });
    let text = ui.text();
    assert!(
        text.contains("revision 5 is the family's newest") && text.contains("by arn:aws:sts::1:assumed-role/deploy/ci"),
        "{text}"
    );
    let changes: Vec<&String> = ui
        .lines
        .iter()
        .filter(|l| l.starts_with("  containerDefinitions") || l.starts_with("  cpu") || l.starts_with("  memory"))
        .collect();
    assert_eq!(changes.len(), 2, "image and APP_VERSION only: {changes:?}");
}

#[tokio::test]
async fn the_same_image_with_a_newer_terraform_revision_is_deployed_not_skipped() {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()], rollout_to(&rev(7))]);
    ecs.newer = vec![terraform_revision(6)];
    let mut p = plan();
    p.image = IMAGE_OLD.into();
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: rev(7) });
    assert!(!ui.text().contains("nothing to do"), "{}", ui.text());
    assert!(ui.text().contains("memory\n    - 512\n    + 1024"), "{}", ui.text());
}

#[tokio::test]
async fn a_service_on_another_family_is_refused_before_any_change() {
    let ecs = FakeEcs::new(vec![vec![steady_old()]]);
    let mut p = plan();
    p.family = "rdeploy-dev-other".into();
    let (result, _, _) = run(&ecs, &p).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    assert!(err.to_string().contains("runs task definition family 'rdeploy-dev-app'"), "{err}");
    assert!(ecs.registered.borrow().is_empty() && ecs.updates.borrow().is_empty());
}

/// Revision `n` of the family: the serving configuration with another image.
fn ecs_revision(n: i32, image: &str) -> (TaskDefinition, Vec<Tag>) {
    let mut def = sample(image, Some("ccccccc"));
    def.task_definition_arn = Some(rev(n));
    def.revision = n;
    (def, vec![Tag::builder().key("Project").value("rdeploy").build()])
}

// ---------------------------------------------------------------------------------------------
// Issue #14: each false report, through the public entry point. Each test names the polls from
// the first evidence to the verdict where that is the point.

/// The pre-deploy answer: steady on OLD with the service's desiredCount.
fn steady_old_with(desired: i32) -> Answer {
    svc_at(OLD, desired, vec![d("o", "PRIMARY", OLD, Completed, desired, desired, 0)], &[(("old-1"), 0, "old news")])
}

fn rolling(running: i32, failed: i32) -> Answer {
    svc(
        NEW,
        vec![d("n", "PRIMARY", NEW, InProgress, running, 2, failed), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)],
        &[],
    )
}

fn settled(td: &str) -> Answer {
    svc(td, vec![d("s", "PRIMARY", td, Completed, 2, 2, 0)], &[])
}

fn last_line(err: &anyhow::Error) -> String {
    err.to_string()
}

// Case 1: desiredCount 0.

#[tokio::test]
async fn case1_a_service_scaled_to_zero_is_refused_before_any_change() {
    // What ECS would show if we went ahead: COMPLETED, 0 of 0 running. Today that was "Deployed".
    let ecs = FakeEcs::new(vec![
        vec![steady_old_with(0)],
        vec![svc_at(NEW, 0, vec![d("n", "PRIMARY", NEW, Completed, 0, 0, 0)], &[])],
    ]);
    let (result, ui, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    assert!(
        last_line(&err).contains("scaled to zero (desiredCount 0)") && last_line(&err).contains("Nothing changed"),
        "{err}"
    );
    assert!(
        ecs.registered.borrow().is_empty() && ecs.updates.borrow().is_empty(),
        "no RegisterTaskDefinition, no UpdateService"
    );
    assert!(!ui.text().contains("Deployed"), "{}", ui.text());
}

#[tokio::test]
async fn case1_scaled_to_zero_during_the_rollout_is_never_success() {
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![rolling(1, 0), svc_at(NEW, 0, vec![d("n", "PRIMARY", NEW, Completed, 0, 0, 0)], &[])],
    ]);
    let (result, ui, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    assert!(last_line(&err).contains("scaled to zero") && last_line(&err).contains("nothing serves it"), "{err}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "no rollback over someone's scale-down");
    assert!(!ui.text().contains("Deployed"), "{}", ui.text());
}

#[tokio::test]
async fn case1_no_wait_may_point_a_scaled_down_service_and_says_nothing_serves() {
    let ecs = FakeEcs::new(vec![vec![steady_old_with(0)], vec![]]);
    let mut p = plan();
    p.no_wait = true;
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::Unwatched { revision: NEW.into() });
    assert!(ui.text().contains("scaled to zero (desiredCount 0): nothing serves rdeploy-dev-app:5"), "{}", ui.text());
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()]);
}

// Case 2: API lag after our own rollback (and after our update).

#[tokio::test]
async fn case2_lag_after_our_rollback_is_waited_out_not_called_a_failed_rollback() {
    let mut ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![rolling(0, 0), rolling(0, 2)],
        vec![svc(OLD, vec![d("b", "PRIMARY", OLD, Completed, 2, 2, 0)], &[])],
    ]);
    // Our update shows one poll late; our rollback shows two polls late (the failed revision
    // still reads as PRIMARY meanwhile).
    ecs.lag = vec![1, 2];
    let (result, ui, clock) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(last_line(&err).contains("back on the previous revision rdeploy-dev-app:4"), "{err}");
    assert!(!last_line(&err).contains("ROLLBACK"), "{err}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned(), OLD.to_owned()], "one rollback, not two");
    // Forward: stale, 0 failed, 2 failed (verdict). Rollback: stale, stale, settled (verdict).
    assert_eq!(ecs.describes.get(), 1 + 3 + 3);
    assert!(
        ui.statuses.iter().any(|s| s.contains("waiting for ECS to show the update to rdeploy-dev-app:4")),
        "{:?}",
        ui.statuses
    );
    assert_eq!(clock.now.get(), Duration::from_secs(40));
}

// Case 3: a no-op only on a settled service.

#[tokio::test]
async fn case3_the_same_image_crash_looping_is_watched_not_a_no_op() {
    let sick = |failed| svc(OLD, vec![d("o", "PRIMARY", OLD, InProgress, 0, 2, failed)], &[]);
    let ecs = FakeEcs::new(vec![vec![sick(1), sick(1), sick(2)]]);
    let mut p = plan();
    p.image = IMAGE_OLD.into();
    let (result, ui, _) = run(&ecs, &p).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    assert!(last_line(&err).contains("failedTasks rose from 0 to 2"), "{err}");
    assert!(last_line(&err).contains("no previous revision in the service to go back to"), "{err}");
    assert!(ecs.registered.borrow().is_empty() && ecs.updates.borrow().is_empty());
    assert!(!ui.text().contains("nothing to do"), "{}", ui.text());
    assert!(ui.text().contains("not settled (rdeploy-dev-app:4: running 0/2"), "{}", ui.text());
}

#[tokio::test]
async fn case3_a_rollout_of_the_same_image_already_under_way_is_watched_to_its_end() {
    let three = "arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:3";
    let under_way =
        svc(OLD, vec![d("o", "PRIMARY", OLD, InProgress, 1, 2, 0), d("t", "ACTIVE", three, Completed, 1, 1, 0)], &[]);
    let ecs = FakeEcs::new(vec![vec![under_way.clone(), under_way, settled(OLD)]]);
    let mut p = plan();
    p.image = IMAGE_OLD.into();
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: OLD.into() });
    assert!(ecs.registered.borrow().is_empty() && ecs.updates.borrow().is_empty());
    assert!(ui.text().contains("watching it like any rollout"), "{}", ui.text());
}

// Case 4: name a cause only with evidence.

#[tokio::test]
async fn case4_a_revert_by_someone_else_is_not_blamed_on_the_circuit_breaker() {
    // Someone points the service back at OLD: a new deployment of OLD, no failure, no event.
    let reverted =
        svc(OLD, vec![d("x", "PRIMARY", OLD, InProgress, 2, 2, 0), d("n", "ACTIVE", NEW, InProgress, 1, 0, 0)], &[]);
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![rolling(1, 0), reverted]]);
    let (result, _, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    let text = last_line(&err);
    assert!(text.contains("someone else changed it") && !text.contains("circuit breaker"), "{text}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "neither rolled back nor forward");
    // Polls: rolling, reverted (first evidence), +1, +2 = verdict after EVIDENCE_GRACE_POLLS.
    assert_eq!(ecs.describes.get(), 1 + 4);
}

#[tokio::test]
async fn case4_ecs_never_showing_the_update_is_unobserved_not_a_rollback() {
    // The service keeps its earlier deployment; nothing mentions ours.
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![steady_old()]]);
    let (result, _, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 5, "{err:#}");
    assert!(last_line(&err).contains("ECS never showed the update to rdeploy-dev-app:5"), "{err}");
    assert!(last_line(&err).contains("nothing was rolled back"), "{err}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()]);
    assert_eq!(ecs.describes.get(), 1 + super::decide::NOT_SEEN_GRACE_POLLS);
}

#[tokio::test]
async fn case4_a_circuit_breaker_event_that_arrives_late_and_out_of_order_names_the_cause() {
    let back = |events: &[(&str, i64, &str)]| {
        svc_at(
            OLD,
            2,
            vec![d("o", "PRIMARY", OLD, InProgress, 2, 2, 0), d("n", "ACTIVE", NEW, InProgress, 0, 0, 0)],
            events,
        )
    };
    let started = ("st", 20, "(service rdeploy-dev-app) has started 1 tasks: (task b).");
    let failed =
        ("cb", 10, "(service rdeploy-dev-app) (deployment ecs-svc/n) deployment failed: tasks failed to start.");
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![rolling(0, 1), back(&[started]), back(&[failed, started]), settled(OLD)],
    ]);
    let (result, ui, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(
        last_line(&err).contains("ECS rolled the service back to rdeploy-dev-app:4")
            && last_line(&err).contains("deployment failed: tasks failed to start"),
        "{err}"
    );
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "ECS rolled back; no UpdateService of ours");
    // The report lists events by their createdAt, not by arrival.
    let report = ui.text();
    let report = &report[report.find("Last service events:").unwrap()..];
    assert!(report.find("deployment failed").unwrap() < report.find("has started 1 tasks").unwrap(), "{report}");
}

// Case 5: an UpdateService whose answer is lost.

#[tokio::test]
async fn case5_an_update_that_timed_out_but_took_effect_is_watched() {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()], vec![settled(NEW)]]);
    ecs.faults = RefCell::new(VecDeque::from([Some(Fault::Lost { applied: true })]));
    let (result, ui, _) = run(&ecs, &plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "not sent twice");
    assert!(ui.text().contains("It did: the service points at rdeploy-dev-app:5"), "{}", ui.text());
}

#[tokio::test]
async fn case5_an_update_that_timed_out_without_effect_is_tried_again() {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()], vec![settled(NEW)]]);
    ecs.faults = RefCell::new(VecDeque::from([Some(Fault::Lost { applied: false })]));
    let (result, _, _) = run(&ecs, &plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned(), NEW.to_owned()]);
}

#[tokio::test]
async fn case5_updates_that_never_take_effect_change_nothing_and_say_so() {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()]]);
    ecs.faults =
        RefCell::new(VecDeque::from([Some(Fault::Lost { applied: false }), Some(Fault::Lost { applied: false })]));
    let (result, _, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    assert!(last_line(&err).contains("still points at rdeploy-dev-app:4: nothing changed"), "{err}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned(), NEW.to_owned()]);
}

#[tokio::test]
async fn case5_a_lost_update_and_an_unreadable_service_is_unknown_not_nothing_changed() {
    let lost = || Err(ApiError::new(ApiErrorKind::Unreachable, "DescribeServices", "timed out"));
    let mut ecs = FakeEcs::new(vec![vec![steady_old(), lost()]]);
    ecs.faults = RefCell::new(VecDeque::from([Some(Fault::Lost { applied: false })]));
    let (result, _, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 5, "{err:#}");
    assert!(last_line(&err).contains("may or may not point at rdeploy-dev-app:5"), "{err}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()]);
}

#[tokio::test]
async fn case5_a_refused_update_changes_nothing() {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()]]);
    ecs.faults = RefCell::new(VecDeque::from([Some(Fault::Refused)]));
    let (result, _, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    assert!(
        last_line(&err).contains("UpdateService was refused") && last_line(&err).contains("Nothing changed"),
        "{err}"
    );
    assert_eq!(ecs.describes.get(), 1, "a refusal needs no check");
}

// Case 6: placement failures.

#[tokio::test]
async fn case6_placement_failures_fail_fast_quoting_the_event() {
    let event = "(service rdeploy-dev-app) was unable to place a task. Reason: Capacity is unavailable at this time.";
    let stuck = svc_at(
        NEW,
        2,
        vec![d("n", "PRIMARY", NEW, InProgress, 0, 2, 0), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)],
        &[("p1", 5, event)],
    );
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![rolling(0, 0), stuck], vec![settled(OLD)]]);
    let (result, _, clock) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(
        last_line(&err).contains("ECS cannot place tasks of rdeploy-dev-app:5") && last_line(&err).contains(event),
        "{err}"
    );
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned(), OLD.to_owned()]);
    // rolling, first evidence, then PLACEMENT_POLLS more = verdict; then one rollback poll.
    assert_eq!(ecs.describes.get(), 1 + 2 + super::decide::PLACEMENT_POLLS + 1);
    assert_eq!(
        clock.now.get(),
        Duration::from_secs(10 * u64::from(1 + super::decide::PLACEMENT_POLLS)),
        "not the 15 min timeout"
    );
}

// Case 7: transient API errors.

#[tokio::test]
async fn case7_transient_errors_are_retried_with_backoff_and_a_healthy_rollout_succeeds() {
    let lost = || Err(ApiError::new(ApiErrorKind::Unreachable, "DescribeServices", "connection reset"));
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![rolling(1, 0), lost(), lost(), lost(), lost(), settled(NEW)]]);
    let (result, ui, clock) = run(&ecs, &plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "no rollback of a rollout nobody saw fail");
    let sleeps: Vec<u64> = clock.sleeps.borrow().iter().map(Duration::as_secs).collect();
    assert_eq!(sleeps, vec![10, 10, 20, 40, 60]);
    assert_eq!(ui.lines.iter().filter(|l| l.starts_with("warning: DescribeServices failed")).count(), 4);
}

#[tokio::test]
async fn case7_a_rollout_that_cannot_be_observed_is_reported_as_such_and_not_rolled_back() {
    let lost = || Err(ApiError::new(ApiErrorKind::Unreachable, "DescribeServices", "connection reset"));
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![rolling(1, 0), lost()]]);
    let (result, _, clock) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 5, "{err:#}");
    let text = last_line(&err);
    assert!(
        text.contains("could not observe the rollout of rdeploy-dev-app:5") && text.contains("nothing was rolled back"),
        "{text}"
    );
    assert!(text.contains("last seen: rdeploy-dev-app:5: running 1/2"), "{text}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "no UpdateService back");
    assert_eq!(clock.now.get(), Duration::from_secs(900), "retried up to the deadline");
}

#[tokio::test]
async fn case7_an_error_a_retry_cannot_fix_is_unobserved_at_once() {
    let expired = || Err(ApiError::new(ApiErrorKind::Credentials, "DescribeServices", "ExpiredTokenException"));
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![rolling(1, 0), expired()]]);
    let (result, _, clock) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 5, "{err:#}");
    assert!(last_line(&err).contains("retrying will not help"), "{err}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()]);
    assert_eq!(clock.now.get(), Duration::from_secs(10));
}

// Case 8: the smaller items.

#[test]
fn case8_keep_1_is_refused() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: super::DeployArgs,
    }
    let err = Cli::try_parse_from(["deploy", "--env", "dev", "--keep", "1"]).err().expect("--keep 1 refused");
    assert!(err.to_string().contains("1 is not in 2.."), "{err}");
    assert_eq!(Cli::try_parse_from(["deploy", "--env", "dev", "--keep", "2"]).unwrap().args.keep, Some(2));
}

#[tokio::test]
async fn case8_an_empty_tag_list_is_registered_as_no_tags() {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()], vec![settled(NEW)]]);
    ecs.current.1 = vec![];
    let (result, _, _) = run(&ecs, &plan()).await;
    result.unwrap();
    assert_eq!(ecs.registered.borrow()[0].1, Vec::<Tag>::new());
}

#[tokio::test]
async fn case8_a_failed_deploy_prunes_nothing() {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()], vec![rolling(0, 2)], vec![settled(OLD)]]);
    ecs.active = (1..=5).map(rev).collect();
    let mut p = plan();
    p.keep = Some(2);
    let (result, _, _) = run(&ecs, &p).await;
    assert_eq!(exit_code(&result.unwrap_err()), 1);
    assert_eq!(ecs.listed.get(), 0, "ListTaskDefinitions not even called");
    assert!(ecs.deregistered.borrow().is_empty(), "the failed and the previous revisions stay registered");
}

// Case 9: a real wall-clock budget.

#[tokio::test]
async fn case9_the_budget_is_printed_first_and_bounds_the_rollback_watch() {
    let slow = rolling(1, 0);
    let stuck_back =
        svc(OLD, vec![d("b", "PRIMARY", OLD, InProgress, 1, 2, 0), d("n", "ACTIVE", NEW, InProgress, 1, 1, 0)], &[]);
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![slow], vec![stuck_back]]);
    let (result, ui, clock) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    assert!(last_line(&err).contains("ROLLBACK NOT CONFIRMED"), "{err}");
    assert_eq!(
        ui.lines[0],
        "Time budget: the rollout is watched for up to 15m (--timeout), a rollback for up to 10m more \
         (--rollback-timeout): deploy ends within 25m"
    );
    assert_eq!(clock.now.get(), Duration::from_secs(1500), "15m watch + 10m rollback watch, not 30m");
}

#[test]
fn readme_lists_the_same_exit_codes_as_help() {
    use super::engine::code;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let codes = super::EXIT_CODES.split("\n\n").next().unwrap();
    assert!(readme.contains(codes), "README's deploy exit codes differ from EXIT_CODES:\n{codes}");
    for c in [0, code::ROLLED_BACK, code::USAGE, code::TIMED_OUT, code::LOOK_NOW, code::UNOBSERVED] {
        assert!(codes.contains(&format!("\n  {c}  ")), "exit code {c} is not documented:\n{codes}");
    }
    assert!(!codes.contains("\n  6  "), "a code that does not exist");
}

// Migrations: the one-off task before the rollout (#16).

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, LaunchType, LogConfiguration, LogDriver,
    NetworkConfiguration, TaskStopCode,
};

fn network() -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets("subnet-private-a")
                .subnets("subnet-private-b")
                .security_groups("sg-app")
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .unwrap(),
        )
        .build()
}

/// The service before the deploy, steady on OLD, in its private subnets on Fargate.
fn steady_in_vpc() -> Answer {
    let Ok(ServiceLookup::Found(service)) = steady_old() else { unreachable!() };
    let mut service = *service;
    service.network_configuration = Some(network());
    service.launch_type = Some(LaunchType::Fargate);
    service.platform_version = Some("1.4.0".into());
    Ok(ServiceLookup::Found(Box::new(service)))
}

/// ECS for a migration story: the serving revision logs with awslogs; RunTask starts TASK, which
/// DescribeTasks then shows as `described`, in order (the last repeats).
fn migrating(phases: Vec<Vec<Answer>>, described: Vec<Task>) -> FakeEcs {
    let mut ecs = FakeEcs::new(phases);
    let app = ecs.current.0.container_definitions.as_mut().unwrap().iter_mut().find(|c| c.name() == Some("app"));
    app.unwrap().log_configuration = Some(
        LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", "/ecs/rdeploy-dev-app")
            .options("awslogs-stream-prefix", "ecs")
            .build()
            .unwrap(),
    );
    ecs.run_answers = RefCell::new(VecDeque::from([Ok((vec![task("PROVISIONING", None, false, None)], vec![]))]));
    ecs.task_answers = RefCell::new(described.into_iter().map(|t| Ok((vec![t], vec![]))).collect());
    ecs
}

fn stopped(exit: Option<i32>, started: bool, code: TaskStopCode, reason: &str, container_reason: &str) -> Task {
    let mut t = task("STOPPED", exit, started, Some(code));
    t.stopped_reason = Some(reason.into());
    if !container_reason.is_empty() {
        t.containers.as_mut().unwrap()[0].reason = Some(container_reason.into());
    }
    t
}

fn exited(code: i32) -> Task {
    stopped(Some(code), true, TaskStopCode::EssentialContainerExited, "Essential container in task exited", "")
}

fn running() -> Task {
    task("RUNNING", None, true, None)
}

fn with_migration(timeout: u64) -> Plan {
    let mut p = plan();
    p.migration = Migration::Run {
        timeout: Duration::from_secs(timeout),
        poll_interval: Duration::from_secs(10),
        client_token: "token-1".into(),
    };
    p
}

async fn run_with_logs(ecs: &FakeEcs, logs: &FakeLogs, plan: &Plan) -> (anyhow::Result<Outcome>, Recorder, FakeClock) {
    let clock = FakeClock::default();
    let mut ui = Recorder::default();
    let result = deploy(ecs, logs, &clock, &mut ui, plan).await;
    (result, ui, clock)
}

#[tokio::test]
async fn migration_exit_0_then_the_rollout_happens() {
    let ecs = migrating(vec![vec![steady_in_vpc()], vec![settled(NEW)]], vec![running(), exited(0)]);
    let logs = FakeLogs::lines(&[]);
    let (result, ui, _) = run_with_logs(&ecs, &logs, &with_migration(600)).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    assert_eq!(
        *ecs.calls.borrow(),
        vec!["RegisterTaskDefinition", "RunTask", "DescribeTasks", "DescribeTasks", "UpdateService"],
        "the migration runs the registered revision, and only then the service is updated"
    );
    let runs = ecs.runs.borrow();
    let run = &runs[0];
    assert_eq!(run.task_definition, NEW, "the NEW revision runs the migration");
    assert_eq!((run.container.as_str(), run.command.clone()), ("app", vec!["migrate".to_owned()]));
    assert_eq!((run.started_by.as_str(), run.group.as_str()), ("rdeploy-migrate", "migrate"));
    assert_eq!(run.network, Some(network()), "the service's subnets, security group and assignPublicIp");
    assert_eq!(run.launch_type, Some(LaunchType::Fargate));
    assert!(run.capacity_provider_strategy.is_empty());
    assert_eq!(run.platform_version.as_deref(), Some("1.4.0"));
    assert_eq!(run.client_token, "token-1");
    let text = ui.text();
    assert!(text.contains("subnets subnet-private-a,subnet-private-b, security groups sg-app"), "{text}");
    assert!(text.contains("Migration task 0123abcd exited 0"), "{text}");
    assert!(
        ui.lines[0].starts_with("Time budget: the migration task runs for up to 10m (--migration-timeout), then"),
        "{}",
        ui.lines[0]
    );
    assert!(logs.asked.borrow().is_empty(), "no logs read on success");
}

#[tokio::test]
async fn a_failed_migration_leaves_the_service_untouched_and_shows_why_and_the_logs() {
    let failed =
        stopped(Some(1), true, TaskStopCode::EssentialContainerExited, "Essential container in task exited", "");
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![running(), failed]);
    let logs = FakeLogs::lines(&["applying 0003_add_index", "error: relation \"messages\" does not exist"]);
    let (result, ui, _) = run_with_logs(&ecs, &logs, &with_migration(600)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    let message = err.to_string();
    assert!(message.contains("the migration failed (exit code 1)"), "{message}");
    assert!(message.contains("stoppedReason: Essential container in task exited [stopCode EssentialContainerExited]"));
    assert!(message.contains("the service was not touched and still runs rdeploy-dev-app:4"), "{message}");
    assert!(ecs.updates.borrow().is_empty(), "no UpdateService");
    assert!(!ecs.calls.borrow().contains(&"UpdateService"));
    assert_eq!(
        *logs.asked.borrow(),
        vec![("/ecs/rdeploy-dev-app".to_owned(), "ecs/app/0123abcd".to_owned())],
        "the task's awslogs stream: <prefix>/app/<task-id>"
    );
    let text = ui.text();
    assert!(text.contains("  | error: relation \"messages\" does not exist"), "{text}");
}

#[tokio::test]
async fn unreadable_logs_are_said_and_the_failure_is_still_reported() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![exited(2)]);
    let logs = FakeLogs {
        answer: Err(ApiError::new(ApiErrorKind::AccessDenied, "GetLogEvents", "no logs:GetLogEvents")),
        asked: RefCell::default(),
    };
    let (result, ui, _) = run_with_logs(&ecs, &logs, &with_migration(600)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(err.to_string().contains("exit code 2"), "{err}");
    assert!(
        ui.text().contains("could not read the log lines of /ecs/rdeploy-dev-app ecs/app/0123abcd"),
        "{}",
        ui.text()
    );
}

#[tokio::test]
async fn a_migration_task_that_never_starts_changes_nothing_exit_2() {
    let pull = stopped(
        None,
        false,
        TaskStopCode::TaskFailedToStart,
        "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
        "",
    );
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![task("PENDING", None, false, None), pull]);
    let logs = FakeLogs::lines(&[]);
    let (result, _, _) = run_with_logs(&ecs, &logs, &with_migration(600)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    let message = err.to_string();
    assert!(message.contains("the migration task never started"), "{message}");
    assert!(message.contains("CannotPullContainerError") && message.contains("it never ran"), "{message}");
    assert!(ecs.updates.borrow().is_empty());
}

#[tokio::test]
async fn run_task_failures_are_a_task_that_never_started() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![]);
    let failure = Failure::builder().reason("RESOURCE:ENI").detail("no ENI available in subnet-private-a").build();
    ecs.run_answers.replace(VecDeque::from([Ok((vec![], vec![failure]))]));
    let (result, _, _) = run_with_logs(&ecs, &FakeLogs::lines(&[]), &with_migration(600)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    assert!(err.to_string().contains("never started: RunTask failures: RESOURCE:ENI (no ENI available"), "{err}");
    assert_eq!(*ecs.calls.borrow(), vec!["RegisterTaskDefinition", "RunTask"]);
}

#[tokio::test]
async fn a_migration_still_running_at_the_deadline_is_stopped_exit_3() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![running()]);
    let logs = FakeLogs::lines(&["applying 0004_backfill"]);
    let (result, ui, clock) = run_with_logs(&ecs, &logs, &with_migration(60)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 3, "{err:#}");
    assert!(err.to_string().contains("timed out after 1m and was stopped (StopTask 0123abcd)"), "{err}");
    assert_eq!(*ecs.stops.borrow(), vec![(TASK.to_owned(), "rdeploy: migration timed out after 1m".to_owned())]);
    assert!(ecs.updates.borrow().is_empty());
    assert_eq!(clock.now.get(), Duration::from_secs(60), "stopped at the deadline, not after");
    assert!(ui.text().contains("  | applying 0004_backfill"), "{}", ui.text());
}

#[tokio::test]
async fn a_timed_out_migration_that_cannot_be_stopped_needs_a_person_exit_4() {
    let mut ecs = migrating(vec![vec![steady_in_vpc()]], vec![running()]);
    ecs.stop_fails = true;
    let (result, _, _) = run_with_logs(&ecs, &FakeLogs::lines(&[]), &with_migration(30)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    assert!(err.to_string().contains("could NOT be stopped: it may still be running"), "{err}");
    assert!(ecs.updates.borrow().is_empty());
}

#[tokio::test]
async fn a_lost_run_task_answer_is_retried_with_the_same_token() {
    let ecs = migrating(vec![vec![steady_in_vpc()], vec![settled(NEW)]], vec![exited(0)]);
    let lost = Err(ApiError::new(ApiErrorKind::Unreachable, "RunTask", "timed out"));
    let ok = Ok((vec![task("PROVISIONING", None, false, None)], vec![]));
    ecs.run_answers.replace(VecDeque::from([lost, ok]));
    let (result, _, _) = run_with_logs(&ecs, &FakeLogs::lines(&[]), &with_migration(600)).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    let tokens: Vec<String> = ecs.runs.borrow().iter().map(|r| r.client_token.clone()).collect();
    assert_eq!(tokens, vec!["token-1", "token-1"], "one idempotent RunTask: no second task");
}

#[tokio::test]
async fn dry_run_says_what_the_migration_would_run_and_runs_nothing() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![]);
    let mut p = with_migration(600);
    p.dry_run = true;
    let (result, ui, _) = run_with_logs(&ecs, &FakeLogs::lines(&[]), &p).await;
    assert_eq!(result.unwrap(), Outcome::DryRun);
    assert!(ecs.calls.borrow().is_empty(), "{:?}", ecs.calls.borrow());
    assert!(ui.text().contains("would run the migration task (command [\"migrate\"], subnets"), "{}", ui.text());
}

#[test]
fn the_migration_runs_only_with_a_database_and_never_on_the_emulator() {
    let env = |name: &str, db: &str| {
        Env::parse(name, &format!("project = \"rdeploy\"\nenvironment = \"{name}\"\nregion = \"us-east-1\"\n{db}"))
            .unwrap()
    };
    let t = Duration::from_secs(600);
    let choose = |e: &Env, skip| super::migrate::choose(e, skip, t, t, "tok".into());
    assert!(matches!(choose(&env("dev", "database_enabled = true"), false), Migration::Run { .. }));
    assert!(
        matches!(choose(&env("dev", "database_enabled = false"), false), Migration::Skip(r) if r.contains("no database"))
    );
    assert!(matches!(choose(&env("dev", ""), false), Migration::Skip(r) if r.contains("no database")));
    assert!(
        matches!(choose(&env("dev", "database_enabled = true"), true), Migration::Skip(r) if r.contains("--skip-migrations"))
    );
    assert_eq!(
        choose(&env("local", "database_enabled = true"), false),
        Migration::Skip(super::migrate::LOCAL_SKIP.into())
    );
}

#[test]
fn a_capacity_provider_strategy_is_copied_instead_of_a_launch_type() {
    let Ok(ServiceLookup::Found(service)) = steady_in_vpc() else { unreachable!() };
    let mut service = *service;
    let spot = CapacityProviderStrategyItem::builder().capacity_provider("FARGATE_SPOT").weight(1).build().unwrap();
    service.capacity_provider_strategy = Some(vec![spot.clone()]);
    let task = super::migrate::one_off(&service, "c", NEW, "t");
    assert_eq!((task.launch_type, task.capacity_provider_strategy), (None, vec![spot]));
}

fn migrate_plan(image: &str) -> MigratePlan {
    MigratePlan {
        env: "dev".into(),
        family: "rdeploy-dev-app".into(),
        cluster: "rdeploy-dev-cluster".into(),
        service: "rdeploy-dev-app".into(),
        image: image.into(),
        version: "bbbbbbb".into(),
        dry_run: false,
        timeout: Duration::from_secs(600),
        poll_interval: Duration::from_secs(10),
        client_token: "token-2".into(),
    }
}

async fn run_migrate(ecs: &FakeEcs, logs: &FakeLogs, plan: &MigratePlan) -> (anyhow::Result<Option<String>>, Recorder) {
    let clock = FakeClock::default();
    let mut ui = Recorder::default();
    let result = migrate(ecs, logs, &clock, &mut ui, plan).await;
    (result, ui)
}

#[tokio::test]
async fn migrate_alone_registers_what_deploy_would_and_never_touches_the_service() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![running(), exited(0)]);
    let (result, ui) = run_migrate(&ecs, &FakeLogs::lines(&[]), &migrate_plan(IMAGE_NEW)).await;
    assert_eq!(result.unwrap(), Some(NEW.to_owned()));
    assert_eq!(*ecs.calls.borrow(), vec!["RegisterTaskDefinition", "RunTask", "DescribeTasks", "DescribeTasks"]);
    assert_eq!(ecs.runs.borrow()[0].task_definition, NEW);
    assert_eq!(super::taskdef::diff(&ecs.current.0, &ecs.registered.borrow()[0].0).len(), 2, "deploy's revision");
    assert!(ui.text().contains("exited 0"), "{}", ui.text());
}

#[tokio::test]
async fn migrate_alone_uses_the_serving_revision_when_the_image_already_serves() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![exited(0)]);
    let mut p = migrate_plan(IMAGE_OLD);
    p.version = "aaaaaaa".into();
    let (result, ui) = run_migrate(&ecs, &FakeLogs::lines(&[]), &p).await;
    assert_eq!(result.unwrap(), Some(OLD.to_owned()));
    assert!(ecs.registered.borrow().is_empty(), "nothing registered");
    assert!(ui.text().contains("the serving revision"), "{}", ui.text());
}

#[tokio::test]
async fn migrate_alone_reports_a_failure_like_deploy() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![exited(1)]);
    let logs = FakeLogs::lines(&["error: migration 3 was previously applied but is missing"]);
    let (result, ui) = run_migrate(&ecs, &logs, &migrate_plan(IMAGE_NEW)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(err.to_string().contains("The service rdeploy-dev-app was not touched."), "{err}");
    assert!(ui.text().contains("  | error: migration 3 was previously applied"), "{}", ui.text());
    assert!(ecs.updates.borrow().is_empty());
}

#[tokio::test]
async fn migrate_alone_times_out_and_stops_the_task() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![running()]);
    let mut p = migrate_plan(IMAGE_NEW);
    p.timeout = Duration::from_secs(30);
    let (result, _) = run_migrate(&ecs, &FakeLogs::lines(&[]), &p).await;
    assert_eq!(exit_code(&result.unwrap_err()), 3);
    assert_eq!(ecs.stops.borrow().len(), 1);
}

#[tokio::test]
async fn migrate_alone_with_run_task_failures_exits_2() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![]);
    ecs.run_answers.replace(VecDeque::from([Ok((vec![], vec![Failure::builder().reason("AGENT").build()]))]));
    let (result, _) = run_migrate(&ecs, &FakeLogs::lines(&[]), &migrate_plan(IMAGE_NEW)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    assert!(err.to_string().contains("RunTask failures: AGENT"), "{err}");
}

#[tokio::test]
async fn migrate_dry_run_registers_and_runs_nothing() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![]);
    let mut p = migrate_plan(IMAGE_NEW);
    p.dry_run = true;
    let (result, ui) = run_migrate(&ecs, &FakeLogs::lines(&[]), &p).await;
    assert_eq!(result.unwrap(), None);
    assert!(ecs.calls.borrow().is_empty());
    assert!(ui.text().contains("would run the migration task: a new revision of rdeploy-dev-app"), "{}", ui.text());
}

#[test]
fn readme_lists_the_same_migrate_exit_codes_as_help() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    assert!(
        readme.contains(super::migrate::EXIT_CODES),
        "README's migrate exit codes differ from migrate::EXIT_CODES:\n{}",
        super::migrate::EXIT_CODES
    );
}

#[tokio::test]
async fn local_with_a_database_says_it_skips_the_migration_task_and_runs_none() {
    let ecs =
        FakeEcs::new(vec![vec![steady_old()], vec![svc(NEW, vec![d("o", "PRIMARY", OLD, InProgress, 0, 1, 0)], &[])]]);
    let local = Env::parse(
        "local",
        "project = \"rdeploy\"\nenvironment = \"local\"\nregion = \"us-east-1\"\ndatabase_enabled = true",
    )
    .unwrap();
    let mut p = plan();
    p.local = true;
    p.migration = super::migrate::choose(&local, false, Duration::from_secs(600), Duration::from_secs(10), "t".into());
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::Unwatched { revision: NEW.into() });
    assert!(
        ui.text().contains("skipping the migration task: the emulator runs no tasks, and the Rust SDK cannot parse"),
        "{}",
        ui.text()
    );
    assert!(ecs.runs.borrow().is_empty(), "no RunTask against the emulator");
    assert_eq!(*ecs.calls.borrow(), vec!["RegisterTaskDefinition", "UpdateService"]);
}

#[test]
fn the_migration_flags_parse() {
    use clap::Parser;
    #[derive(Parser)]
    struct Deploy {
        #[command(flatten)]
        args: super::DeployArgs,
    }
    #[derive(Parser)]
    struct Migrate {
        #[command(flatten)]
        args: super::MigrateArgs,
    }
    let d =
        Deploy::try_parse_from(["deploy", "--env", "dev", "--skip-migrations", "--migration-timeout", "20m"]).unwrap();
    assert!(d.args.skip_migrations);
    assert_eq!(d.args.migration_timeout, Duration::from_secs(1200));
    let d = Deploy::try_parse_from(["deploy", "--env", "dev"]).unwrap();
    assert!(!d.args.skip_migrations, "migrations run by default");
    let m = Migrate::try_parse_from(["migrate", "--env", "prod", "--image", "x@sha256:abc"]).unwrap();
    assert_eq!((m.args.env.as_str(), m.args.timeout), ("prod", Duration::from_secs(600)));
}

#[tokio::test]
async fn a_refused_update_after_a_migration_says_the_migrations_were_applied() {
    let mut ecs = migrating(vec![vec![steady_in_vpc()]], vec![exited(0)]);
    ecs.faults = RefCell::new(VecDeque::from([Some(Fault::Refused)]));
    let (result, _, _) = run_with_logs(&ecs, &FakeLogs::lines(&[]), &with_migration(600)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    let text = err.to_string();
    assert!(text.contains("The service is unchanged") && !text.contains("Nothing changed"), "{text}");
    assert!(text.contains("DID apply its migrations"), "{text}");
}
