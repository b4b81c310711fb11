//! Helpers for the emulator end-to-end tests: a scratch copy of infra/ driven through the real
//! `cargo xtask` binary with XTASK_ROOT, its own emulator on a free port, saved-plan reading.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod fs;
pub use fs::copy_tree;
mod python;

pub const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

pub fn have_terraform() -> bool {
    Command::new("terraform").arg("version").output().is_ok()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A scratch repository root holding a copy of infra/; `local down` and removal on drop.
pub struct Scratch {
    pub root: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let root = std::env::temp_dir().join(format!("xtask-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        copy_tree(&repo().join("infra"), &root.join("infra"));
        Self { root }
    }

    pub fn xtask(&self, args: &[&str]) -> Output {
        let started = std::time::Instant::now();
        let out = Command::new(XTASK).env("XTASK_ROOT", &self.root).args(args).output().unwrap();
        // In the log of a failed or slow run: where the time went.
        println!("xtask {args:?}: exit {:?} after {:.1}s", out.status.code(), started.elapsed().as_secs_f64());
        if !out.status.success() {
            eprintln!("--- xtask {args:?} stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        out
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.xtask(args);
        assert!(out.status.success(), "xtask {args:?} failed:\n{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn tfvars(&self, env: &str) -> PathBuf {
        self.root.join(format!("infra/envs/{env}.tfvars"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new(XTASK).env("XTASK_ROOT", &self.root).args(["local", "down"]).output();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub type Change = (String, String, String);

/// What a saved plan (`target/plans/local/<layer>.plan.json`) changes: (layer, address,
/// attribute) per attribute of an in-place update, (layer, address, `replace:<paths>`) per
/// replacement, and (layer, address, `<actions>`) for anything else.
pub fn changes(root: &Path, layer: &str) -> BTreeSet<Change> {
    let path = root.join(format!("target/plans/local/{layer}.plan.json"));
    let mut out = BTreeSet::new();
    let Ok(text) = std::fs::read_to_string(&path) else { return out };
    let json: serde_json::Value = serde_json::from_str(&text).expect("plan JSON");
    for rc in json["resource_changes"].as_array().into_iter().flatten() {
        let actions = rc["change"]["actions"].to_string();
        let address = rc["address"].as_str().unwrap().to_owned();
        match actions.as_str() {
            r#"["no-op"]"# | r#"["read"]"# => {}
            r#"["update"]"# => {
                let (before, after) = (&rc["change"]["before"], &rc["change"]["after"]);
                for (k, v) in after.as_object().unwrap() {
                    if before.get(k) != Some(v) {
                        out.insert((layer.to_owned(), address.clone(), k.clone()));
                    }
                }
            }
            r#"["delete","create"]"# | r#"["create","delete"]"# => {
                let paths: Vec<String> = rc["change"]["replace_paths"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        p.as_array()
                            .into_iter()
                            .flatten()
                            .map(|s| s.to_string().trim_matches('"').to_owned())
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .collect();
                out.insert((layer.to_owned(), address, format!("replace:{}", paths.join(","))));
            }
            other => {
                out.insert((layer.to_owned(), address, other.to_owned()));
            }
        }
    }
    out
}

/// The (layer, address, attribute) lines of a plan-gaps file; lines marked `[database]` only
/// when the environment under test has `database_enabled = true`.
pub fn gaps(file: &str, database: bool) -> BTreeSet<Change> {
    let text = std::fs::read_to_string(repo().join("infra/envs").join(file)).unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter(|l| database || !l.contains("[database]"))
        .map(|l| {
            let mut f = l.split_once('#').map_or(l, |(c, _)| c).split_whitespace().map(str::to_owned);
            (f.next().unwrap(), f.next().unwrap(), f.next().unwrap())
        })
        .collect()
}

/// `terraform test` (mocked provider, no AWS) in `dir` (relative to infra/) of a scratch copy of
/// infra/, so init's files never land in the checkout. Returns (success, stdout + stderr).
/// Nothing from the host's AWS or Terraform settings leaks in; offline machines get the
/// provider mirror as xtask configures it (XTASK_TF_MIRROR).
pub fn terraform_test(tag: &str, dir: &str, args: &[&str]) -> (bool, String) {
    let tmp = std::env::temp_dir().join(format!("xtask-tftest-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    copy_tree(&repo().join("infra"), &tmp.join("infra"));
    let chdir = tmp.join("infra").join(dir);
    let terraform = |args: &[&str]| {
        let mut cmd = Command::new("terraform");
        cmd.arg(format!("-chdir={}", chdir.display()))
            .args(args)
            .env("TF_DATA_DIR", tmp.join("data"))
            .env("TF_IN_AUTOMATION", "1");
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("AWS_") || k.starts_with("TF_VAR_") || k == "TF_CLI_ARGS" || k.starts_with("TF_CLI_ARGS_")
            {
                cmd.env_remove(k);
            }
        }
        if let Some(mirror) = std::env::var_os("XTASK_TF_MIRROR") {
            let rc = tmp.join("cli.tfrc");
            let m = PathBuf::from(mirror);
            std::fs::write(
                &rc,
                format!(
                    "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/*/*\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/*/*\"]\n  }}\n}}\n",
                    m.display()
                ),
            )
            .unwrap();
            cmd.env("TF_CLI_CONFIG_FILE", rc);
        }
        cmd.output().unwrap()
    };
    let init = terraform(&["init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly"]);
    let init =
        if init.status.success() { init } else { terraform(&["init", "-backend=false", "-input=false", "-no-color"]) };
    assert!(init.status.success(), "init in {dir}:\n{}", String::from_utf8_lossy(&init.stderr));
    let mut test = vec!["test", "-no-color"];
    test.extend(args);
    let out = terraform(&test);
    let _ = std::fs::remove_dir_all(&tmp);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A python with boto3: the tools venv's (moto brings it) or the system's.
pub fn tools_python() -> PathBuf {
    let dir = std::env::var_os("XTASK_TOOLS_DIR").map_or_else(|| repo().join("target/tools"), PathBuf::from);
    python::boto3_python(&dir).expect("a python with boto3 (installed with moto by `cargo xtask local up`)")
}

/// Run a checks script with the tools python; print its lines, fail the test on exit != 0.
pub fn run_checks(script: &str, args: &[&str]) {
    let out = Command::new(tools_python()).arg(repo().join("xtask/tests").join(script)).args(args).output().unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
