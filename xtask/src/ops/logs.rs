//! `cargo xtask logs --env E [--follow] [--since 10m] [--task ID] [--filter TEXT] [--json]`: the
//! app's CloudWatch log events (FilterLogEvents on the app's log group).
//!
//! - the group and the streams come from the serving task definition's `awslogs` options
//!   (infra/modules/ecs-service: group `/ecs/<name>-app`, stream prefix `app`), so a task's
//!   stream is `<prefix>/<container>/<task-id>` (`app/app/<id>`);
//! - `--since`: how far back (`10m`, `2h`, `1d`, `90s`; default 10m);
//! - `--filter TEXT`: CloudWatch filter pattern; plain text is quoted into one term, a pattern
//!   (`{ $.level = "ERROR" }`, `[...]`, `"..."`) is passed as it is;
//! - `--follow`: FilterLogEvents polled from the last event seen ([`Follow`]), not StartLiveTail:
//!   live tail is an HTTP/2 event stream on a host-prefixed endpoint that the emulator cannot serve
//!   (`stream-127.0.0.1` does not resolve), and polling is the same call as the non-follow path;
//! - a terminal gets one line per event ([`render`]): time, level, message, key fields, task;
//!   `--json` prints each event's message as it is (the app's JSON line, one per line).

use std::collections::BTreeMap;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::Value;

/// `--since`'s default.
pub const DEFAULT_SINCE: &str = "10m";

/// `now_ms` minus `--since`: the FilterLogEvents startTime (ms since the epoch).
pub fn since(text: &str, now_ms: i64) -> Result<i64, String> {
    let bad = || format!("--since '{text}': use a duration such as 10m, 90s, 2h or 1d");
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(bad()),
    };
    if n == 0 || secs > 30 * 86_400 {
        return Err(format!("--since '{text}': between 1s and 30d"));
    }
    Ok(now_ms - secs * 1000)
}

/// The stream of one task: `--task` is its ID (32 hex characters, as `status` shows) or its ARN.
pub fn stream_for_task(prefix: &str, container: &str, task: &str) -> Result<String, String> {
    let id = task.trim().rsplit('/').next().unwrap_or_default();
    if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "--task '{task}': not an ECS task ID (32 hex characters) or task ARN; `cargo xtask status` lists the tasks"
        ));
    }
    Ok(format!("{prefix}/{container}/{}", id.to_ascii_lowercase()))
}

/// The task ID of a stream named `<prefix>/<container>/<task-id>`.
pub fn task_of_stream(stream: &str) -> &str {
    stream.rsplit('/').next().unwrap_or(stream)
}

/// `--filter TEXT` as a CloudWatch filter pattern.
pub fn filter_pattern(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("--filter: give the text to look for, e.g. --filter timeout, or a pattern such as '{ $.level = \"ERROR\" }'".into());
    }
    if text.starts_with('{')
        || text.starts_with('[')
        || (text.len() > 1 && text.starts_with('"') && text.ends_with('"'))
    {
        return Ok(text.to_owned());
    }
    Ok(format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// One log event as FilterLogEvents returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub stream: String,
    /// ms since the epoch.
    pub timestamp: i64,
    pub message: String,
}

/// Fields shown first, in this order; the rest follow sorted by name.
const KEY_FIELDS: [&str; 7] = ["method", "path", "status", "latency_us", "error", "request_id", "database"];

/// One readable line: `2026-12-06T22:00:00Z ERROR message  key=value ...  [task 0123abcd]`.
/// A line that is not the app's JSON (tracing-subscriber's `{timestamp, level, fields{message,
/// ...}, target}`) shows as it is, after the event's time.
pub fn render(event: &Event) -> String {
    let task = task_of_stream(&event.stream);
    let task = format!("[task {}]", task.get(..8).unwrap_or(task));
    let at = DateTime::from_millis(event.timestamp).fmt(Format::DateTime).unwrap_or_default();
    let Ok(Value::Object(line)) = serde_json::from_str::<Value>(&event.message) else {
        return format!("{at} {}  {task}", event.message.trim_end());
    };
    let at = line.get("timestamp").and_then(Value::as_str).map_or(at, trim_fraction);
    let level = line.get("level").and_then(Value::as_str).unwrap_or("-");
    let mut fields: BTreeMap<String, Value> = match line.get("fields") {
        Some(Value::Object(f)) => f.clone().into_iter().collect(),
        _ => BTreeMap::new(),
    };
    let message = match fields.remove("message") {
        Some(Value::String(m)) => m,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut parts = Vec::new();
    for key in KEY_FIELDS {
        if let Some(v) = fields.remove(key) {
            parts.push(format!("{key}={}", show(&v)));
        }
    }
    parts.extend(fields.iter().map(|(k, v)| format!("{k}={}", show(v))));
    let fields = if parts.is_empty() { String::new() } else { format!("  {}", parts.join(" ")) };
    format!("{at} {level:<5} {message}{fields}  {task}")
}

/// `--json`: the message as it is.
pub fn render_json(event: &Event) -> &str {
    event.message.trim_end()
}

/// `2026-12-06T22:00:00.123456Z` -> `2026-12-06T22:00:00.123Z` (milliseconds are enough here).
fn trim_fraction(t: &str) -> String {
    match (t.find('.'), t.strip_suffix('Z')) {
        (Some(dot), Some(_)) if t.len() > dot + 4 => format!("{}Z", &t[..dot + 4]),
        _ => t.to_owned(),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() || s.contains(' ') => format!("{s:?}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `--follow` by polling: the next startTime, and which events of an answer are new. An answer
/// from `start` repeats the events at `start`'s millisecond (startTime is inclusive), so those
/// already printed are skipped by id.
#[derive(Debug, Clone)]
pub struct Follow {
    start: i64,
    /// Ids of the events printed at `start`'s millisecond.
    at_start: Vec<String>,
}

impl Follow {
    pub fn new(start: i64) -> Self {
        Self { start, at_start: Vec::new() }
    }

    /// The startTime of the next FilterLogEvents.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The events of one answer (all its pages) not printed yet, oldest first.
    pub fn fresh(&mut self, mut events: Vec<Event>) -> Vec<Event> {
        events.sort_by_key(|e| e.timestamp);
        let fresh: Vec<Event> = events
            .into_iter()
            .filter(|e| e.timestamp > self.start || (e.timestamp == self.start && !self.at_start.contains(&e.id)))
            .collect();
        if let Some(last) = fresh.last().map(|e| e.timestamp) {
            if last > self.start {
                self.start = last;
                self.at_start.clear();
            }
            self.at_start.extend(fresh.iter().filter(|e| e.timestamp == last).map(|e| e.id.clone()));
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_594_400_000; // 2026-12-06T22:00:00Z

    fn event(id: &str, ts: i64, message: &str) -> Event {
        Event {
            id: id.into(),
            stream: "app/app/0123456789abcdef0123456789abcdef".into(),
            timestamp: ts,
            message: message.into(),
        }
    }

    #[test]
    fn since_takes_durations() {
        assert_eq!(since("10m", NOW), Ok(NOW - 600_000));
        assert_eq!(since("90s", NOW), Ok(NOW - 90_000));
        assert_eq!(since("90", NOW), Ok(NOW - 90_000));
        assert_eq!(since("2h", NOW), Ok(NOW - 7_200_000));
        assert_eq!(since("1d", NOW), Ok(NOW - 86_400_000));
        for bad in ["", "m", "10x", "1h30", "-5m", "0m", "31d", "ten"] {
            let err = since(bad, NOW).unwrap_err();
            assert!(err.starts_with("--since"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_task_id_or_arn_is_its_stream() {
        let id = "0123456789ABCDEF0123456789abcdef";
        assert_eq!(stream_for_task("app", "app", id).unwrap(), "app/app/0123456789abcdef0123456789abcdef");
        let arn = format!("arn:aws:ecs:eu-west-1:1:task/rdeploy-dev-cluster/{id}");
        assert_eq!(stream_for_task("app", "app", &arn).unwrap(), "app/app/0123456789abcdef0123456789abcdef");
        for bad in ["", "0123", "zz23456789abcdef0123456789abcdef", "rdeploy-dev-cluster/"] {
            assert!(stream_for_task("app", "app", bad).unwrap_err().contains("not an ECS task ID"), "{bad}");
        }
    }

    #[test]
    fn filter_text_is_one_quoted_term_and_patterns_pass() {
        assert_eq!(filter_pattern("timeout").unwrap(), "\"timeout\"");
        assert_eq!(filter_pattern("pool timed out").unwrap(), "\"pool timed out\"");
        assert_eq!(filter_pattern(r#"say "hi""#).unwrap(), r#""say \"hi\"""#);
        assert_eq!(filter_pattern(r#"{ $.level = "ERROR" }"#).unwrap(), r#"{ $.level = "ERROR" }"#);
        assert_eq!(filter_pattern("[ip, user]").unwrap(), "[ip, user]");
        assert!(filter_pattern("  ").is_err());
    }

    #[test]
    fn the_apps_json_lines_read_as_one_line() {
        let line = r#"{"timestamp":"2026-12-06T21:59:58.123456Z","level":"INFO","fields":{"message":"response","status":500,"path":"/api/x","method":"GET","latency_us":1234,"request_id":"r-1","zone":"b"},"target":"app::access_log"}"#;
        assert_eq!(
            render(&event("1", NOW, line)),
            "2026-12-06T21:59:58.123Z INFO  response  method=GET path=/api/x status=500 latency_us=1234 request_id=r-1 zone=b  [task 01234567]"
        );
        let err = r#"{"timestamp":"2026-12-06T22:00:00Z","level":"ERROR","fields":{"message":"server error","error":"pool timed out"}}"#;
        assert_eq!(
            render(&event("2", NOW, err)),
            "2026-12-06T22:00:00Z ERROR server error  error=\"pool timed out\"  [task 01234567]"
        );
        // Not JSON (a panic message, the runtime): as it is, after CloudWatch's time.
        assert_eq!(
            render(&event("3", NOW, "thread 'main' panicked\n")),
            "2026-12-06T22:00:00Z thread 'main' panicked  [task 01234567]"
        );
        assert_eq!(render_json(&event("1", NOW, &format!("{line}\n"))), line);
    }

    #[test]
    fn follow_prints_each_event_once() {
        let mut f = Follow::new(NOW);
        let first = f.fresh(vec![event("b", NOW + 5, "2"), event("a", NOW + 1, "1"), event("c", NOW + 5, "3")]);
        assert_eq!(first.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(f.start(), NOW + 5);
        // The next answer starts at NOW+5 (inclusive): b and c come again, d is new at the same ms.
        let second = f.fresh(vec![event("b", NOW + 5, "2"), event("c", NOW + 5, "3"), event("d", NOW + 5, "4")]);
        assert_eq!(second.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["d"]);
        assert!(f.fresh(vec![event("d", NOW + 5, "4")]).is_empty());
        let third = f.fresh(vec![event("e", NOW + 9, "5")]);
        assert_eq!((third.len(), f.start()), (1, NOW + 9));
        assert!(f.fresh(vec![]).is_empty());
    }
}
