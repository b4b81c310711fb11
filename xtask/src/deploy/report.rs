//! What a failed rollout shows before it is rolled back: the last service events and why the
//! recent tasks of the failed revision stopped.

use aws_sdk_ecs::primitives::DateTimeFormat;
use aws_sdk_ecs::types::Task;

use super::api::{Clock, Ecs, Logs, Session, Ui};
use super::decide::{ServiceSnapshot, short};
use super::revision::Target;

/// Service events shown in a failure report.
const EVENTS_IN_REPORT: usize = 10;
/// Stopped tasks shown in a failure report.
const TASKS_IN_REPORT: usize = 5;

impl<E: Ecs, L: Logs, C: Clock, U: Ui> Session<'_, E, L, C, U> {
    /// The last service events and why recent tasks of `revision` stopped.
    pub(super) async fn report(&mut self, target: &Target, last: Option<&ServiceSnapshot>, revision: &str) {
        self.ui.line("Last service events:");
        let mut events: Vec<_> = last.map(|s| s.events.iter().collect()).unwrap_or_default();
        events.sort_by(|a, b| b.epoch.total_cmp(&a.epoch));
        if events.is_empty() {
            self.ui.line("  (none)");
        }
        for e in events.iter().take(EVENTS_IN_REPORT).rev() {
            self.ui.line(&format!("  {}: {}", e.at, e.message));
        }
        match self.ecs.stopped_tasks(&target.cluster, &target.service).await {
            Ok(tasks) => {
                let lines = stopped_task_lines(&tasks, revision);
                self.ui.line(&format!("Stopped tasks of {}:", short(revision)));
                if lines.is_empty() {
                    self.ui.line("  (none found)");
                }
                for line in lines {
                    self.ui.line(&format!("  {line}"));
                }
            }
            Err(err) => self.ui.line(&format!("(could not list stopped tasks: {err})")),
        }
    }
}

/// One line per stopped task of `revision`, newest first: reason, stop code, containers' exits.
pub fn stopped_task_lines(tasks: &[Task], revision: &str) -> Vec<String> {
    let mut ours: Vec<&Task> = tasks.iter().filter(|t| t.task_definition_arn() == Some(revision)).collect();
    ours.sort_by(|a, b| {
        b.stopped_at()
            .map(|t| t.as_secs_f64())
            .partial_cmp(&a.stopped_at().map(|t| t.as_secs_f64()))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    ours.iter()
        .take(TASKS_IN_REPORT)
        .map(|t| {
            let id = t.task_arn().unwrap_or_default().rsplit('/').next().unwrap_or_default();
            let at = t.stopped_at().and_then(|d| d.fmt(DateTimeFormat::DateTime).ok()).unwrap_or_default();
            let mut line = format!("task {id} {at}: {}", t.stopped_reason().unwrap_or("no reason given"));
            if let Some(code) = t.stop_code() {
                line.push_str(&format!(" [{}]", code.as_str()));
            }
            for c in t.containers() {
                let exit = c.exit_code().map_or("-".to_owned(), |e| e.to_string());
                line.push_str(&format!("; container {} exit {exit}", c.name().unwrap_or("?")));
                if let Some(r) = c.reason() {
                    line.push_str(&format!(" ({r})"));
                }
            }
            line
        })
        .collect()
}
