//! The real binary: configuration errors, SIGTERM drain and the healthcheck subcommand.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary with a clean environment apart from `vars`.
fn app(vars: &[(&str, &str)]) -> Command {
    let mut cmd = common::app_command();
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

struct Running {
    child: Child,
    addr: String,
    /// Every stdout line after "listening", collected until the process closes stdout.
    rest: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // (After `stop`, the child has exited: kill and wait are then no-ops.)
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start on 127.0.0.1 with an ephemeral port and read the bound address from the JSON log.
fn spawn(vars: &[(&str, &str)]) -> Running {
    spawn_cmd(app(vars))
}

fn spawn_cmd(mut cmd: Command) -> Running {
    cmd.envs([("BIND", "127.0.0.1"), ("PORT", "0"), ("LOG_FORMAT", "json")]);
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("log line before exit").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("logs are JSON lines");
        if v["fields"]["message"] == "listening" {
            break v["fields"]["addr"].as_str().unwrap().to_owned();
        }
    };
    // Keep draining stdout so the process never blocks on a full pipe.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect());
    Running { child, addr, rest: Some(rest) }
}

/// SIGTERM, wait for the exit code, and return it with the log lines written after "listening".
fn stop(mut srv: Running) -> (Option<i32>, Vec<serde_json::Value>) {
    let pid = srv.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let code = srv.child.wait().unwrap().code();
    let lines = srv.rest.take().expect("stopped once").join().unwrap();
    (code, lines.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect())
}

fn get_with_id(url: &str, id: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let res = reqwest::Client::new().get(url).header("x-request-id", id).timeout(Duration::from_secs(2)).send();
        res.await.unwrap().status().as_u16()
    })
}

fn status_of(url: &str) -> Option<u16> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        reqwest::Client::new().get(url).timeout(Duration::from_secs(2)).send().await.ok().map(|r| r.status().as_u16())
    })
}

/// Run `cmd` to completion, killing it (and failing) if it is still running after 30 s.
fn output_within_30s(cmd: &mut Command) -> std::process::Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after 30 s: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn invalid_config_exits_2_with_one_line_naming_the_variable() {
    // A port this test holds: if validation failed to stop startup, the bind would fail (exit 1,
    // not 2) at once, for any user, root included.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    for (var, value) in [
        ("PORT", "seventy"),
        ("RATE_LIMIT_RPS", "0"),
        ("RATE_LIMIT_RPS", "2000000000"),
        ("WRITE_RATE_LIMIT_PER_MINUTE", "0"),
        ("WRITE_RATE_LIMIT_BURST", "lots"),
        ("BODY_READ_TIMEOUT_SECS", "0"),
        ("API_MAX_IN_FLIGHT", "0"),
        ("RETENTION_MAX_ROWS", "0"),
        ("RETENTION_MAX_AGE_DAYS", "0"),
        ("ALLOWED_ORIGINS", "evil.example"),
        ("LOG_FORMAT", "xml"),
        ("ACCESS_LOG", "verbose"),
        ("TRUSTED_PROXY_HOPS", "-1"),
        ("REQUEST_TIMEOUT_SECS", "0"),
        ("HEADER_READ_TIMEOUT_SECS", "0"),
        ("KEEP_ALIVE_TIMEOUT_SECS", "forever"),
        ("MAX_CONNECTIONS", "0"),
        ("BIND", "not-an-ip"),
        ("DATABASE_URL", "mysql://db.example/app"),
        ("DATABASE_URL", "sqlite:"),
        ("DB_SSLMODE", "maybe"),
        ("DB_AUTH", "kerberos"),
        ("DB_APP_ROLE", "Guestbook-App"),
        ("DB_POOL_SIZE", "0"),
        ("DB_PORT", "99999"),
        ("DB_ACQUIRE_TIMEOUT_SECS", "10"),
        ("DB_STATEMENT_TIMEOUT_SECS", "8"),
        ("DB_HOST", "db.example"),
    ] {
        let mut cmd = app(&[("BIND", "127.0.0.1"), ("PORT", &port), (var, value)]);
        if var == "DB_HOST" {
            // DATABASE_URL (set for every test process) would take precedence over DB_*.
            cmd.env_remove("DATABASE_URL");
        }
        let out = output_within_30s(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line for {var}: {stderr}");
        assert!(stderr.contains(var), "{var} not named: {stderr}");
        assert!(out.stdout.is_empty(), "no server output for {var}");
    }
    // The guard itself: with valid settings, the held port makes startup fail with 1.
    let out = output_within_30s(&mut app(&[("BIND", "127.0.0.1"), ("PORT", &port)]));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    drop(held);
}

#[test]
fn empty_allowed_origins_starts_without_cors_as_documented() {
    let srv = spawn(&[("ALLOWED_ORIGINS", ""), ("SHUTDOWN_DRAIN_SECS", "0")]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let res = rt.block_on(async {
        let url = format!("http://{}/", srv.addr);
        reqwest::Client::new().get(url).header("origin", "https://a.example").send().await.unwrap()
    });
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let (code, _) = stop(srv);
    assert_eq!(code, Some(0));
}

#[test]
fn sigterm_drains_with_ready_503_then_exits_0() {
    let mut srv = spawn(&[("SHUTDOWN_DRAIN_SECS", "5")]);
    let ready = format!("http://{}/ready", srv.addr);
    assert_eq!(status_of(&ready), Some(200));

    let pid = srv.child.id().to_string();
    let sent = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // However long the signal takes to arrive: readiness fails once it has, while the listener
    // still serves (the drain lasts 5 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of(&ready) != Some(503) {
        assert!(Instant::now() < deadline, "readiness never failed after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status_of(&format!("http://{}/", srv.addr)), Some(200), "still serving during the drain");

    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = srv.child.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "did not exit after the drain");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    assert!(sent.elapsed() >= Duration::from_secs(5), "exited before the drain period: {:?}", sent.elapsed());
}

#[test]
fn healthcheck_exit_codes() {
    let srv = spawn(&[]);
    let port = srv.addr.rsplit(':').next().unwrap().to_owned();

    let ok = app(&[("PORT", &port)]).arg("healthcheck").output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));

    let url = format!("http://{}/no-such-path", srv.addr);
    let not_ok = app(&[]).args(["healthcheck", "--url", &url]).output().unwrap();
    assert_eq!(not_ok.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&not_ok.stderr).contains("404"));

    drop(srv);
    let down = app(&[("PORT", &port)]).arg("healthcheck").output().unwrap();
    assert_eq!(down.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(stderr.contains("cannot connect"), "{stderr}");

    let bad = app(&[]).args(["healthcheck", "--url", "https://127.0.0.1/health"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("only http://"));
}

#[test]
fn access_log_lines_carry_the_request_and_reach_stdout_by_exit() {
    for (mode, successes_logged) in [("errors", false), ("all", true), ("off", false)] {
        let srv = spawn(&[("ACCESS_LOG", mode), ("SHUTDOWN_DRAIN_SECS", "0")]);
        assert_eq!(get_with_id(&format!("http://{}/", srv.addr), "ok-1"), 200);
        assert_eq!(get_with_id(&format!("http://{}/missing", srv.addr), "nf-1"), 404);
        let (code, lines) = stop(srv);
        assert_eq!(code, Some(0), "{mode}");
        // The buffer is written out at exit: the last line is the last thing the process said.
        assert_eq!(lines.last().map(|l| l["fields"]["message"].clone()), Some("stopped cleanly".into()), "{mode}");
        let access: Vec<&serde_json::Value> = lines.iter().filter(|l| l["fields"]["message"] == "response").collect();
        let by_id = |id: &str| access.iter().find(|l| l["fields"]["request_id"] == id).copied();
        assert_eq!(by_id("ok-1").is_some(), successes_logged, "{mode}: 200 logged? {access:?}");
        if mode == "off" {
            assert!(access.is_empty(), "{access:?}");
            continue;
        }
        let nf = by_id("nf-1").unwrap_or_else(|| panic!("{mode}: the 404 is logged: {access:?}"));
        assert_eq!(nf["fields"]["status"], 404);
        assert!(nf["fields"]["latency_us"].is_u64(), "{nf}");
        assert_eq!(nf["fields"]["method"], "GET");
        assert_eq!(nf["fields"]["path"], "/missing");
        assert_eq!(nf["level"], "INFO");
    }
}

/// The embedded default: with no database configured, `serve` creates
/// `target/app-data/guestbook.db` under its working directory, migrates it, and a message
/// written before a restart is there after it.
#[test]
fn the_embedded_default_keeps_messages_across_restarts() {
    let dir = std::env::temp_dir().join(format!("app-default-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let start = || {
        let mut cmd = common::app_command();
        cmd.env_remove("DATABASE_URL").env("SHUTDOWN_DRAIN_SECS", "0").current_dir(&dir);
        spawn_cmd(cmd)
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let srv = start();
    let created: serde_json::Value = rt.block_on(async {
        let url = format!("http://{}/api/messages", srv.addr);
        let body = serde_json::json!({"author": "ada", "text": "still here?"});
        let res = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    });
    assert_eq!(stop(srv).0, Some(0));
    assert!(dir.join("target/app-data/guestbook.db").is_file(), "the default file is under target/");

    let srv = start();
    let fetched: serde_json::Value = rt.block_on(async {
        let url = format!("http://{}/api/messages/{}", srv.addr, created["id"]);
        reqwest::Client::new().get(url).send().await.unwrap().json().await.unwrap()
    });
    assert_eq!(fetched, created);
    assert_eq!(stop(srv).0, Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Log amplification (issue #26): a 429 storm writes no line per request, even with
/// `ACCESS_LOG=all`; the storm is one summary line per 10 s interval (or at exit) whose counts
/// add up to exactly the 429s the client got.
#[test]
fn a_429_storm_is_summarised_with_its_count_never_a_line_each() {
    let srv = spawn(&[
        ("ACCESS_LOG", "all"),
        ("RATE_LIMIT_RPS", "1"),
        ("RATE_LIMIT_BURST", "1"),
        ("SHUTDOWN_DRAIN_SECS", "0"),
    ]);
    let url = format!("http://{}/", srv.addr);
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let statuses: Vec<u16> = rt.block_on(async {
        let c = reqwest::Client::new();
        let mut all = Vec::new();
        for _ in 0..30 {
            let wave: Vec<_> =
                (0..10).map(|_| tokio::spawn(c.get(&url).timeout(Duration::from_secs(10)).send())).collect();
            for res in wave {
                all.push(res.await.unwrap().unwrap().status().as_u16());
            }
        }
        all
    });
    let elapsed = started.elapsed();
    let throttled = statuses.iter().filter(|s| **s == 429).count() as u64;
    assert!(throttled >= 250, "the limiter let too many through: {} of 300 were 429", throttled);
    let (code, lines) = stop(srv);
    assert_eq!(code, Some(0));
    let per_request: Vec<_> =
        lines.iter().filter(|l| l["fields"]["message"] == "response" && l["fields"]["status"] == 429).collect();
    assert!(per_request.is_empty(), "429s logged one by one: {per_request:?}");
    let summaries: Vec<u64> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "responses summarised" && l["fields"]["kind"] == "rate_limited")
        .map(|l| l["fields"]["count"].as_u64().unwrap())
        .collect();
    assert_eq!(summaries.iter().sum::<u64>(), throttled, "the summaries count every 429: {summaries:?}");
    let intervals = elapsed.as_secs() / 10 + 2;
    assert!(summaries.len() as u64 <= intervals, "{} summary lines in {elapsed:?}", summaries.len());
    println!("{throttled} 429s in {elapsed:?}: {} log lines in all, {} summary lines", lines.len(), summaries.len());
}
