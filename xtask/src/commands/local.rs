//! `cargo xtask local up|down|status`: the AWS emulator (moto, pinned, in its own tools venv) on
//! 127.0.0.1, plus the Terraform state bucket inside it, so `--env local` works with no account.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use xshell::cmd;

use crate::base::error::CodedError;
use crate::base::paths;
use crate::env::Env;
use crate::env::aws;
use crate::env::emulator;
use crate::run::{Ctx, Step};
use crate::terraform;
use crate::tools::{self, MOTO, TERRAFORM};

#[derive(Debug, Clone, Args)]
pub struct LocalArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Start the emulator on 127.0.0.1 and create the Terraform state bucket in it.
    Up {
        /// Port for the emulator.
        #[arg(long, default_value_t = 4566)]
        port: u16,
    },
    /// Stop the emulator (its state lives in memory and is gone with it).
    Down,
    /// Is the emulator running, and where.
    Status,
}

fn dir(root: &Path) -> PathBuf {
    paths::local(root)
}

fn pid_file(root: &Path) -> PathBuf {
    dir(root).join("moto.pid")
}

fn listening(endpoint: &str) -> bool {
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    addr.parse::<SocketAddr>().is_ok_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok())
}

pub fn run(ctx: &Ctx, args: &LocalArgs) -> Result<()> {
    match args.action {
        Action::Up { port } => up(ctx, port),
        Action::Down => down(ctx),
        Action::Status => status(ctx),
    }
}

fn up(ctx: &Ctx, port: u16) -> Result<()> {
    let root = &ctx.root;
    let env = Env::load(root, "local")?;
    if let Ok(endpoint) = aws::emulator_endpoint(root)
        && listening(&endpoint)
    {
        println!("local: the emulator is already running at {endpoint}");
        return Ok(());
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    if ctx.dry_run {
        // The command `local up` spawns, with moto_server found on PATH (the tools directory
        // comes first there) instead of the path installing it returns.
        println!("{} &", crate::base::process::display(&emulator::command(&[MOTO.bin], port)));
    } else {
        let moto = tools::ensure(&ctx.sh, &ctx.root, &MOTO)?;
        TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
            CodedError::usage(format!("port {port} on 127.0.0.1 is not free ({e}); pick another with --port"))
        })?;
        std::fs::create_dir_all(dir(root))?;
        let log = std::fs::File::create(dir(root).join("moto.log"))?;
        eprintln!("local: starting the AWS emulator (moto {}) at {endpoint}; log: target/local/moto.log", MOTO.version);
        let mut child = emulator::command(&[&moto], port)
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: Ctrl-C in this terminal later does not kill it.
            .process_group(0)
            .spawn()
            .context("starting moto_server")?;
        std::fs::write(pid_file(root), child.id().to_string())?;
        let started = Instant::now();
        emulator::wait_listening(&mut child, port).context("see target/local/moto.log")?;
        std::fs::write(aws::endpoint_file(root), &endpoint)?;
        eprintln!("local: emulator up in {:.1}s", started.elapsed().as_secs_f64());
    }
    bootstrap(ctx, &env)?;
    if !ctx.dry_run {
        println!(
            "local: emulator at {endpoint}, state bucket ready. Next: cargo xtask plan --env local && cargo xtask apply --env local"
        );
    }
    Ok(())
}

/// Apply infra/bootstrap (the state bucket) against the emulator, with local state.
fn bootstrap(ctx: &Ctx, env: &Env) -> Result<()> {
    ctx.prepare(&[&TERRAFORM])?;
    let sh = &ctx.sh;
    let mut vars = aws::env_vars(&ctx.root, env).or_else(|e| if ctx.dry_run { Ok(vec![]) } else { Err(e) })?;
    vars.extend(terraform::cli_env(&ctx.root)?);
    vars.push(("TF_DATA_DIR", terraform::data_dir(&ctx.root, "local/bootstrap").to_string_lossy().into_owned()));
    let state = format!("-state={}", dir(&ctx.root).join("bootstrap.tfstate").display());
    let init = cmd!(sh, "terraform -chdir=infra/bootstrap init -input=false -no-color -lockfile=readonly")
        .envs(vars.clone())
        .quiet();
    let apply = cmd!(
        sh,
        "terraform -chdir=infra/bootstrap apply -input=false -no-color -auto-approve -var-file=../envs/local.tfvars {state}"
    );
    ctx.run(&Step::diagnosed("terraform init", Some(&TERRAFORM), init, terraform::provider_mirror_hint))?;
    ctx.run(&Step::new("bootstrap state bucket", Some(&TERRAFORM), apply.envs(vars)))?;
    Ok(())
}

fn down(ctx: &Ctx) -> Result<()> {
    let root = &ctx.root;
    let Ok(pid) = std::fs::read_to_string(pid_file(root)) else {
        println!("local: the emulator is not running");
        return Ok(());
    };
    let pid = pid.trim().to_owned();
    if ctx.dry_run {
        println!("kill -TERM {pid}");
        return Ok(());
    }
    let sh = &ctx.sh;
    let _ = cmd!(sh, "kill -TERM {pid}").quiet().ignore_status().ignore_stderr().run();
    // The emulator's state was in memory: forget everything that referred to it.
    for f in [pid_file(root), aws::endpoint_file(root), dir(root).join("bootstrap.tfstate")] {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_dir_all(paths::plans(root, "local"));
    println!("local: emulator stopped (pid {pid}); its state is gone");
    Ok(())
}

fn status(ctx: &Ctx) -> Result<()> {
    match aws::emulator_endpoint(&ctx.root) {
        Ok(endpoint) if listening(&endpoint) => {
            let pid = std::fs::read_to_string(pid_file(&ctx.root)).unwrap_or_default();
            println!("local: running at {endpoint} (pid {})", pid.trim());
            Ok(())
        }
        Ok(endpoint) => Err(CodedError::new(
            1,
            format!("local: recorded at {endpoint} but not answering; run `cargo xtask local down` then `up`"),
        )
        .into()),
        Err(_) => Err(CodedError::failed("local: not running; start it with `cargo xtask local up`")),
    }
}
