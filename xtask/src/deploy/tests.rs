//! The engine against scripted ECS answers built with the SDK's own types, a fake clock (no test
//! sleeps for real) and a recording UI. Each test is one rollout story and its exit code.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use aws_sdk_ecs::primitives::DateTime;
use aws_sdk_ecs::types::{
    Container, Deployment, DeploymentController, DeploymentControllerType, DeploymentRolloutState, Service,
    ServiceEvent, Tag, Task, TaskDefinition, TaskDefinitionStatus,
};

use super::api::{ApiError, ApiErrorKind, Clock, Ecr, Ecs, ServiceLookup, Ui};
use super::decide::tests::{NEW, OLD, OTHER};
use super::engine::{Outcome, Plan, deploy, human, prune_list, stopped_task_lines};
use super::image::ImageRef;
use super::taskdef::tests::sample;
use super::{ensure_immutable, parse_duration};
use crate::ctx::Exit;
use crate::envs::Env;

const IMAGE_OLD: &str = "1.dkr.ecr.us-east-1.amazonaws.com/rdeploy-dev-app:aaaaaaa";
const IMAGE_NEW: &str = "1.dkr.ecr.us-east-1.amazonaws.com/rdeploy-dev-app:bbbbbbb";

type Answer = Result<ServiceLookup, ApiError>;

/// ECS with scripted DescribeServices answers per phase: phase N is "after N UpdateService
/// calls", so the answers follow what the engine did. The last answer of a phase repeats.
struct FakeEcs {
    phases: RefCell<Vec<VecDeque<Answer>>>,
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
}

impl FakeEcs {
    fn new(phases: Vec<Vec<Answer>>) -> Self {
        Self {
            phases: RefCell::new(phases.into_iter().map(VecDeque::from).collect()),
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
        }
    }
}

impl Ecs for FakeEcs {
    async fn describe_service(&self, _cluster: &str, _service: &str) -> Result<ServiceLookup, ApiError> {
        self.describes.set(self.describes.get() + 1);
        let phase = self.updates.borrow().len();
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
        self.registered.borrow_mut().push((def.clone(), tags.to_vec()));
        let mut out = def.clone();
        let newest = std::iter::once(&self.current).chain(&self.newer).map(|(d, _)| d.revision()).max().unwrap();
        out.revision = newest + 1;
        out.task_definition_arn =
            Some(format!("arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app:{}", out.revision));
        Ok(out)
    }
    async fn update_service(&self, _cluster: &str, _service: &str, td: &str) -> Result<(), ApiError> {
        if self.fail_update_from.is_some_and(|n| self.updates.borrow().len() + 1 >= n) {
            return Err(ApiError::new(ApiErrorKind::AccessDenied, "UpdateService", "not allowed"));
        }
        self.updates.borrow_mut().push(td.to_owned());
        Ok(())
    }
    async fn stopped_tasks(&self, _cluster: &str, _service: &str) -> Result<Vec<Task>, ApiError> {
        Ok(self.stopped.clone())
    }
    async fn active_revisions(&self, family: &str) -> Result<Vec<String>, ApiError> {
        assert_eq!(family, "rdeploy-dev-app");
        Ok(self.active.clone())
    }
    async fn deregister(&self, arn: &str) -> Result<(), ApiError> {
        self.deregistered.borrow_mut().push(arn.to_owned());
        Ok(())
    }
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
        poll_interval: Duration::from_secs(10),
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

fn svc(td: &str, deployments: Vec<Deployment>, events: &[(&str, &str)]) -> Answer {
    let mut b = Service::builder()
        .service_name("rdeploy-dev-app")
        .status("ACTIVE")
        .task_definition(td)
        .deployment_controller(DeploymentController::builder().r#type(DeploymentControllerType::Ecs).build().unwrap())
        .set_deployments(Some(deployments));
    // ECS lists events newest first.
    for (i, (id, msg)) in events.iter().enumerate().rev() {
        b = b.events(ServiceEvent::builder().id(*id).message(*msg).created_at(DateTime::from_secs(i as i64)).build());
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
    let result = deploy(ecs, &clock, &mut ui, plan).await;
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
    assert!(err.to_string().contains("did not return to rdeploy-dev-app:4"), "{err}");
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
async fn losing_the_api_mid_rollout_still_rolls_back() {
    let lost = || Err(ApiError::new(ApiErrorKind::Unreachable, "DescribeServices", "connection refused"));
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![lost(), lost(), lost()],
        vec![svc(OLD, vec![d("b", "PRIMARY", OLD, Completed, 2, 2, 0)], &[])],
    ]);
    let (result, ui, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(err.to_string().contains("lost track of the rollout"), "{err}");
    assert_eq!(ui.lines.iter().filter(|l| l.starts_with("warning: DescribeServices")).count(), 2);
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned(), OLD.to_owned()]);
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
        "serving revision 4; the new revision is revision 6 with the image and APP_VERSION replaced",
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
