//! Helpers for the emulator end-to-end tests: a scratch copy of infra/ driven through the real
//! `cargo xtask` binary with XTASK_ROOT, its own emulator on a free port, saved-plan reading.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

pub fn have_terraform() -> bool {
    Command::new("terraform").arg("version").output().is_ok()
}

/// Copy `from` to `to`, keeping symlinks and skipping terraform's working directories.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        // The committed .terraform.lock.hcl files come along: xtask inits with -lockfile=readonly.
        if name == ".terraform" || name.to_string_lossy().ends_with(".tfstate") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let meta = std::fs::symlink_metadata(&src).unwrap();
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if meta.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
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
        let out = Command::new(XTASK).env("XTASK_ROOT", &self.root).args(args).output().unwrap();
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

/// The (layer, address, attribute) lines of a plan-gaps file, without `[database]` lines.
pub fn gaps(file: &str) -> BTreeSet<Change> {
    let text = std::fs::read_to_string(repo().join("infra/envs").join(file)).unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty() && !l.contains("[database]"))
        .map(|l| {
            let mut f = l.split_once('#').map_or(l, |(c, _)| c).split_whitespace().map(str::to_owned);
            (f.next().unwrap(), f.next().unwrap(), f.next().unwrap())
        })
        .collect()
}

/// A python with boto3: the tools venv's (moto brings it) or the system's.
pub fn tools_python() -> PathBuf {
    let dir = std::env::var_os("XTASK_TOOLS_DIR").map_or_else(|| repo().join("target/tools"), PathBuf::from);
    [dir.join("venvs/moto/bin/python"), PathBuf::from("python3")]
        .into_iter()
        .find(|p| Command::new(p).args(["-c", "import boto3"]).output().is_ok_and(|o| o.status.success()))
        .expect("a python with boto3 (installed with moto by `cargo xtask local up`)")
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
