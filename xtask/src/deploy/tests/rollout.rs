//! Rollout stories through [`Session::deploy`](crate::deploy::Session::deploy), against
//! scripted ECS answers built with the SDK's own types, a fake clock (no test sleeps for real)
//! and a recording UI. Each test is one rollout story and its exit code.

use std::time::Duration;

use aws_sdk_ecs::primitives::DateTime;
use aws_sdk_ecs::types::{Container, Tag, Task, TaskDefinition};

use crate::deploy::api::{ApiError, ApiErrorKind, ServiceLookup};
use crate::deploy::outcome::Outcome;
use crate::deploy::report::stopped_task_lines;
use crate::deploy::taskdef;
use crate::deploy::testkit::*;

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
    assert_eq!(taskdef::diff(&ecs.current.0, def).len(), 2, "only image and APP_VERSION change");
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
    p.target.image = IMAGE_OLD.into();
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::AlreadyServing { revision: OLD.into() });
    assert!(ecs.registered.borrow().is_empty() && ecs.updates.borrow().is_empty());
    assert!(ui.text().contains("nothing to do"), "{}", ui.text());
}

#[tokio::test]
async fn dry_run_shows_the_diff_and_registers_nothing() {
    let ecs = FakeEcs::new(vec![vec![steady_old()]]);
    let mut p = plan();
    p.target.dry_run = true;
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
    assert_eq!(*ecs.deregistered.borrow(), vec![arn(1), arn(2), arn(3)]);
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
    assert_eq!(taskdef::app_image(def).unwrap(), IMAGE_NEW);
    assert_eq!(taskdef::diff(&ecs.newer[0].0, def).len(), 2, "only image and APP_VERSION differ from rev 6");
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
    p.target.image = IMAGE_OLD.into();
    let (result, ui, _) = run(&ecs, &p).await;
    assert_eq!(result.unwrap(), Outcome::Deployed { revision: rev(7) });
    assert!(!ui.text().contains("nothing to do"), "{}", ui.text());
    assert!(ui.text().contains("memory\n    - 512\n    + 1024"), "{}", ui.text());
}

#[tokio::test]
async fn a_service_on_another_family_is_refused_before_any_change() {
    let ecs = FakeEcs::new(vec![vec![steady_old()]]);
    let mut p = plan();
    p.target.family = "rdeploy-dev-other".into();
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
