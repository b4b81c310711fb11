//! A throwaway PostgreSQL server for tests and benchmarks: `initdb` in a fresh temporary
//! directory, `postgres` listening on 127.0.0.1 on a free port (no unix socket), stopped and its
//! directory removed when the [`PgServer`] is dropped. One harness for the app's tests and
//! `cargo xtask bench`, so there is one copy of the root problem and the binary lookup.
//!
//! - Binaries: `RDEPLOY_PG_BINDIR` (set by `cargo xtask test|ci|bench` from the tool table),
//!   else `initdb` on `PATH`, else the newest `/usr/lib/postgresql/*/bin` (Debian's layout);
//!   otherwise an error saying what to install.
//! - As root (CI here): PostgreSQL refuses to run as root, so `initdb` and `postgres` run as the
//!   `postgres` user (created by Debian's package) through `setpriv`, in a directory owned by it.
//! - Authentication: password (SCRAM) over TCP, superuser [`SUPERUSER`] / [`PASSWORD`], so a test
//!   can change a role's password and see what the app does with the old one.
//! - [`PgServer::stop`] is a fast shutdown (SIGINT: clients are disconnected at once, as when
//!   a database fails over); [`PgServer::start_again`] brings the same data directory back on the
//!   same port.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The superuser `initdb` creates.
pub const SUPERUSER: &str = "postgres";
/// Its password (the server only listens on 127.0.0.1 and lives as long as the test).
pub const PASSWORD: &str = "harness-superuser-password";

/// How long `postgres` may take to accept connections, or to stop.
const PATIENCE: Duration = Duration::from_secs(60);

/// What kind of server to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// `fsync`, `synchronous_commit` and `full_page_writes` on (a benchmark measures what a real
    /// server does); off for tests, where a crash loses nothing of value and commits are faster.
    pub durable: bool,
    /// The server's `max_connections`.
    pub max_connections: u32,
    /// The directory holding `initdb` and `postgres`; `None`: found by [`bindir`]'s rules.
    pub bindir: Option<PathBuf>,
    /// Serve TLS too (`ssl=on`) with a certificate for `localhost` and `127.0.0.1` signed by a
    /// throwaway CA ([`PgServer::ca_file`]); made with the `openssl` command (Debian's
    /// postgresql package depends on it through ssl-cert).
    pub tls: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { durable: false, max_connections: 100, bindir: None, tls: false }
    }
}

/// A running (or stopped, see [`PgServer::stop`]) PostgreSQL server owned by this process.
#[derive(Debug)]
pub struct PgServer {
    bindir: PathBuf,
    root: PathBuf,
    port: u16,
    run_as: Option<(u32, u32)>,
    options: Options,
    child: Option<Child>,
    /// How many "ready to accept connections" lines the log had when the server last started.
    ready_lines: usize,
}

impl PgServer {
    /// initdb + start a test server (not durable).
    pub fn start() -> Result<Self, String> {
        Self::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Result<Self, String> {
        let bindir = match &options.bindir {
            Some(dir) => dir.clone(),
            None => bindir()?,
        };
        let run_as = unprivileged_user()?;
        let root = temp_root()?;
        let mut server = Self { bindir, root, port: 0, run_as, options, child: None, ready_lines: 0 };
        server.init()?;
        if server.options.tls {
            server.make_certificates()?;
        }
        // The port comes from binding port 0 and closing it again: another process may take it
        // in between, so a start that fails to bind is retried on a new port.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(e) if e.contains("could not bind") || e.contains("Address already in use") => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        self.url_as(SUPERUSER, PASSWORD, database)
    }

    /// A URL for `database` as `user` with `password` (both URL-safe: letters, digits, `-_`).
    pub fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        format!("postgres://{user}:{password}@127.0.0.1:{}/{database}?sslmode=disable", self.port)
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Fast shutdown (SIGINT): open connections are terminated, in-flight transactions rolled
    /// back, and the call returns once the server has exited.
    pub fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        signal(child.id(), "INT")?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("postgres did not stop within {PATIENCE:?}; killed it"));
                }
            }
        }
    }

    /// Start the server again after [`PgServer::stop`]: same data directory, same port.
    pub fn start_again(&mut self) -> Result<(), String> {
        if self.is_running() {
            return Ok(());
        }
        self.launch()
    }

    /// The CA that signed the server's certificate (with [`Options::tls`]).
    pub fn ca_file(&self) -> PathBuf {
        self.root.join("ca.crt")
    }

    /// A CA, and a certificate for `localhost` / `127.0.0.1` signed by it, in the data directory.
    fn make_certificates(&self) -> Result<(), String> {
        let root = self.root.display().to_string();
        let ca: Vec<String> =
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pg-harness test CA"]
                .iter()
                .map(|s| (*s).to_owned())
                .chain(["-keyout".into(), format!("{root}/ca.key"), "-out".into(), format!("{root}/ca.crt")])
                .collect();
        openssl(&ca)?;
        self.write_server_certificate("DNS:localhost,IP:127.0.0.1")
    }

    /// Replace the server's certificate with one for `subject_alt_names` (openssl syntax, e.g.
    /// `DNS:db.example.invalid`), signed by the same CA ([`PgServer::ca_file`]). PostgreSQL
    /// reads it on its next configuration reload (`SELECT pg_reload_conf()`); connections made
    /// after that see the new certificate. With [`Options::tls`] only.
    pub fn reissue_server_certificate(&self, subject_alt_names: &str) -> Result<(), String> {
        if !self.options.tls {
            return Err("reissue_server_certificate needs Options::tls".into());
        }
        self.write_server_certificate(subject_alt_names)
    }

    fn write_server_certificate(&self, subject_alt_names: &str) -> Result<(), String> {
        let data = self.data();
        let ext = self.root.join("san.ext");
        fs::write(&ext, format!("subjectAltName={subject_alt_names}\n")).map_err(|e| e.to_string())?;
        let root = self.root.display().to_string();
        let data_s = data.display().to_string();
        let steps: [Vec<String>; 2] = [
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"]
                .iter()
                .map(|s| (*s).to_owned())
                .chain(["-keyout".into(), format!("{data_s}/server.key"), "-out".into(), format!("{root}/server.csr")])
                .collect(),
            ["x509", "-req", "-days", "2", "-CAcreateserial"]
                .iter()
                .map(|s| (*s).to_owned())
                .chain([
                    "-in".into(),
                    format!("{root}/server.csr"),
                    "-CA".into(),
                    format!("{root}/ca.crt"),
                    "-CAkey".into(),
                    format!("{root}/ca.key"),
                    "-extfile".into(),
                    ext.display().to_string(),
                    "-out".into(),
                    format!("{data_s}/server.crt"),
                ])
                .collect(),
        ];
        for args in steps {
            openssl(&args)?;
        }
        for file in ["server.key", "server.crt"] {
            let path = data.join(file);
            self.give(&path)?;
            // postgres refuses a key others can read.
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The server's log (stderr) so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn command(&self, program: &str) -> Command {
        let exe = self.bindir.join(program);
        let mut cmd = match self.run_as {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}")).arg(format!("--regid={gid}")).arg("--clear-groups").arg("--").arg(exe);
                c
            }
            None => Command::new(exe),
        };
        // The caller's PG* variables (PGDATA, PGPORT, ...) must not redirect the server; the
        // working directory must be one the unprivileged user can enter.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                cmd.env_remove(&key);
            }
        }
        cmd.current_dir(&self.root).stdin(Stdio::null());
        cmd
    }

    fn init(&self) -> Result<(), String> {
        let pwfile = self.root.join("pwfile");
        fs::write(&pwfile, PASSWORD).map_err(|e| format!("cannot write {}: {e}", pwfile.display()))?;
        self.give(&pwfile)?;
        let out = self
            .command("initdb")
            .arg("--pgdata")
            .arg(self.data())
            .args(["--username", SUPERUSER, "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8"])
            .args(["--locale=C", "--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bindir.join("initdb").display()))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    fn launch(&mut self) -> Result<(), String> {
        let log_path = self.log_path();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let before = count_ready(&self.log());
        let mut cmd = self.command("postgres");
        cmd.arg("-D").arg(self.data()).arg("-p").arg(self.port.to_string());
        let mut settings = vec![
            "listen_addresses=127.0.0.1".to_owned(),
            "unix_socket_directories=".to_owned(),
            format!("max_connections={}", self.options.max_connections),
        ];
        if self.options.tls {
            settings.extend([
                "ssl=on".to_owned(),
                "ssl_cert_file=server.crt".to_owned(),
                "ssl_key_file=server.key".to_owned(),
            ]);
        }
        if !self.options.durable {
            settings.extend(["fsync=off", "synchronous_commit=off", "full_page_writes=off"].map(str::to_owned));
        }
        for s in settings {
            cmd.arg("-c").arg(s);
        }
        let child = cmd.stdout(log).stderr(err).spawn().map_err(|e| format!("cannot start postgres: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.log();
            if count_ready(&text) > before {
                self.ready_lines = count_ready(&text);
                return Ok(());
            }
            let exited = self.child.as_mut().map(|c| c.try_wait());
            if let Some(Ok(Some(status))) = exited {
                self.child = None;
                return Err(format!("postgres exited ({status}) before accepting connections: {}", tail(&text)));
            }
            if Instant::now() > deadline {
                let _ = self.stop();
                return Err(format!("postgres did not accept connections within {PATIENCE:?}: {}", tail(&text)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Hand `path` to the unprivileged user when running as root.
    fn give(&self, path: &Path) -> Result<(), String> {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("cannot chown {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn count_ready(log: &str) -> usize {
    log.matches("database system is ready to accept connections").count()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join(" | ")
}

fn signal(pid: u32, sig: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .map_err(|e| format!("cannot run kill: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("kill -{sig} {pid} failed ({status})")) }
}

fn openssl(args: &[String]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run openssl (apt-get install openssl): {e}"))?;
    if !out.status.success() {
        return Err(format!("openssl {} failed: {}", args[0], String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// The directory holding `initdb` and `postgres`, by the rules of the module docs.
pub fn bindir() -> Result<PathBuf, String> {
    bindir_in(std::env::var_os("RDEPLOY_PG_BINDIR"))
}

fn bindir_in(overridden: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    if let Some(dir) = overridden.filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
            Ok(dir)
        } else {
            Err(format!("RDEPLOY_PG_BINDIR={} holds no initdb and postgres", dir.display()))
        };
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join("initdb")).find(|p| p.is_file()));
    // A PATH entry is often a symlink (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin):
    // postgres sits beside the real file.
    if let Some(dir) = on_path
        .and_then(|p| fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_owned))
        .filter(|dir| dir.join("postgres").is_file())
    {
        return Ok(dir);
    }
    let newest = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let dir = e.path().join("bin");
            (dir.join("initdb").is_file() && dir.join("postgres").is_file()).then_some((version, dir))
        })
        .max();
    newest.map(|(_, dir)| dir).ok_or_else(|| {
        "PostgreSQL server binaries not found: apt-get install postgresql, or set RDEPLOY_PG_BINDIR \
         to the directory holding initdb and postgres"
            .to_owned()
    })
}

/// `Some((uid, gid))` of the `postgres` user when this process is root, else `None`.
fn unprivileged_user() -> Result<Option<(u32, u32)>, String> {
    use std::os::unix::fs::MetadataExt;
    let euid = fs::metadata("/proc/self").map(|m| m.uid()).map_err(|e| format!("cannot read /proc/self: {e}"))?;
    if euid != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() > 3 && f[0] == "postgres").then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })
        .map(Some)
        .ok_or_else(|| {
            "running as root, and PostgreSQL refuses to: create a `postgres` user (apt-get install postgresql does) \
             or run the tests as a normal user"
                .to_owned()
        })
}

fn temp_root() -> Result<PathBuf, String> {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let root = std::env::temp_dir().join(format!(
        "rdeploy-pg-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    if let Some((uid, gid)) = unprivileged_user()? {
        std::os::unix::fs::chown(&root, Some(uid), Some(gid))
            .map_err(|e| format!("cannot chown {}: {e}", root.display()))?;
    }
    Ok(root)
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_stops_and_starts_again_on_the_same_port() {
        let mut pg = PgServer::start().unwrap();
        let port = pg.port();
        assert!(pg.is_running());
        let tcp = |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        assert!(tcp(port), "{}", pg.log());
        pg.stop().unwrap();
        assert!(!pg.is_running());
        assert!(!tcp(port), "still listening after stop");
        pg.start_again().unwrap();
        assert_eq!(pg.port(), port);
        assert!(tcp(port), "{}", pg.log());
        let root = pg.root.clone();
        drop(pg);
        assert!(!root.exists(), "the temporary directory outlived the server");
    }

    #[test]
    fn a_missing_bindir_is_one_clear_line() {
        let err = bindir_in(Some("/nonexistent/pg/bin".into())).unwrap_err();
        assert!(err.contains("RDEPLOY_PG_BINDIR=/nonexistent/pg/bin"), "{err}");
        assert!(!err.contains('\n'));
    }
}
