//! The migration task (#16): before the rollout in [`Session::deploy`](crate::deploy::Session::deploy),
//! and alone in [`Session::migrate`](crate::deploy::Session::migrate), against scripted RunTask and
//! DescribeTasks answers.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use aws_sdk_ecs::types::{Failure, Task};

use crate::deploy::api::{ApiError, ApiErrorKind, ServiceLookup, Session};
use crate::deploy::migration::{self, MigratePlan, Migration};
use crate::deploy::outcome::Outcome;
use crate::deploy::rollout::Plan;
use crate::deploy::taskdef;
use crate::deploy::testkit::*;
use crate::env::Env;

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

#[tokio::test]
async fn migration_exit_0_then_the_rollout_happens() {
    let ecs = migrating(vec![vec![steady_in_vpc()], vec![settled(NEW)]], vec![running(), exited(0)]);
    let logs = FakeLogs::lines(&[]);
    let (result, ui, _) = run_with_logs(&ecs, &logs, &with_migration(600)).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    assert_eq!(
        *ecs.calls.borrow(),
        vec!["RegisterTaskDefinition", "RunTask", "DescribeTasks", "DescribeTasks", "UpdateService", "TagResource"],
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

/// The environment's migration family (#24: the only task definition with the database master
/// secret), revision 2, still on the old image.
fn migration_family(ecs: &mut FakeEcs) {
    let mut def = ecs.current.0.clone();
    def.family = Some("rdeploy-dev-app-migrate".into());
    def.revision = 2;
    def.task_definition_arn =
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/rdeploy-dev-app-migrate:2".into());
    let app = def.container_definitions.as_mut().unwrap().iter_mut().find(|c| c.name() == Some("app")).unwrap();
    app.command = Some(vec!["migrate".into()]);
    app.secrets = Some(vec![
        aws_sdk_ecs::types::Secret::builder()
            .name("DB_PASSWORD")
            .value_from("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1:password::")
            .build()
            .unwrap(),
    ]);
    ecs.newer.push((def, vec![]));
}

#[tokio::test]
async fn the_migration_runs_its_own_family_with_the_new_image() {
    let mut ecs = migrating(vec![vec![steady_in_vpc()], vec![settled(NEW)]], vec![running(), exited(0)]);
    migration_family(&mut ecs);
    let logs = FakeLogs::lines(&[]);
    let (result, ui, _) = run_with_logs(&ecs, &logs, &with_migration(600)).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    assert_eq!(
        *ecs.calls.borrow(),
        vec![
            "RegisterTaskDefinition",
            "RegisterTaskDefinition",
            "RunTask",
            "DescribeTasks",
            "DescribeTasks",
            "UpdateService",
            "TagResource"
        ],
    );
    let registered = ecs.registered.borrow();
    let (serving, migrate) = (&registered[0].0, &registered[1].0);
    assert_eq!(migrate.family(), Some("rdeploy-dev-app-migrate"));
    assert_eq!(taskdef::app_image(migrate), taskdef::app_image(serving), "the migration runs the new image");
    let app = migrate.container_definitions().iter().find(|c| c.name() == Some("app")).unwrap();
    assert_eq!(app.secrets().len(), 1, "its secrets stay");
    let run = &ecs.runs.borrow()[0];
    assert!(run.task_definition.contains("task-definition/rdeploy-dev-app-migrate:"), "{}", run.task_definition);
    assert!(ui.text().contains("(the migration task's)"), "{}", ui.text());
}

#[tokio::test]
async fn without_a_migration_family_the_serving_revision_migrates_as_before_and_says_so() {
    let ecs = migrating(vec![vec![steady_in_vpc()], vec![settled(NEW)]], vec![running(), exited(0)]);
    let logs = FakeLogs::lines(&[]);
    let (result, ui, _) = run_with_logs(&ecs, &logs, &with_migration(600)).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: NEW.into() });
    assert_eq!(ecs.runs.borrow()[0].task_definition, NEW);
    assert!(ui.text().contains("No task definition family rdeploy-dev-app-migrate"), "{}", ui.text());
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
        ..FakeLogs::lines(&[])
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
    p.target.dry_run = true;
    let (result, ui, _) = run_with_logs(&ecs, &FakeLogs::lines(&[]), &p).await;
    assert_eq!(result.unwrap(), Outcome::DryRun);
    assert!(ecs.calls.borrow().is_empty(), "{:?}", ecs.calls.borrow());
    let said = ui.lines.iter().find(|l| l.starts_with("--dry-run: would run")).expect("the dry-run says it");
    // The very request the real run makes (and prints), with only the revision not known yet.
    let ecs = migrating(vec![vec![steady_in_vpc()], vec![settled(NEW)]], vec![exited(0)]);
    let (_, real, _) = run_with_logs(&ecs, &FakeLogs::lines(&[]), &with_migration(600)).await;
    let ran = real.lines.iter().find_map(|l| l.strip_prefix("Migration task: ")).expect("the run says it");
    assert_eq!(
        said.as_str(),
        format!(
            "--dry-run: would run the migration task before UpdateService: {}",
            ran.replace("rdeploy-dev-app:5", "(the new revision)")
        )
    );
    assert!(said.contains("command [\"migrate\"], startedBy rdeploy-migrate, group migrate"), "{said}");
    assert!(said.contains("subnets subnet-private-a,subnet-private-b, security groups sg-app"), "{said}");
}

#[test]
fn the_migration_runs_only_with_a_database_and_never_on_the_emulator() {
    let env = |name: &str, db: &str| {
        Env::parse(name, &format!("project = \"rdeploy\"\nenvironment = \"{name}\"\nregion = \"us-east-1\"\n{db}"))
            .unwrap()
    };
    let t = Duration::from_secs(600);
    let choose = |e: &Env, skip| migration::choose(e, skip, t, t, "tok".into());
    assert!(matches!(choose(&env("dev", "database_enabled = true"), false), Migration::Run { .. }));
    assert!(
        matches!(choose(&env("dev", "database_enabled = false"), false), Migration::Skip(r) if r.contains("no database"))
    );
    assert!(matches!(choose(&env("dev", ""), false), Migration::Skip(r) if r.contains("no database")));
    assert!(
        matches!(choose(&env("dev", "database_enabled = true"), true), Migration::Skip(r) if r.contains("--skip-migrations"))
    );
    assert_eq!(choose(&env("local", "database_enabled = true"), false), Migration::Skip(migration::LOCAL_SKIP.into()));
}

#[test]
fn a_capacity_provider_strategy_is_copied_instead_of_a_launch_type() {
    let Ok(ServiceLookup::Found(service)) = steady_in_vpc() else { unreachable!() };
    let mut service = *service;
    let spot = CapacityProviderStrategyItem::builder().capacity_provider("FARGATE_SPOT").weight(1).build().unwrap();
    service.capacity_provider_strategy = Some(vec![spot.clone()]);
    let task = migration::one_off(&service, "c", NEW, "t");
    assert_eq!((task.launch_type, task.capacity_provider_strategy), (None, vec![spot]));
}

fn migrate_plan(image: &str) -> MigratePlan {
    MigratePlan {
        target: target(image, "bbbbbbb"),
        timeout: Duration::from_secs(600),
        poll_interval: Duration::from_secs(10),
        client_token: "token-2".into(),
    }
}

async fn run_migrate(ecs: &FakeEcs, logs: &FakeLogs, plan: &MigratePlan) -> (anyhow::Result<Option<String>>, Recorder) {
    let clock = FakeClock::default();
    let mut ui = Recorder::default();
    let result = Session { ecs, logs, clock: &clock, ui: &mut ui }.migrate(plan).await;
    (result, ui)
}

#[tokio::test]
async fn migrate_alone_registers_what_deploy_would_and_never_touches_the_service() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![running(), exited(0)]);
    let (result, ui) = run_migrate(&ecs, &FakeLogs::lines(&[]), &migrate_plan(IMAGE_NEW)).await;
    assert_eq!(result.unwrap(), Some(NEW.to_owned()));
    assert_eq!(*ecs.calls.borrow(), vec!["RegisterTaskDefinition", "RunTask", "DescribeTasks", "DescribeTasks"]);
    assert_eq!(ecs.runs.borrow()[0].task_definition, NEW);
    assert_eq!(taskdef::diff(&ecs.current.0, &ecs.registered.borrow()[0].0).len(), 2, "deploy's revision");
    assert!(ui.text().contains("exited 0"), "{}", ui.text());
}

#[tokio::test]
async fn migrate_alone_uses_the_serving_revision_when_the_image_already_serves() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![exited(0)]);
    let mut p = migrate_plan(IMAGE_OLD);
    p.target.version = "aaaaaaa".into();
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
    p.target.dry_run = true;
    let (result, ui) = run_migrate(&ecs, &FakeLogs::lines(&[]), &p).await;
    assert_eq!(result.unwrap(), None);
    assert!(ecs.calls.borrow().is_empty());
    assert!(ui.text().contains("would run the migration task: a new revision of rdeploy-dev-app"), "{}", ui.text());
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
    p.migration = migration::choose(&local, false, Duration::from_secs(600), Duration::from_secs(10), "t".into());
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

#[tokio::test]
async fn ctrl_c_during_the_migration_stops_its_task_and_names_the_command_to_run_again() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![running()]);
    let clock = FakeClock { cancel_at: Some((2, crate::ops::interrupt::Signal::Interrupt)), ..FakeClock::default() };
    let (result, _, _) = run_with_clock(&ecs, &FakeLogs::lines(&[]), &with_migration(600), clock).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 5, "{err:#}");
    let message = err.to_string();
    assert!(
        message
            .starts_with("deploy interrupted (Ctrl-C) during the migration: the migration task 0123abcd was stopped"),
        "{message}"
    );
    assert!(message.contains(&format!("`cargo xtask deploy --env dev --image {IMAGE_NEW}`")), "{message}");
    assert_eq!(*ecs.stops.borrow(), vec![(TASK.to_owned(), "rdeploy: interrupted".to_owned())]);
    assert!(!ecs.calls.borrow().contains(&"UpdateService"), "the service is not touched: {:?}", ecs.calls.borrow());

    // StopTask refused: exit 4 and the exact command that stops it.
    let mut ecs = migrating(vec![vec![steady_in_vpc()]], vec![running()]);
    ecs.stop_fails = true;
    let clock = FakeClock { cancel_at: Some((1, crate::ops::interrupt::Signal::Terminate)), ..FakeClock::default() };
    let (result, _, _) = run_with_clock(&ecs, &FakeLogs::lines(&[]), &with_migration(600), clock).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 4, "{err:#}");
    assert!(
        err.to_string().contains(&format!("`aws ecs stop-task --cluster rdeploy-dev-cluster --task {TASK}`")),
        "{err}"
    );
}

fn run_plan(dry_run: bool) -> crate::deploy::one_off::RunPlan {
    let mut target = target("", "");
    target.dry_run = dry_run;
    crate::deploy::one_off::RunPlan {
        target,
        one_off: crate::ops::one_off::one_off(&["users".into(), "list".into()], "dev").unwrap(),
        timeout: Duration::from_secs(600),
        poll_interval: Duration::from_secs(5),
        client_token: "rdeploy-run-1".into(),
    }
}

async fn one_off(
    ecs: &FakeEcs,
    logs: &FakeLogs,
    plan: &crate::deploy::one_off::RunPlan,
) -> (anyhow::Result<String>, Recorder) {
    let (clock, mut ui) = (FakeClock::default(), Recorder::default());
    let result = Session { ecs, logs, clock: &clock, ui: &mut ui }.run_one_off(plan).await;
    (result, ui)
}

#[tokio::test]
async fn run_starts_a_one_off_task_of_the_serving_revision_and_shows_its_exit_and_logs() {
    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![running(), exited(0)]);
    let logs = FakeLogs::lines(&["3 users"]);
    let (result, ui) = one_off(&ecs, &logs, &run_plan(false)).await;
    assert_eq!(result.unwrap(), OLD, "{}", ui.text());
    {
        let runs = ecs.runs.borrow();
        assert_eq!(runs[0].task_definition, OLD, "the serving revision, nothing registered");
        assert_eq!(runs[0].command, vec!["users".to_owned(), "list".to_owned()]);
        assert_eq!((runs[0].started_by.as_str(), runs[0].group.as_str()), ("rdeploy-run", "run"));
        assert!(runs[0].network.is_some(), "in the service's network");
        let text = ui.text();
        assert!(text.contains("One-off task 0123abcd exited 0") && text.contains("3 users"), "{text}");
        assert!(
            !ecs.calls.borrow().contains(&"RegisterTaskDefinition") && !ecs.calls.borrow().contains(&"UpdateService")
        );
    }

    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![exited(3)]);
    let (result, _) = one_off(&ecs, &FakeLogs::lines(&["boom"]), &run_plan(false)).await;
    let err = result.unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err:#}");
    assert!(err.to_string().starts_with("the one-off task failed (exit code 3)"), "{err}");

    let ecs = migrating(vec![vec![steady_in_vpc()]], vec![running()]);
    let (result, ui) = one_off(&ecs, &FakeLogs::lines(&[]), &run_plan(true)).await;
    result.unwrap();
    assert!(
        ui.text().contains(
            "--dry-run: would run: RunTask rdeploy-dev-app:4 with command [\"users\", \"list\"], startedBy rdeploy-run"
        ),
        "{}",
        ui.text()
    );
    assert!(ecs.calls.borrow().is_empty());
}
