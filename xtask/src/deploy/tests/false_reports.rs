//! Issue #14: each false report a deploy could make, through the public entry point. Each test
//! names the polls from the first evidence to the verdict where that is the point.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use aws_sdk_ecs::types::Tag;

use crate::deploy::api::{ApiError, ApiErrorKind};
use crate::deploy::outcome::Outcome;
use crate::deploy::testkit::*;

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
    p.target.image = IMAGE_OLD.into();
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
    p.target.image = IMAGE_OLD.into();
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
    assert_eq!(ecs.describes.get(), 1 + crate::deploy::decide::NOT_SEEN_GRACE_POLLS);
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
    assert_eq!(ecs.describes.get(), 1 + 2 + crate::deploy::decide::PLACEMENT_POLLS + 1);
    assert_eq!(
        clock.now.get(),
        Duration::from_secs(10 * u64::from(1 + crate::deploy::decide::PLACEMENT_POLLS)),
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
