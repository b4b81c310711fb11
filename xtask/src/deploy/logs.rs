//! `logs`: the app's CloudWatch log events, read from the log group and stream prefix of the
//! serving revision's `app` container (its awslogs options), by FilterLogEvents; `--follow` polls
//! from the last event seen (`ops::logs::Follow`). Reads only.

use std::time::Duration;

use anyhow::Result;

use super::api::{Clock, Ecs, Logs, ServiceLookup, Session, Ui};
use super::outcome::{code, fail};
use super::revision::Target;
use super::taskdef;
use crate::ops::logs::{self, Follow};

/// Events one FilterLogEvents read returns at most (its pages together).
pub const LIMIT: usize = 10_000;

/// What `logs` reads and how it shows it, checked by the command.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// FilterLogEvents startTime, ms since the epoch (`ops::logs::since`).
    pub start_ms: i64,
    /// `--task`: its ID or ARN.
    pub task: Option<String>,
    /// `--filter`, as a CloudWatch filter pattern (`ops::logs::filter_pattern`).
    pub pattern: Option<String>,
    pub json: bool,
    pub follow: bool,
    pub poll_interval: Duration,
    /// Stop following after this many polls (tests); None: until interrupted.
    pub max_polls: Option<u32>,
}

impl<E: Ecs, L: Logs, C: Clock, U: Ui> Session<'_, E, L, C, U> {
    /// Print the events (one line each); returns how many were printed.
    pub async fn logs(&mut self, t: &Target, q: &LogQuery) -> Result<usize> {
        let service = match self.ecs.describe_service(&t.cluster, &t.service).await.map_err(|e| t.before_change(e))? {
            ServiceLookup::Found(s) => *s,
            ServiceLookup::Missing { reason } => {
                return Err(fail(
                    code::USAGE,
                    format!(
                        "ECS service '{}' not found ({reason}): apply the app layer for {} first",
                        t.service, t.env
                    ),
                ));
            }
        };
        let serving = service.task_definition().unwrap_or_default();
        if serving.is_empty() {
            return Err(fail(code::USAGE, format!("ECS service '{}' has no task definition: nothing logs", t.service)));
        }
        let (def, _) = self.ecs.describe_task_definition(serving).await.map_err(|e| t.before_change(e))?;
        let Some((group, prefix)) = taskdef::awslogs(&def) else {
            return Err(fail(
                code::USAGE,
                format!(
                    "the app container of {} does not log with awslogs (no awslogs-group and awslogs-stream-prefix): \
                     there are no CloudWatch logs to read",
                    super::decide::short(serving)
                ),
            ));
        };
        let stream = match &q.task {
            Some(task) => {
                Some(logs::stream_for_task(&prefix, taskdef::APP_CONTAINER, task).map_err(|e| fail(code::USAGE, e))?)
            }
            None => None,
        };
        let mut follow = Follow::new(q.start_ms);
        let mut printed = 0;
        let mut polls = 0;
        loop {
            let events = self
                .logs
                .filter_events(&group, stream.as_deref(), q.pattern.as_deref(), follow.start(), LIMIT)
                .await
                .map_err(|e| fail(code::USAGE, format!("reading {group}: {e}")))?;
            for event in follow.fresh(events) {
                self.ui.line(&if q.json { logs::render_json(&event).to_owned() } else { logs::render(&event) });
                printed += 1;
            }
            polls += 1;
            if !q.follow || q.max_polls.is_some_and(|m| polls >= m) {
                return Ok(printed);
            }
            self.clock.sleep(q.poll_interval).await;
            if self.clock.cancelled().is_some() {
                return Ok(printed);
            }
        }
    }
}
