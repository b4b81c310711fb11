//! Provisioning: before `cargo xtask ci` or `setup` checks anything, install the system tools it
//! needs that are missing, with the machine's package manager: apt-get on Debian/Ubuntu (as root,
//! or through `sudo -n`), Homebrew on macOS. The packages come from the tool table
//! (`Source::System { apt, brew }` in `tools.rs`). The exact command is printed first.
//!
//! Where xtask cannot install (no root and no password-less sudo, another OS, no Homebrew, or
//! `XTASK_NO_SYSTEM_INSTALL=1`), it stops before any check with one message: every missing tool
//! in one list, and the one command that installs them all.
//!
//! [`decide`] is the whole decision, a pure function of the machine and the missing tools; the
//! rest is probing the machine and running what it decided.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use xshell::Shell;

use crate::base::error::CodedError;
use crate::tools::{self, Probe, Source, Tool};

/// The environment variable that stops xtask from installing anything outside the repository.
pub const OPT_OUT: &str = "XTASK_NO_SYSTEM_INSTALL";

/// The package manager xtask can drive on this machine, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Os {
    /// Debian, Ubuntu or a derivative with apt-get.
    Debian,
    Mac,
    /// Anything else: its name as `/etc/os-release` or Rust call it.
    Other(String),
}

/// What xtask may do on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub os: Os,
    /// Running as uid 0.
    pub root: bool,
    /// `sudo -n true` succeeds (sudo without a password).
    pub sudo: bool,
    /// `brew` is on PATH.
    pub brew: bool,
    /// `XTASK_NO_SYSTEM_INSTALL=1`.
    pub opted_out: bool,
}

/// What to do before the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Commands to run, in order, each printed before it runs (argv).
    pub run: Vec<Vec<String>>,
    /// Stop (exit 2) with this message after `run`: tools that nothing here installs.
    pub stop: Option<String>,
}

impl Plan {
    fn nothing() -> Self {
        Self { run: Vec::new(), stop: None }
    }
}

/// The packages of `tool` for `os`'s package manager (empty: none installs it).
pub fn packages(tool: &Tool, os: &Os, llvm_major: &str) -> Vec<String> {
    let Source::System { apt, brew, .. } = tool.source else { return Vec::new() };
    let list = match os {
        Os::Debian => apt,
        Os::Mac => brew,
        Os::Other(_) => &[][..],
    };
    list.iter().map(|p| p.replace("{llvm}", llvm_major)).collect()
}

/// The decision: which commands install `missing` (system tools, in table order) on `machine`,
/// and what to say about the rest. `llvm_major` is rustc's LLVM major version.
pub fn decide(machine: &Machine, missing: &[&Tool], llvm_major: &str) -> Plan {
    if missing.is_empty() {
        return Plan::nothing();
    }
    let os = &machine.os;
    let (installable, manual): (Vec<&Tool>, Vec<&Tool>) =
        missing.iter().copied().partition(|t| !packages(t, os, llvm_major).is_empty());
    let pkgs: Vec<String> = installable.iter().flat_map(|t| packages(t, os, llvm_major)).collect();
    let manual_lines: Vec<String> =
        manual.iter().map(|t| format!("  {}: {}", t.name, tools::install_hint(t, Path::new(".")))).collect();
    let names = |tools: &[&Tool]| tools.iter().map(|t| t.name).collect::<Vec<_>>().join(", ");
    let why_not = match os {
        _ if machine.opted_out => Some(format!("{OPT_OUT}=1 is set")),
        Os::Debian if !machine.root && !machine.sudo => {
            Some("not root, and sudo asks for a password (`sudo -n true` failed)".to_owned())
        }
        Os::Mac if !machine.brew => Some("Homebrew (brew) is not installed: https://brew.sh".to_owned()),
        Os::Other(name) => {
            Some(format!("xtask installs system packages on Debian/Ubuntu and macOS only, not on {name}"))
        }
        _ => None,
    };
    let manual_text = |intro: &str| {
        if manual_lines.is_empty() { String::new() } else { format!("\n{intro}\n{}", manual_lines.join("\n")) }
    };
    match why_not {
        None => {
            let run = if pkgs.is_empty() { Vec::new() } else { install_commands(machine, &pkgs) };
            let stop = (!manual.is_empty()).then(|| {
                format!(
                    "missing system tools that no {} package installs: {}{}\nthen run the command again (`cargo xtask doctor` shows every tool).",
                    manager(os),
                    names(&manual),
                    manual_text("install them by hand:")
                )
            });
            Plan { run, stop }
        }
        Some(reason) => {
            let mut message =
                format!("missing system tools: {} (xtask did not install them: {reason}).", names(missing));
            if !pkgs.is_empty() {
                let sudo = if *os == Os::Debian && !machine.root { "sudo " } else { "" };
                let command = match os {
                    Os::Debian => format!("{sudo}apt-get install -y --no-install-recommends {}", pkgs.join(" ")),
                    _ => format!("brew install {}", pkgs.join(" ")),
                };
                message.push_str(&format!("\ninstall them all with:\n  {command}"));
                message.push_str(&manual_text("and by hand:"));
            } else {
                message.push_str(&manual_text("install them with:"));
            }
            message.push_str("\nthen run the command again (`cargo xtask doctor` shows every tool).");
            Plan { run: Vec::new(), stop: Some(message) }
        }
    }
}

fn manager(os: &Os) -> &'static str {
    if *os == Os::Mac { "Homebrew" } else { "apt" }
}

fn install_commands(machine: &Machine, pkgs: &[String]) -> Vec<Vec<String>> {
    let words = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
    match machine.os {
        Os::Debian => {
            let prefix = if machine.root { words("env") } else { words("sudo -n env") };
            let apt = |rest: &str| {
                let mut argv = prefix.clone();
                argv.extend(words("DEBIAN_FRONTEND=noninteractive apt-get"));
                argv.extend(words(rest));
                argv
            };
            let mut install = apt("install -y -qq --no-install-recommends");
            install.extend(pkgs.iter().cloned());
            vec![apt("update -qq"), install]
        }
        _ => {
            let mut install = words("brew install");
            install.extend(pkgs.iter().cloned());
            vec![install]
        }
    }
}

/// The containers.conf podman needs on a Linux machine without systemd, as root (a CI container
/// like this project's): runc (crun fails there), cgroupfs (no systemd to manage cgroups) and
/// explicit ulimits. None when the machine does not need it or already has it.
pub fn podman_conf(
    linux: bool,
    root: bool,
    systemd: bool,
    podman_needed: bool,
    exists: bool,
) -> Option<(&'static str, &'static str)> {
    (linux && root && !systemd && podman_needed && !exists).then_some((PODMAN_CONF, PODMAN_CONF_TEXT))
}

pub const PODMAN_CONF: &str = "/etc/containers/containers.conf.d/50-rdeploy-ci.conf";
const PODMAN_CONF_TEXT: &str = "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n";

/// Install what `tools` needs from the system and is missing (see the module docs), then write
/// podman's configuration where this kind of machine needs it. `--dry-run` prints the commands.
pub fn provision(sh: &Shell, dry_run: bool, tools: &[&'static Tool]) -> Result<()> {
    let path = sh.var_os("PATH").unwrap_or_default();
    let system: Vec<&'static Tool> =
        tools.iter().copied().filter(|t| matches!(t.source, Source::System { .. })).collect();
    let missing: Vec<&Tool> = system.iter().copied().filter(|t| tools::probe(t, &path) == Probe::Missing).collect();
    let machine = Machine::detect(&path, !missing.is_empty());
    if !missing.is_empty() {
        let llvm_major = crate::base::rustc::field("LLVM version")
            .ok()
            .and_then(|v| v.split('.').next().map(str::to_owned))
            .unwrap_or_else(|| "<N>".into());
        let plan = decide(&machine, &missing, &llvm_major);
        let names: Vec<&str> = missing.iter().map(|t| t.name).collect();
        if !plan.run.is_empty() {
            let verb = if dry_run { "would install" } else { "installing" };
            eprintln!("xtask: {verb} the missing system tools ({}):", names.join(", "));
        }
        for argv in &plan.run {
            let shown = argv.join(" ");
            if dry_run {
                println!("{shown}");
                continue;
            }
            eprintln!("$ {shown}");
            let status =
                Command::new(&argv[0]).args(&argv[1..]).status().with_context(|| format!("running {shown}"))?;
            if !status.success() {
                return Err(CodedError::usage(format!(
                    "installing the system tools failed ({status}): {shown}\nrun it yourself to see why, or set {OPT_OUT}=1 and install them your way (`cargo xtask doctor` lists them)"
                )));
            }
        }
        if let Some(stop) = plan.stop {
            return Err(CodedError::usage(stop));
        }
    }
    let podman_needed = system.contains(&&tools::PODMAN);
    let conf = Path::new(PODMAN_CONF);
    let systemd = Path::new("/run/systemd/system").is_dir();
    if !machine.opted_out
        && let Some((file, text)) =
            podman_conf(cfg!(target_os = "linux"), machine.root, systemd, podman_needed, conf.exists())
    {
        let what = "podman on a machine without systemd: runtime runc, cgroupfs, explicit ulimits";
        if dry_run {
            println!("# would write {file} ({what})");
        } else {
            std::fs::create_dir_all(conf.parent().expect("an absolute path"))
                .with_context(|| format!("creating the directory of {file}"))?;
            std::fs::write(conf, text).with_context(|| format!("writing {file}"))?;
            eprintln!("xtask: wrote {file} ({what}); delete it to undo");
        }
    }
    Ok(())
}

impl Machine {
    /// This machine, as xtask may treat it. `sudo -n true` is only tried when `ask_sudo` (when
    /// something is missing): nothing else needs it.
    pub fn detect(path: &std::ffi::OsStr, ask_sudo: bool) -> Self {
        let on_path = |bin: &str| std::env::split_paths(path).any(|d| d.join(bin).is_file());
        let os = match std::env::consts::OS {
            "macos" => Os::Mac,
            "linux" => {
                let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
                if is_debian_like(&release) && on_path("apt-get") {
                    Os::Debian
                } else {
                    Os::Other(os_release_name(&release).unwrap_or_else(|| "this Linux".into()))
                }
            }
            other => Os::Other(other.to_owned()),
        };
        let root =
            Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let sudo = ask_sudo
            && !root
            && on_path("sudo")
            && Command::new("sudo")
                .args(["-n", "true"])
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        let opted_out = std::env::var(OPT_OUT).is_ok_and(|v| !v.is_empty() && v != "0");
        Self { os, root, sudo, brew: on_path("brew"), opted_out }
    }
}

/// `/etc/os-release` of Debian, Ubuntu or a derivative (`ID_LIKE=debian`).
fn is_debian_like(release: &str) -> bool {
    release.lines().any(|l| {
        let (key, value) = l.split_once('=').unwrap_or_default();
        (key == "ID" || key == "ID_LIKE")
            && value.trim_matches('"').split(' ').any(|id| id == "debian" || id == "ubuntu")
    })
}

fn os_release_name(release: &str) -> Option<String> {
    release.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{ALL, CHROMEDRIVER, CHROMIUM, LLVM, PODMAN, POSTGRES, TERRAFORM};

    fn machine(os: Os, root: bool, sudo: bool) -> Machine {
        Machine { os, root, sudo, brew: false, opted_out: false }
    }

    fn shown(plan: &Plan) -> Vec<String> {
        plan.run.iter().map(|argv| argv.join(" ")).collect()
    }

    #[test]
    fn nothing_missing_means_nothing_to_do_on_any_machine() {
        for os in [Os::Debian, Os::Mac, Os::Other("Fedora".into())] {
            assert_eq!(decide(&machine(os, false, false), &[], "22"), Plan::nothing());
        }
    }

    #[test]
    fn debian_as_root_installs_every_missing_package_in_one_apt_get() {
        let plan = decide(&machine(Os::Debian, true, false), &[&PODMAN, &LLVM, &CHROMIUM, &CHROMEDRIVER], "22");
        assert_eq!(
            shown(&plan),
            [
                "env DEBIAN_FRONTEND=noninteractive apt-get update -qq",
                "env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc nftables llvm-22 chromium chromium-driver",
            ]
        );
        assert_eq!(plan.stop, None);
    }

    #[test]
    fn debian_with_passwordless_sudo_goes_through_sudo_n() {
        let plan = decide(&machine(Os::Debian, false, true), &[&POSTGRES], "22");
        assert_eq!(
            shown(&plan)[1],
            "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql"
        );
    }

    #[test]
    fn without_root_or_sudo_it_stops_naming_every_tool_and_the_one_command() {
        let plan = decide(&machine(Os::Debian, false, false), &[&PODMAN, &LLVM, &CHROMIUM, &CHROMEDRIVER], "22");
        assert!(plan.run.is_empty(), "nothing runs");
        let stop = plan.stop.unwrap();
        assert!(stop.starts_with("missing system tools: podman, llvm-cov, chromium, chromedriver ("), "{stop}");
        assert!(stop.contains("sudo -n true"), "says why: {stop}");
        assert!(
            stop.contains(
                "\n  sudo apt-get install -y --no-install-recommends podman runc nftables llvm-22 chromium chromium-driver\n"
            ),
            "{stop}"
        );
        assert!(stop.ends_with("`cargo xtask doctor` shows every tool)."), "{stop}");
    }

    #[test]
    fn the_opt_out_variable_wins_even_as_root() {
        let m = Machine { opted_out: true, ..machine(Os::Debian, true, true) };
        let plan = decide(&m, &[&CHROMIUM], "22");
        assert!(plan.run.is_empty());
        let stop = plan.stop.unwrap();
        assert!(stop.contains("XTASK_NO_SYSTEM_INSTALL=1 is set"), "{stop}");
        assert!(
            stop.contains("\n  apt-get install -y --no-install-recommends chromium\n"),
            "root needs no sudo: {stop}"
        );
    }

    #[test]
    fn terraform_has_no_debian_package_so_it_is_named_with_its_hint_after_the_install() {
        let plan = decide(&machine(Os::Debian, true, false), &[&TERRAFORM, &PODMAN], "22");
        assert_eq!(plan.run.len(), 2, "podman is still installed");
        let stop = plan.stop.unwrap();
        assert!(stop.contains("no apt package installs: terraform"), "{stop}");
        assert!(stop.contains("developer.hashicorp.com/terraform/install"), "{stop}");
        assert!(!stop.contains("podman"), "{stop}");
        // Where nothing can install, terraform is still in the one list, with its hint.
        let stop = decide(&machine(Os::Debian, false, false), &[&TERRAFORM, &PODMAN], "22").stop.unwrap();
        assert!(stop.starts_with("missing system tools: terraform, podman ("), "{stop}");
        assert!(stop.contains("and by hand:\n  terraform: install Terraform"), "{stop}");
    }

    #[test]
    fn macos_uses_homebrew_when_present_and_says_so_when_not() {
        let with_brew = Machine { brew: true, ..machine(Os::Mac, false, false) };
        let plan = decide(&with_brew, &[&TERRAFORM, &CHROMIUM, &CHROMEDRIVER, &LLVM], "22");
        assert_eq!(
            shown(&plan),
            ["brew install hashicorp/tap/terraform homebrew/cask/chromium homebrew/cask/chromedriver"]
        );
        assert!(plan.stop.unwrap().contains("llvm-cov: rustup component add llvm-tools"), "rustc's LLVM, not brew's");
        let stop = decide(&machine(Os::Mac, false, false), &[&CHROMIUM], "22").stop.unwrap();
        assert!(
            stop.contains("https://brew.sh") && stop.contains("\n  brew install homebrew/cask/chromium\n"),
            "{stop}"
        );
    }

    #[test]
    fn another_os_gets_every_tool_with_its_own_hint() {
        let stop = decide(&machine(Os::Other("Fedora Linux 41".into()), true, false), &[&PODMAN, &POSTGRES], "22")
            .stop
            .unwrap();
        assert!(stop.contains("not on Fedora Linux 41"), "{stop}");
        assert!(
            stop.contains("  podman: apt-get install podman runc nftables") && stop.contains("  postgresql: "),
            "{stop}"
        );
    }

    /// The install list is the tool table: every system tool the suite needs is installed by the
    /// one apt-get, exactly the packages its table entry names, and none is forgotten. The
    /// literal list is what `.ci/run` installed by hand before this moved into xtask.
    #[test]
    fn the_install_list_is_the_tool_table() {
        let system: Vec<&Tool> =
            tools::needed_by("ci").into_iter().filter(|t| matches!(t.source, Source::System { .. })).collect();
        let table: Vec<String> = system.iter().flat_map(|t| packages(t, &Os::Debian, "22")).collect();
        let plan = decide(&machine(Os::Debian, true, false), &system, "22");
        let install = plan.run.last().unwrap();
        let listed = &install[install.iter().position(|a| a == "--no-install-recommends").unwrap() + 1..];
        assert_eq!(listed, table.as_slice());
        assert_eq!(
            listed,
            [
                "python3",
                "python3-venv",
                "podman",
                "runc",
                "nftables",
                "llvm-22",
                "postgresql",
                "openssl",
                "chromium",
                "chromium-driver"
            ]
        );
        // Only terraform has no Debian package; every other system tool of the table has one.
        let manual: Vec<&str> = ALL
            .iter()
            .filter(|t| matches!(t.source, Source::System { .. }) && packages(t, &Os::Debian, "22").is_empty())
            .map(|t| t.name)
            .collect();
        assert_eq!(manual, ["terraform"]);
        assert!(plan.stop.unwrap().contains("terraform"));
    }

    #[test]
    fn podman_conf_only_as_root_without_systemd_when_podman_is_used_and_the_file_is_absent() {
        assert_eq!(podman_conf(true, true, false, true, false).map(|c| c.0), Some(PODMAN_CONF));
        assert!(podman_conf(true, true, false, true, true).is_none(), "never overwrite");
        assert!(podman_conf(true, true, true, true, false).is_none(), "systemd manages cgroups");
        assert!(podman_conf(true, false, false, true, false).is_none(), "rootless podman: not this machine");
        assert!(podman_conf(true, true, false, false, false).is_none(), "podman not used");
        assert!(podman_conf(false, true, false, true, false).is_none(), "macOS runs podman in a VM");
        let text = podman_conf(true, true, false, true, false).unwrap().1;
        assert!(text.contains("runtime = \"runc\"") && text.contains("cgroup_manager = \"cgroupfs\""), "{text}");
    }

    #[test]
    fn os_release_debian_ubuntu_and_derivatives() {
        assert!(is_debian_like("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"));
        assert!(is_debian_like("ID=ubuntu\nID_LIKE=debian\n"));
        assert!(is_debian_like("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"));
        assert!(!is_debian_like("ID=fedora\nPRETTY_NAME=\"Fedora Linux 41\"\n"));
        assert_eq!(os_release_name("ID=fedora\nPRETTY_NAME=\"Fedora Linux 41\"\n").as_deref(), Some("Fedora Linux 41"));
    }
}
