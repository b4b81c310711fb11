//! `cargo xtask image` for real: build the FROM-scratch image with podman, run it with a port
//! published on 127.0.0.1, and check health, the HEALTHCHECK, the user, and a clean SIGTERM stop.
//! Skipped (with the reason) where no container engine can run.
//! test-expected-seconds: 170

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

fn podman(args: &[&str]) -> std::process::Output {
    Command::new("podman").args(args).output().expect("podman runs")
}

fn engine_works() -> Result<(), String> {
    match Command::new("podman").arg("info").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => {
            Err(format!("podman info failed: {}", String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("")))
        }
        Err(e) => Err(format!("podman is not installed ({e})")),
    }
}

fn get(url: &str) -> Option<(u16, String)> {
    // A plain HTTP/1.0 exchange keeps this test free of an HTTP client dependency.
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
    }
}

#[test]
fn image_builds_small_runs_healthy_as_non_root_and_stops_cleanly() {
    if let Err(why) = engine_works() {
        eprintln!("skipped: no container engine can run here: {why}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out =
        Command::new(XTASK).args(["image", "--env", "local", "--allow-dirty", "--engine", "podman"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "image build failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("push skipped") || !stdout.contains("push"), "{stdout}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("target/images/local.json")).unwrap()).unwrap();
    let (uri, tag) = (record["uri"].as_str().unwrap().to_owned(), record["tag"].as_str().unwrap().to_owned());
    let size = record["size_bytes"].as_u64().unwrap();
    println!("image {uri}: {:.2} MB", size as f64 / 1e6);
    assert!(size > 0 && size < 15_000_000, "image is {size} bytes; the target is under 15 MB");

    let inspect = podman(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}}|{{json .Config.Healthcheck}}|{{index .Config.Labels \"org.opencontainers.image.revision\"}}",
        &uri,
    ]);
    let inspect = String::from_utf8_lossy(&inspect.stdout).trim().to_owned();
    assert!(inspect.starts_with("10001:10001|"), "{inspect}");
    assert!(inspect.contains("healthcheck"), "HEALTHCHECK kept: {inspect}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let name = format!("xtask-image-test-{}", std::process::id());
    let publish = format!("127.0.0.1:{port}:5000");
    let started = Instant::now();
    // As ECS runs it without a database (read-only root filesystem): a per-task in-memory SQLite.
    let run = podman(&[
        "run",
        "-d",
        "--read-only",
        "--name",
        &name,
        "-p",
        &publish,
        "-e",
        "SHUTDOWN_DRAIN_SECS=1",
        "-e",
        "DATABASE_URL=sqlite::memory:",
        &uri,
    ]);
    assert!(run.status.success(), "podman run: {}", String::from_utf8_lossy(&run.stderr));
    let _container = Container(name.clone());
    let url = format!("http://127.0.0.1:{port}/health");
    let (status, body) = loop {
        if let Some(r) = get(&url) {
            break r;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no answer on {url}");
        std::thread::sleep(Duration::from_millis(10));
    };
    println!("container start to first answer on /health: {} ms", started.elapsed().as_millis());
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["version"], tag.as_str());

    let hc = podman(&["healthcheck", "run", &name]);
    assert!(
        hc.status.success(),
        "HEALTHCHECK failed: {}{}",
        String::from_utf8_lossy(&hc.stdout),
        String::from_utf8_lossy(&hc.stderr)
    );

    let pid =
        String::from_utf8_lossy(&podman(&["inspect", "--format", "{{.State.Pid}}", &name]).stdout).trim().to_owned();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid.split_whitespace().nth(1) == Some("10001"), "process runs as {uid}");

    let stop_started = Instant::now();
    let stop = podman(&["stop", "-t", "15", &name]);
    assert!(stop.status.success());
    let took = stop_started.elapsed();
    let code = String::from_utf8_lossy(&podman(&["inspect", "--format", "{{.State.ExitCode}}", &name]).stdout)
        .trim()
        .to_owned();
    println!("podman stop (SIGTERM, 1 s drain) took {} ms, exit code {code}", took.as_millis());
    assert_eq!(code, "0", "SIGTERM exits 0");
    assert!(
        took < Duration::from_secs(10),
        "stopped by SIGTERM within the drain, not killed after the timeout: {took:?}"
    );
}
