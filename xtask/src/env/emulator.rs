//! The one way xtask starts the AWS emulator (moto's server) on 127.0.0.1: `local up` keeps it
//! running in its own process group; tests hold an [`Emulator`] that stops it when dropped.
//! Self-contained (std and anyhow only): the integration tests include this file by path.

use std::ffi::OsStr;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long a cold moto may take to listen (a Python start on a loaded 2-core machine).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// `argv` (e.g. `[moto_server]` or `[python3, -m, moto.server]`) serving on 127.0.0.1:`port`,
/// with AWS's managed policies loaded (attaching one, like the ECS task execution role, needs them).
pub fn command(argv: &[impl AsRef<OsStr>], port: u16) -> Command {
    let mut cmd = Command::new(argv[0].as_ref());
    cmd.args(argv[1..].iter().map(AsRef::as_ref))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .stdin(Stdio::null());
    cmd
}

/// Wait until `child` listens on 127.0.0.1:`port`; an error if it exits or [`STARTUP_TIMEOUT`] passes.
pub fn wait_listening(child: &mut Child, port: u16) -> Result<()> {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().context("waiting for the emulator")? {
            bail!("the emulator exited before listening on 127.0.0.1:{port} ({status})");
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            bail!("the emulator did not start listening on 127.0.0.1:{port} within {} s", STARTUP_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// An emulator on a free loopback port for one test, stopped on drop.
#[cfg_attr(not(test), allow(dead_code))]
pub struct Emulator {
    child: Child,
    pub port: u16,
}

#[cfg_attr(not(test), allow(dead_code))]
impl Emulator {
    /// Start `argv` (see [`command`]) with its output discarded and wait until it listens.
    pub fn start(argv: &[impl AsRef<OsStr>]) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = command(argv, port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {:?}", argv[0].as_ref()))?;
        let mut emulator = Self { child, port };
        wait_listening(&mut emulator.child, port)?;
        Ok(emulator)
    }

    /// moto as xtask resolves it: `moto_server` on PATH (`xtask test` puts the tools
    /// directory's venv first), else `python3 -m moto.server` (a moto installed by hand). A
    /// fresh machine's python3 has no moto: the venv is the one that is always there.
    pub fn start_moto() -> Result<Self> {
        let on_path = Command::new("moto_server").arg("--help").output().is_ok_and(|o| o.status.success());
        let argv: &[&str] = if on_path { &["moto_server"] } else { &["python3", "-m", "moto.server"] };
        Self::start(argv).context(
            "no moto_server on PATH and python3 has no moto: run the tests through `cargo xtask test` (it \
             installs moto[server] into XTASK_TOOLS_DIR), or `pip install 'moto[server]==5.2.1'`",
        )
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Already gone is fine: the point is that it is not left running.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
