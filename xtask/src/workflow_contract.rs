//! The workflows install what their xtask commands need (a test, tidy style).
//!
//! For every job of every `.github/workflows/*.yml`, each `run: cargo xtask <command>` needs the
//! tools `tools::needed_by(<command>)` lists, and the tool table says how a GitHub-hosted runner
//! gets each one: xtask installs it (then the job restores and saves the tools cache keyed on
//! `cargo xtask setup --cache-key`), a named setup action (a step of that action, before the
//! command, with the inputs and environment the table requires), or the runner image (the job
//! runs on the image the citation is about). The table is the only list: nothing here names a tool.

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlLoader};

use crate::tools::{self, Hosted, Tool, Want};

/// The image every `RunnerImage` citation is about.
const RUNNER: &str = "ubuntu-24.04";

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        _ => None,
    }
}

fn map(y: &Yaml) -> BTreeMap<String, String> {
    y.as_hash().into_iter().flatten().filter_map(|(k, v)| Some((k.as_str()?.to_owned(), scalar(v)?))).collect()
}

/// The xtask subcommand of a `run:` line (`cargo xtask plan --env "$E"` -> `plan`).
pub fn xtask_command(run: &str) -> Option<&str> {
    run.trim().strip_prefix("cargo xtask ")?.split_whitespace().find(|w| !w.starts_with('-'))
}

fn action_name(uses: &str) -> &str {
    uses.split('@').next().unwrap_or(uses)
}

fn version_at_least(found: &str, pin: &str) -> bool {
    let n = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    !found.is_empty() && n(found) >= n(pin)
}

fn want_ok(want: Want, value: Option<&str>, tool: &Tool) -> bool {
    match (want, value) {
        (Want::Is(v), Some(found)) => found == v,
        (Want::Lists(item), Some(found)) => found.split([',', ' ', '\n']).any(|x| x.trim() == item),
        (Want::AtLeastPin, Some(found)) => version_at_least(found, tool.version),
        (_, None) => false,
    }
}

/// Every way the jobs of one workflow break the contract, one line each.
pub fn violations(file: &str, doc: &Yaml) -> Vec<String> {
    let mut out = Vec::new();
    let workflow_env = map(&doc["env"]);
    for (name, job) in doc["jobs"].as_hash().into_iter().flatten() {
        let job_name = name.as_str().unwrap_or("?");
        let steps = job["steps"].as_vec().cloned().unwrap_or_default();
        let job_env = map(&job["env"]);
        for (i, step) in steps.iter().enumerate() {
            let Some(run) = step["run"].as_str() else { continue };
            let Some(mut command) = xtask_command(run) else { continue };
            // `image --promote` copies an image through the ECR API: it builds and scans nothing.
            if command == "image" && run.split_whitespace().any(|w| w == "--promote") {
                command = "image --promote";
            }
            if command == "setup" {
                continue;
            }
            let before = &steps[..i];
            let mut env = workflow_env.clone();
            env.extend(job_env.clone());
            env.extend(map(&step["env"]));
            for tool in tools::needed_by(command) {
                if let Err(why) = provided(tool, before, &env, job) {
                    out.push(format!(
                        "{file} job {job_name}: `cargo xtask {command}` needs {} ({}), but {why}",
                        tool.name, tool.purpose
                    ));
                }
            }
        }
    }
    out
}

/// Does the job get `tool` before the step, the way the table says?
fn provided(tool: &Tool, before: &[Yaml], env: &BTreeMap<String, String>, job: &Yaml) -> Result<(), String> {
    match tool.hosted {
        Hosted::Xtask => tools_cache(before, env),
        Hosted::RunnerImage { citation } => match job["runs-on"].as_str() {
            Some(RUNNER) => Ok(()),
            other => Err(format!("the job runs on {other:?}, and only {RUNNER} is known to ship it ({citation})")),
        },
        Hosted::Action { uses, with, env: exports } => {
            let Some(step) = before.iter().find(|s| s["uses"].as_str().is_some_and(|u| action_name(u) == uses)) else {
                return Err(format!("no earlier step uses {uses} (pinned by SHA) to install it"));
            };
            let inputs = map(&step["with"]);
            for (key, want) in with {
                if !want_ok(*want, inputs.get(*key).map(String::as_str), tool) {
                    return Err(format!("its {uses} step must set `{key}` to {want:?} (has {:?})", inputs.get(*key)));
                }
            }
            for (var, output) in exports {
                let id = step["id"].as_str().unwrap_or("<no id>");
                let expected = format!("${{{{ steps.{id}.outputs.{output} }}}}");
                if env.get(*var) != Some(&expected) {
                    return Err(format!(
                        "the step must set env {var}: {expected} (from the {uses} step, which needs an id)"
                    ));
                }
            }
            Ok(())
        }
    }
}

/// xtask-installed tools: the job restores the tools directory under the key xtask computes
/// from the pins, and saves it when that key missed.
fn tools_cache(before: &[Yaml], env: &BTreeMap<String, String>) -> Result<(), String> {
    let key_step =
        before.iter().find(|s| s["run"].as_str().is_some_and(|r| r.trim() == "cargo xtask setup --cache-key"));
    let Some(id) = key_step.and_then(|s| s["id"].as_str()) else {
        return Err("no earlier step with an id runs `cargo xtask setup --cache-key`".into());
    };
    let key = format!("${{{{ steps.{id}.outputs.key }}}}");
    let path_ok = |s: &Yaml| map(&s["with"]).get("path").map(String::as_str) == Some("${{ env.XTASK_TOOLS_DIR }}");
    let key_ok = |s: &Yaml| map(&s["with"]).get("key") == Some(&key);
    let cache = |name: &str| {
        before.iter().any(|s| s["uses"].as_str().is_some_and(|u| action_name(u) == name) && path_ok(s) && key_ok(s))
    };
    if !env.contains_key("XTASK_TOOLS_DIR") {
        return Err("XTASK_TOOLS_DIR is not set (the tools must live outside target/, which rust-cache cleans)".into());
    }
    if !cache("actions/cache/restore") || !cache("actions/cache/save") {
        return Err(format!(
            "the job must restore and save the tools cache (actions/cache/restore and actions/cache/save with path ${{{{ env.XTASK_TOOLS_DIR }}}} and key {key})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn workflows() -> Vec<(String, String)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows");
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "yml"))
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
            .collect()
    }

    fn load(text: &str) -> Yaml {
        YamlLoader::load_from_str(text).unwrap().remove(0)
    }

    #[test]
    fn every_job_gets_the_tools_of_every_xtask_command_it_runs() {
        let mut all = Vec::new();
        let mut commands = 0;
        for (file, text) in workflows() {
            let doc = load(&text);
            commands += text.matches("run: cargo xtask").count();
            all.extend(violations(&file, &doc));
        }
        assert!(commands >= 5, "the workflows run xtask commands");
        assert!(all.is_empty(), "workflow jobs miss tools:\n{}", all.join("\n"));
    }

    /// The same check against ci.yml with one step dropped or changed.
    fn ci_without(drop: &str) -> Vec<String> {
        let text = workflows().into_iter().find(|(f, _)| f == "ci.yml").unwrap().1;
        let mut doc = load(&text);
        if let Yaml::Hash(jobs) = &mut doc["jobs"]
            && let Some(Yaml::Hash(job)) = jobs.get_mut(&Yaml::String("ci".into()))
            && let Some(Yaml::Array(steps)) = job.get_mut(&Yaml::String("steps".into()))
        {
            steps.retain(|s| s["uses"].as_str().is_none_or(|u| action_name(u) != drop));
        }
        violations("ci.yml", &doc)
    }

    #[test]
    fn removing_the_setup_terraform_step_fails_the_contract() {
        let found = ci_without("hashicorp/setup-terraform");
        assert!(
            found.iter().any(|v| v.contains("needs terraform") && v.contains("hashicorp/setup-terraform")),
            "{found:#?}"
        );
        assert!(ci_without("nothing/removed").is_empty());
    }

    #[test]
    fn the_other_ways_of_getting_a_tool_are_checked_too() {
        assert!(ci_without("actions/cache/save").iter().any(|v| v.contains("needs moto") && v.contains("tools cache")));
        assert!(ci_without("actions/setup-python").iter().any(|v| v.contains("needs python3")));
        assert!(ci_without("browser-actions/setup-chrome").iter().any(|v| v.contains("needs chromedriver")));
        let on_macos = load("jobs:\n  t:\n    runs-on: macos-15\n    steps:\n      - run: cargo xtask image\n");
        assert!(violations("x.yml", &on_macos).iter().any(|v| v.contains("needs podman") && v.contains("macos-15")));
        let wrapped = load(
            "jobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: hashicorp/setup-terraform@0000000000000000000000000000000000000000\n        with:\n          terraform_version: 1.11.4\n      - run: cargo xtask plan --env dev\n",
        );
        let found = violations("x.yml", &wrapped);
        assert!(found.iter().any(|v| v.contains("terraform_wrapper")), "{found:?}");
        let old = load(
            "jobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: hashicorp/setup-terraform@0000000000000000000000000000000000000000\n        with:\n          terraform_version: 1.5.7\n          terraform_wrapper: false\n      - run: cargo xtask plan --env dev\n",
        );
        assert!(violations("x.yml", &old).iter().any(|v| v.contains("terraform_version")));
        let deploy =
            load("jobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: cargo xtask deploy --env dev\n");
        assert!(violations("x.yml", &deploy).is_empty(), "deploy needs no external tool");
    }

    #[test]
    fn commands_are_read_from_run_lines() {
        assert_eq!(xtask_command("cargo xtask plan --env \"$TARGET_ENV\""), Some("plan"));
        assert_eq!(xtask_command("cargo xtask --verbose ci"), Some("ci"));
        assert_eq!(xtask_command("cargo build"), None);
    }
}
