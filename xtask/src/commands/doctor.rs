//! `cargo xtask doctor`: every external tool, what was found where, and how to fix it; and the
//! one-time GitHub setting the AWS trust policies depend on (the OIDC subject template).

use anyhow::Result;

use crate::run::Ctx;
use crate::tools::{self, ALL, Probe, Source};

pub fn run(ctx: &Ctx) -> Result<()> {
    let path = ctx.sh.var_os("PATH").unwrap_or_default();
    println!("tools directory: {} (set XTASK_TOOLS_DIR to move it)", tools::tools_dir(&ctx.root).display());
    println!("{:<15} {:<9} {:<12} {:<7} {:<24} where / fix", "tool", "pin", "found", "status", "used by");
    let mut problems = 0;
    for tool in ALL {
        let probe = tools::probe(tool, &path);
        let auto = !matches!(tool.source, Source::System { .. });
        let (found, status, detail) = match &probe {
            Probe::Ok { path, version } => (version.clone(), "ok", path.display().to_string()),
            Probe::WrongVersion { path, version } => {
                let status = if auto { "auto" } else { "OLD" };
                (version.clone(), status, format!("{} -> {}", path.display(), tools::install_hint(tool, &ctx.root)))
            }
            Probe::NoVersion { path } => ("?".into(), "?", format!("{} (no version output)", path.display())),
            Probe::Missing => {
                let status = if auto { "auto" } else { "MISSING" };
                ("-".into(), status, tools::install_hint(tool, &ctx.root))
            }
        };
        if !probe.is_ok() && !auto {
            problems += 1;
        }
        let pin = if auto || tool.locate == tools::Locate::Llvm {
            tool.version.to_owned()
        } else {
            format!(">={}", tool.version)
        };
        let detail = match (&probe, tool.locate) {
            (Probe::Ok { .. }, tools::Locate::Llvm) => {
                tools::find_llvm(&path).map_or(detail, |l| format!("{} ({})", l.cov.display(), l.origin))
            }
            _ => detail,
        };
        let used_by = if tool.used_by.is_empty() { "pip tools".to_owned() } else { tool.used_by.join(",") };
        println!("{:<15} {:<9} {:<12} {:<7} {:<24} {}", tool.name, pin, found, status, used_by, detail);
    }
    let mirror = std::env::var("XTASK_TF_MIRROR")
        .map_or_else(|_| "not set: terraform uses the public registry".into(), |m| format!("provider mirror {m}"));
    println!("\nterraform providers: {mirror}");
    let db = std::env::var("XTASK_ADVISORY_DB").map_or_else(
        |_| "not set: cargo audit fetches the RustSec database".into(),
        |d| format!("offline database {d}"),
    );
    println!("advisory database: {db}");
    println!(
        "\nstatus: ok = ready; auto = installed on first use by the command that needs it; MISSING/OLD = install it yourself with the command shown."
    );
    if problems > 0 {
        println!("{problems} system tool(s) need attention; commands that don't use them still work.");
    }
    println!("\n{}", oidc_subject_report(&ctx.root, &path));
    Ok(())
}

use crate::permissions::OIDC_SUBJECT_CLAIM_KEYS;

/// The one-time command that sets the template.
pub fn oidc_subject_fix(repo: &str) -> String {
    format!(
        "gh api -X PUT repos/{repo}/actions/oidc/customization/sub --input - <<< '{{\"use_default\":false,\"include_claim_keys\":[{}]}}'",
        OIDC_SUBJECT_CLAIM_KEYS.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(",")
    )
}

/// Whether `GET repos/O/R/actions/oidc/customization/sub` (its JSON) is the template we need.
pub fn judge_oidc_subject(json: &str) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("not JSON ({e}): {json}"))?;
    if v["use_default"].as_bool() != Some(false) {
        return Err("the repository uses GitHub's default subject (repo + context, no ref)".into());
    }
    let keys: Vec<&str> = v["include_claim_keys"].as_array().into_iter().flatten().filter_map(|k| k.as_str()).collect();
    if keys != OIDC_SUBJECT_CLAIM_KEYS {
        return Err(format!(
            "the template's claim keys are {keys:?}, the trust policies expect {OIDC_SUBJECT_CLAIM_KEYS:?}"
        ));
    }
    Ok(())
}

/// One line per repository named in infra/envs/*.tfvars (`github_repository`).
fn oidc_subject_report(root: &std::path::Path, path: &std::ffi::OsStr) -> String {
    let mut repos: Vec<String> = crate::env::available(root)
        .iter()
        .filter(|e| *e != "local")
        .filter_map(|e| crate::env::Env::load(root, e).ok()?.values.get("github_repository").cloned())
        .collect();
    repos.sort();
    repos.dedup();
    let gh = std::env::split_paths(path).map(|d| d.join("gh")).find(|p| p.is_file());
    let mut out =
        vec![format!("GitHub OIDC subject template (the AWS trust policies expect {OIDC_SUBJECT_CLAIM_KEYS:?}):")];
    for repo in repos {
        let line = match &gh {
            None => format!(
                "  {repo}: not checked (no gh on PATH). Check with `gh api repos/{repo}/actions/oidc/customization/sub` (GitHub shows it nowhere else); set it once with: {}",
                oidc_subject_fix(&repo)
            ),
            Some(gh) => {
                let out = std::process::Command::new(gh)
                    .args(["api", &format!("repos/{repo}/actions/oidc/customization/sub")])
                    .output();
                match out {
                    Ok(o) if o.status.success() => match judge_oidc_subject(&String::from_utf8_lossy(&o.stdout)) {
                        Ok(()) => format!("  {repo}: ok"),
                        Err(why) => format!(
                            "  {repo}: WRONG: {why}; every role refuses the jobs. Fix: {}",
                            oidc_subject_fix(&repo)
                        ),
                    },
                    Ok(o) => format!(
                        "  {repo}: could not read it ({}); `gh auth login` with repo admin rights, then: gh api repos/{repo}/actions/oidc/customization/sub",
                        String::from_utf8_lossy(&o.stderr).trim()
                    ),
                    Err(e) => format!("  {repo}: gh failed to start: {e}"),
                }
            }
        };
        out.push(line);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oidc_subject_template_is_judged() {
        assert_eq!(
            judge_oidc_subject(r#"{"use_default":false,"include_claim_keys":["repo","context","ref"]}"#),
            Ok(())
        );
        assert!(judge_oidc_subject(r#"{"use_default":true}"#).unwrap_err().contains("default subject"));
        let other = judge_oidc_subject(r#"{"use_default":false,"include_claim_keys":["repo","context"]}"#);
        assert!(other.unwrap_err().contains("expect [\"repo\", \"context\", \"ref\"]"));
        assert!(judge_oidc_subject("<html>").is_err());
        assert!(oidc_subject_fix("o/r").contains(r#"gh api -X PUT repos/o/r/actions/oidc/customization/sub"#));
        assert!(oidc_subject_fix("o/r").contains(r#""include_claim_keys":["repo","context","ref"]"#));
    }

    #[test]
    fn without_gh_it_says_how_to_check() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let report = oidc_subject_report(root, std::ffi::OsStr::new("/nonexistent"));
        assert!(report.contains("example-org/rdeploy: not checked (no gh on PATH)"), "{report}");
        assert!(!report.contains("local"), "{report}");
    }
}
