//! Issue #25 on a session of fakes: `rollback` (only to a revision that reached COMPLETED, never
//! the bootstrap one; bad revisions exit 2 with nothing changed), the `rdeploy:completed` tag a
//! successful watch writes, a failed first deploy that does not roll back to the bootstrap
//! revision, `--keep` sparing Terraform's revision, and an alarm rollback's cause line.

use std::time::Duration;

use aws_sdk_ecs::types::{
    Deployment, DeploymentAlarms, DeploymentConfiguration, DeploymentRolloutState, Tag, TaskDefinition,
};

use crate::deploy::api::{ServiceLookup, Session};
use crate::deploy::outcome::Outcome;
use crate::deploy::rollback::{NO_MIGRATION, RollbackPlan};
use crate::deploy::testkit::*;
use crate::ops::revisions::completed_tag;

const REPO: &str = "1.dkr.ecr.us-east-1.amazonaws.com/rdeploy-dev-app";
const DIGEST2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// Revision `n` of the family with `image`, tagged completed or not.
fn revision(n: i32, image: &str, completed: bool) -> (TaskDefinition, Vec<Tag>) {
    let mut def = sample(image, Some("v"));
    def.task_definition_arn = Some(rev(n));
    def.revision = n;
    let mut tags = vec![Tag::builder().key("Project").value("rdeploy").build()];
    if completed {
        tags.push(completed_tag("2026-11-01T10:00:00Z"));
    }
    (def, tags)
}

/// The family: 1 Terraform's bootstrap, 2 served (pinned by digest), 3 never completed, 4 (OLD)
/// serving, settled.
fn family() -> FakeEcs {
    family_with(vec![vec![steady_old()], vec![settled(&rev(2))]])
}

fn family_with(phases: Vec<Vec<Answer>>) -> FakeEcs {
    let mut ecs = FakeEcs::new(phases);
    ecs.current = revision(4, IMAGE_OLD, true);
    ecs.newer = vec![
        revision(1, &format!("{REPO}:bootstrap"), false),
        revision(2, &format!("{REPO}@{DIGEST2}"), true),
        revision(3, &format!("{REPO}:ccccccc"), false),
    ];
    ecs.active = (1..=4).map(rev).collect();
    ecs
}

fn rollback_plan(to: Option<&str>) -> RollbackPlan {
    RollbackPlan {
        target: target("", ""),
        to: to.map(str::to_owned),
        no_wait: false,
        local: false,
        timeout: Duration::from_secs(900),
        rollback_timeout: Duration::from_secs(600),
        poll_interval: Duration::from_secs(10),
    }
}

async fn roll_back(ecs: &FakeEcs, plan: &RollbackPlan) -> (anyhow::Result<Outcome>, Recorder) {
    let (logs, clock, mut ui) = (FakeLogs::lines(&[]), FakeClock::default(), Recorder::default());
    let result = Session { ecs, logs: &logs, clock: &clock, ui: &mut ui }.rollback(plan).await;
    (result, ui)
}

#[tokio::test]
async fn rollback_goes_to_the_newest_completed_revision_below_the_serving_one() {
    let ecs = family();
    let (result, ui) = roll_back(&ecs, &rollback_plan(None)).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: rev(2) }, "{}", ui.text());
    // 3 never completed: skipped. No registration, no migration task: only the update and the tag.
    assert_eq!(*ecs.updates.borrow(), vec![rev(2)]);
    assert_eq!(*ecs.calls.borrow(), vec!["UpdateService", "TagResource"]);
    let text = ui.text();
    assert!(text.contains("rdeploy-dev-app:4 -> rdeploy-dev-app:2") && text.contains(DIGEST2), "{text}");
    assert!(text.contains(NO_MIGRATION), "{text}");
    let tagged = ecs.tagged.borrow();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].0, rev(2));
    assert!(tagged[0].1.starts_with("rdeploy:completed=2026-01-01T00:00:"), "{tagged:?}");
}

#[tokio::test]
async fn rollback_dry_run_shows_the_revision_and_its_digest_and_changes_nothing() {
    let ecs = family();
    let mut plan = rollback_plan(None);
    plan.target.dry_run = true;
    let (result, ui) = roll_back(&ecs, &plan).await;
    assert_eq!(result.unwrap(), Outcome::DryRun);
    let text = ui.text();
    assert!(text.contains("-> rdeploy-dev-app:2") && text.contains(&format!("digest {DIGEST2}")), "{text}");
    assert!(text.contains("--dry-run: the service is unchanged"), "{text}");
    assert!(ecs.calls.borrow().is_empty(), "{:?}", ecs.calls.borrow());
}

#[tokio::test]
async fn rollback_to_a_named_completed_revision_and_never_to_bootstrap_or_a_bad_one() {
    let ecs = family();
    let (result, _) = roll_back(&ecs, &rollback_plan(Some("rdeploy-dev-app:2"))).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: rev(2) });

    for (to, expected) in [
        ("1", "bootstrap revision"),
        ("3", "never reached COMPLETED"),
        ("9", "rdeploy-dev-app:9 does not exist"),
        ("other-app:2", "other-app is another family"),
        ("4", "already serving"),
    ] {
        let ecs = family();
        let (result, _) = roll_back(&ecs, &rollback_plan(Some(to))).await;
        let err = result.unwrap_err();
        assert_eq!(exit_code(&err), 2, "--to {to}: {err:#}");
        let message = err.to_string();
        assert!(message.contains(expected) && !message.contains('\n'), "--to {to}: {message}");
        assert!(ecs.calls.borrow().is_empty(), "--to {to}: nothing changed: {:?}", ecs.calls.borrow());
    }
}

#[tokio::test]
async fn rollback_with_only_the_bootstrap_below_or_no_serving_revision_exits_2() {
    // Serving 2: below it only the bootstrap revision.
    let mut ecs = family_with(vec![vec![settled(&rev(2))]]);
    let serving = ecs.newer.remove(1);
    ecs.newer.push(std::mem::replace(&mut ecs.current, serving));
    let (result, _) = roll_back(&ecs, &rollback_plan(None)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    assert!(err.to_string().contains("nothing to roll back to"), "{err}");
    assert!(ecs.calls.borrow().is_empty());

    let mut no_revision = settled("");
    if let Ok(ServiceLookup::Found(s)) = &mut no_revision {
        s.task_definition = None;
    }
    let ecs = family_with(vec![vec![no_revision]]);
    let (result, _) = roll_back(&ecs, &rollback_plan(None)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    assert!(err.to_string().contains("has no task definition") && !err.to_string().contains('\n'), "{err}");
    assert!(ecs.calls.borrow().is_empty());
}

#[tokio::test]
async fn a_failed_rollback_puts_the_serving_revision_back_and_exits_1() {
    let ecs = family_with(vec![
        vec![steady_old()],
        vec![svc(
            &rev(2),
            vec![d("n", "PRIMARY", &rev(2), Failed, 0, 2, 3), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)],
            &[],
        )],
        vec![settled(OLD)],
    ]);
    let (result, ui) = roll_back(&ecs, &rollback_plan(None)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}\n{}", ui.text());
    assert_eq!(*ecs.updates.borrow(), vec![rev(2), OLD.to_owned()]);
    assert!(ecs.tagged.borrow().is_empty(), "a failed revision is never tagged");
}

#[tokio::test]
async fn a_deploy_that_completes_tags_its_revision_and_a_tag_failure_is_a_warning() {
    let phases = || vec![vec![steady_old()], vec![settled(NEW)]];
    let mut ecs = FakeEcs::new(phases());
    // The base carries the tag: the new registration must not inherit it.
    ecs.current.1.push(completed_tag("2026-11-01T10:00:00Z"));
    let (result, _, _) = run(&ecs, &plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    {
        let registered = ecs.registered.borrow();
        assert!(!registered[0].1.iter().any(|t| t.key() == Some("rdeploy:completed")), "{:?}", registered[0].1);
        assert_eq!(ecs.tagged.borrow()[0].0, NEW);
    }

    let mut ecs = FakeEcs::new(phases());
    ecs.tag_fails = true;
    let (result, ui, _) = run(&ecs, &plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    assert!(ui.text().contains("warning: could not tag rdeploy-dev-app:5 rdeploy:completed"), "{}", ui.text());
}

#[tokio::test]
async fn a_failed_first_deploy_never_rolls_back_to_the_bootstrap_revision() {
    let mut ecs = FakeEcs::new(vec![
        // Terraform's bootstrap revision: its tasks never start, the service never settled.
        vec![svc(OLD, vec![d("o", "PRIMARY", OLD, InProgress, 0, 2, 4)], &[])],
        vec![svc(NEW, vec![d("n", "PRIMARY", NEW, Failed, 0, 2, 3), d("o", "ACTIVE", OLD, InProgress, 0, 2, 4)], &[])],
    ]);
    ecs.current = revision(4, &format!("{REPO}:bootstrap"), false);
    let (result, ui, clock) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    let message = err.to_string();
    assert!(
        message.contains("not rolling back: the previous revision rdeploy-dev-app:4 is Terraform's bootstrap"),
        "{message}"
    );
    assert!(message.contains("`cargo xtask deploy --env dev`"), "{message}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "no UpdateService back to the bootstrap revision");
    assert!(
        clock.now.get() < Duration::from_secs(120),
        "ends at once, not after a rollback watch: {:?}",
        clock.now.get()
    );
    assert!(!ui.text().contains("Rolling back:"), "{}", ui.text());
}

#[tokio::test]
async fn a_failed_deploy_still_rolls_back_to_an_untagged_revision_that_was_settled() {
    // OLD has no rdeploy:completed tag (deployed before this feature), but it served, settled.
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![svc(NEW, vec![d("n", "PRIMARY", NEW, Failed, 0, 2, 3), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)], &[])],
        vec![settled(OLD)],
    ]);
    let (result, _, _) = run(&ecs, &plan()).await;
    assert_eq!(exit_code(&result.unwrap_err()), 1);
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned(), OLD.to_owned()]);
}

#[tokio::test]
async fn keep_spares_terraforms_revision() {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()], vec![settled(NEW)]]);
    ecs.active = (1..=5).map(rev).collect();
    let mut p = plan();
    p.keep = Some(2);
    p.terraform_revision = Some(rev(2));
    let (result, ui, _) = run(&ecs, &p).await;
    result.unwrap();
    assert_eq!(*ecs.deregistered.borrow(), vec![rev(1), rev(3)], "{}", ui.text());
}

#[tokio::test]
async fn an_alarm_rollback_is_a_failure_with_its_own_cause_line() {
    let reason = "ECS deployment ecs-svc/123 failed: alarm rdeploy-dev-error-rate in ALARM state.";
    let failed = Deployment::builder()
        .id("n")
        .status("ACTIVE")
        .task_definition(NEW)
        .rollout_state(DeploymentRolloutState::Failed)
        .rollout_state_reason(reason)
        .desired_count(0)
        .running_count(2)
        .build();
    let with_alarms = |mut answer: Answer| {
        if let Ok(ServiceLookup::Found(s)) = &mut answer {
            let alarms = DeploymentAlarms::builder()
                .alarm_names("rdeploy-dev-target-5xx")
                .alarm_names("rdeploy-dev-error-rate")
                .enable(true)
                .rollback(true)
                .build()
                .unwrap();
            s.deployment_configuration = Some(DeploymentConfiguration::builder().alarms(alarms).build());
        }
        answer
    };
    let ecs = FakeEcs::new(vec![
        vec![with_alarms(steady_old())],
        vec![
            with_alarms(svc(
                NEW,
                vec![d("n", "PRIMARY", NEW, InProgress, 2, 2, 0), d("o", "ACTIVE", OLD, Completed, 0, 0, 0)],
                &[],
            )),
            // The alarm fired: ECS failed our deployment and rolls back to OLD.
            with_alarms(svc(NEW, vec![d("r", "PRIMARY", OLD, InProgress, 1, 2, 0), failed.clone()], &[])),
            with_alarms(settled(OLD)),
        ],
    ]);
    let (result, ui, _) = run(&ecs, &plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    let message = err.to_string();
    assert!(
        message.starts_with(
            "rdeploy-dev-app:5 failed: the deployment alarm rdeploy-dev-error-rate went into ALARM while it rolled out"
        ),
        "{message}"
    );
    assert!(message.contains("back on the previous revision rdeploy-dev-app:4"), "{message}");
    assert!(ui.text().contains("ECS is already rolling back"), "{}", ui.text());
    assert!(ecs.tagged.borrow().is_empty());
}

/// `deploy --force` of the image already serving (OLD, settled).
fn force_plan() -> crate::deploy::Plan {
    let mut p = plan();
    p.target = target(IMAGE_OLD, "aaaaaaa");
    p.force = true;
    p
}

#[tokio::test]
async fn force_starts_a_new_deployment_and_waits_for_that_deployment_not_the_old_one() {
    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![
            // Not visible yet: the old deployment alone, settled. Must not count as success.
            svc(OLD, vec![d("o", "PRIMARY", OLD, Completed, 2, 2, 0)], &[]),
            svc(OLD, vec![d("f", "PRIMARY", OLD, InProgress, 1, 2, 0), d("o", "ACTIVE", OLD, Completed, 1, 1, 0)], &[]),
            svc(OLD, vec![d("f", "PRIMARY", OLD, Completed, 2, 2, 0)], &[]),
        ],
    ]);
    let (result, ui, _) = run(&ecs, &force_plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: OLD.into() }, "{}", ui.text());
    assert_eq!(*ecs.calls.borrow(), vec!["UpdateService(force)", "TagResource"], "no registration");
    assert_eq!(ecs.describes.get(), 4, "the first answers (the old deployment) were not taken for success");
    assert!(ui.text().contains("Restarted: rdeploy-dev-app runs new tasks of rdeploy-dev-app:4"), "{}", ui.text());

    // Without --force: nothing to do, nothing called.
    let ecs = FakeEcs::new(vec![vec![steady_old()]]);
    let mut p = force_plan();
    p.force = false;
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::AlreadyServing { revision: OLD.into() });
    assert!(ui.text().contains("`--force` replaces its tasks"), "{}", ui.text());
    assert!(ecs.calls.borrow().is_empty());
}

#[tokio::test]
async fn force_never_seen_is_unobserved_and_a_failed_one_exits_1() {
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![steady_old()]]);
    let (result, _, _) = run(&ecs, &force_plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 5, "{err:#}");
    assert!(err.to_string().contains("never showed the new deployment"), "{err}");

    let ecs = FakeEcs::new(vec![
        vec![steady_old()],
        vec![
            svc(OLD, vec![d("f", "PRIMARY", OLD, InProgress, 0, 2, 1), d("o", "ACTIVE", OLD, Completed, 2, 2, 0)], &[]),
            svc(OLD, vec![d("r", "PRIMARY", OLD, InProgress, 2, 2, 0), d("f", "ACTIVE", OLD, Failed, 0, 0, 3)], &[]),
        ],
    ]);
    let (result, _, _) = run(&ecs, &force_plan()).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(err.to_string().contains("nothing to roll back to; ECS put the earlier deployment back"), "{err}");
    assert_eq!(*ecs.calls.borrow(), vec!["UpdateService(force)"], "no UpdateService of our own");
}

#[tokio::test]
async fn force_dry_run_changes_nothing() {
    let ecs = FakeEcs::new(vec![vec![steady_old()]]);
    let mut p = force_plan();
    p.target.dry_run = true;
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::DryRun);
    assert!(ui.text().contains("--force-new-deployment; nothing changed"), "{}", ui.text());
    assert!(ecs.calls.borrow().is_empty());
}

struct FakeElb(Result<Vec<crate::ops::status::Target>, crate::deploy::api::ApiError>);

impl crate::deploy::api::TargetHealth for FakeElb {
    async fn target_health(
        &self,
        target_group: &str,
    ) -> Result<Vec<crate::ops::status::Target>, crate::deploy::api::ApiError> {
        assert!(target_group.ends_with("targetgroup/rdeploy-dev/abc"), "{target_group}");
        self.0.clone()
    }
}

fn healthy_target(ip: &str) -> crate::ops::status::Target {
    crate::ops::status::Target {
        id: ip.into(),
        port: Some(8080),
        state: "healthy".into(),
        reason: None,
        description: None,
    }
}

/// The service settled on OLD behind a target group, with two RUNNING HEALTHY tasks.
fn serving_behind_alb() -> FakeEcs {
    let mut answer = steady_old();
    if let Ok(ServiceLookup::Found(s)) = &mut answer {
        s.load_balancers = Some(vec![
            aws_sdk_ecs::types::LoadBalancer::builder()
                .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/rdeploy-dev/abc")
                .container_name("app")
                .container_port(8080)
                .build(),
        ]);
    }
    let mut ecs = FakeEcs::new(vec![vec![answer]]);
    ecs.running = ["t1", "t2"]
        .iter()
        .map(|id| {
            aws_sdk_ecs::types::Task::builder()
                .task_arn(format!("arn:aws:ecs:us-east-1:1:task/rdeploy-dev-cluster/{id}"))
                .task_definition_arn(OLD)
                .last_status("RUNNING")
                .health_status(aws_sdk_ecs::types::HealthStatus::Healthy)
                .availability_zone("us-east-1a")
                .build()
        })
        .collect();
    ecs
}

#[tokio::test]
async fn status_is_healthy_only_with_healthy_targets_and_names_unread_target_health() {
    let ecs = serving_behind_alb();
    let (logs, clock, mut ui) = (FakeLogs::lines(&[]), FakeClock::default(), Recorder::default());
    let mut session = Session { ecs: &ecs, logs: &logs, clock: &clock, ui: &mut ui };
    let elb = FakeElb(Ok(vec![healthy_target("10.0.1.5"), healthy_target("10.0.2.6")]));
    let s = session.status(&target("", ""), &elb).await.unwrap();
    assert!(s.healthy, "{:?}", s.reasons);
    assert_eq!((s.tasks.len(), s.targets.len(), s.revision.as_str()), (2, 2, "rdeploy-dev-app:4"));

    let denied = crate::deploy::api::ApiError::new(
        crate::deploy::api::ApiErrorKind::AccessDenied,
        "DescribeTargetHealth",
        "AccessDenied",
    );
    let s = session.status(&target("", ""), &FakeElb(Err(denied))).await.unwrap();
    assert!(!s.healthy);
    assert!(
        s.reasons
            .iter()
            .any(|r| r.starts_with("target health not read (rdeploy-dev): DescribeTargetHealth: access denied")),
        "{:?}",
        s.reasons
    );
    assert!(ecs.calls.borrow().is_empty(), "status changes nothing");
}

#[tokio::test]
async fn revisions_lists_newest_first_with_whether_each_served() {
    let ecs = family();
    let (logs, clock, mut ui) = (FakeLogs::lines(&[]), FakeClock::default(), Recorder::default());
    let doc =
        Session { ecs: &ecs, logs: &logs, clock: &clock, ui: &mut ui }.revisions(&target("", ""), None).await.unwrap();
    let seen: Vec<(i32, bool, bool, bool)> =
        doc.revisions.iter().map(|r| (r.number, r.ever_served, r.serving, r.bootstrap)).collect();
    assert_eq!(
        seen,
        vec![(4, true, true, false), (3, false, false, false), (2, true, false, false), (1, false, false, true)]
    );
    assert_eq!(doc.revisions[2].digest.as_deref(), Some(DIGEST2));
    let json = serde_json::to_value(&doc).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["revisions"][0]["revision"], "rdeploy-dev-app:4");
}

fn event(id: &str, at: i64, message: &str) -> crate::ops::logs::Event {
    crate::ops::logs::Event {
        id: id.into(),
        stream: "app/app/0123456789abcdef0123456789abcdef".into(),
        timestamp: at,
        message: message.into(),
    }
}

fn log_query(follow: bool) -> crate::deploy::logs::LogQuery {
    crate::deploy::logs::LogQuery {
        start_ms: 1_000,
        task: Some("0123456789ABCDEF0123456789abcdef".into()),
        pattern: Some("\"timeout\"".into()),
        json: false,
        follow,
        poll_interval: Duration::from_secs(2),
        max_polls: Some(3),
    }
}

/// The serving revision logs with awslogs to /ecs/rdeploy-dev-app, prefix app.
fn logging_ecs() -> FakeEcs {
    let mut ecs = FakeEcs::new(vec![vec![steady_old()]]);
    let app =
        ecs.current.0.container_definitions.as_mut().unwrap().iter_mut().find(|c| c.name() == Some("app")).unwrap();
    app.log_configuration = Some(
        aws_sdk_ecs::types::LogConfiguration::builder()
            .log_driver(aws_sdk_ecs::types::LogDriver::Awslogs)
            .options("awslogs-group", "/ecs/rdeploy-dev-app")
            .options("awslogs-stream-prefix", "app")
            .build()
            .unwrap(),
    );
    ecs
}

#[tokio::test]
async fn logs_reads_the_serving_revisions_group_and_follow_prints_each_event_once() {
    let ecs = logging_ecs();
    let logs = FakeLogs::lines(&[]);
    let json = r#"{"timestamp":"2026-12-06T22:00:00.123456Z","level":"ERROR","fields":{"message":"db timeout","status":503},"target":"app"}"#;
    *logs.filtered.borrow_mut() = vec![
        vec![event("e1", 1_000, "plain line")],
        // The next poll starts at e1's millisecond: e1 again, and a new one.
        vec![event("e1", 1_000, "plain line"), event("e2", 2_000, json)],
        vec![event("e2", 2_000, json)],
    ]
    .into();
    let (clock, mut ui) = (FakeClock::default(), Recorder::default());
    let printed = Session { ecs: &ecs, logs: &logs, clock: &clock, ui: &mut ui }
        .logs(&target("", ""), &log_query(true))
        .await
        .unwrap();
    assert_eq!(printed, 2, "{}", ui.text());
    assert!(
        ui.lines[1].starts_with("2026-12-06T22:00:00.123Z ERROR db timeout  status=503  [task 01234567]"),
        "{}",
        ui.text()
    );
    let filters = logs.filters.borrow();
    assert_eq!(filters.len(), 3);
    assert_eq!(
        filters[0],
        (
            "/ecs/rdeploy-dev-app".to_owned(),
            Some("app/app/0123456789abcdef0123456789abcdef".to_owned()),
            Some("\"timeout\"".to_owned()),
            1_000
        )
    );
    assert_eq!((filters[1].3, filters[2].3), (1_000, 2_000), "each poll starts at the last event seen");
    assert_eq!(*clock.sleeps.borrow(), vec![Duration::from_secs(2); 2]);
    assert!(ecs.calls.borrow().is_empty(), "logs changes nothing");
}

#[tokio::test]
async fn logs_of_a_revision_without_awslogs_is_exit_2() {
    let ecs = FakeEcs::new(vec![vec![steady_old()]]);
    let (logs, clock, mut ui) = (FakeLogs::lines(&[]), FakeClock::default(), Recorder::default());
    let err = Session { ecs: &ecs, logs: &logs, clock: &clock, ui: &mut ui }
        .logs(&target("", ""), &log_query(false))
        .await
        .unwrap_err();
    assert_eq!(exit_code(&err), 2, "{err:#}");
    assert!(err.to_string().contains("does not log with awslogs"), "{err}");
}

#[tokio::test]
async fn ctrl_c_in_the_watch_leaves_the_rollout_and_rerunning_deploy_re_attaches() {
    let rolling =
        || svc(NEW, vec![d("n", "PRIMARY", NEW, InProgress, 1, 2, 0), d("o", "ACTIVE", OLD, Completed, 1, 1, 0)], &[]);
    let ecs = FakeEcs::new(vec![vec![steady_old()], vec![rolling()]]);
    let clock = FakeClock { cancel_at: Some((3, crate::ops::interrupt::Signal::Interrupt)), ..FakeClock::default() };
    let (result, _, clock) = run_with_clock(&ecs, &FakeLogs::lines(&[]), &plan(), clock).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 5, "{err:#}");
    let message = err.to_string();
    assert!(message.starts_with("deploy interrupted (Ctrl-C) while rdeploy-dev-app:5 rolled out"), "{message}");
    assert!(message.contains(&format!("Re-attach: `cargo xtask deploy --env dev --image {IMAGE_NEW}`")), "{message}");
    assert_eq!(*ecs.updates.borrow(), vec![NEW.to_owned()], "nothing rolled back on an interruption");
    assert_eq!(clock.sleeps.borrow().len(), 3, "stopped at the poll the signal arrived");

    // The re-attach: the same image, with that rollout still in the service, registers nothing,
    // updates nothing, and watches it to its verdict.
    let mut ecs = FakeEcs::new(vec![vec![rolling(), rolling(), settled(NEW)]]);
    let mut registered = sample(IMAGE_NEW, Some("bbbbbbb"));
    registered.task_definition_arn = Some(NEW.into());
    registered.revision = 5;
    ecs.current = (registered, vec![]);
    let (result, ui, _) = run(&ecs, &plan()).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() }, "{}", ui.text());
    assert!(ui.text().contains("but it is not settled"), "{}", ui.text());
    assert_eq!(*ecs.calls.borrow(), vec!["TagResource"], "no registration, no UpdateService");
}
