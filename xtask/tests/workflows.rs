//! The "thin wrapper" contract for .github/workflows, as an ordinary test (tidy style):
//! every `run:` is exactly one `cargo xtask ...` command with no `${{ }}` in it, every
//! third-party action is pinned to a full commit SHA, and permissions are explicit.
//!
//! It reads only the workflow files, so `cargo xtask ci` reuses its last result while only app/ changed:
//! test-cache-ignores: app/

use std::path::PathBuf;

use yaml_rust2::{Yaml, YamlLoader};

fn workflows() -> Vec<(String, Yaml)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect(".github/workflows exists").flatten().map(|e| e.path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display())).remove(0);
            (p.file_name().unwrap().to_string_lossy().into_owned(), doc)
        })
        .collect()
}

fn steps(doc: &Yaml) -> Vec<(String, &Yaml)> {
    let mut out = Vec::new();
    if let Some(jobs) = doc["jobs"].as_hash() {
        for (name, job) in jobs {
            for step in job["steps"].as_vec().into_iter().flatten() {
                out.push((name.as_str().unwrap_or("?").to_owned(), step));
            }
        }
    }
    out
}

/// Is `run` a single `cargo xtask` invocation (arguments may reference env vars as "$VAR")?
fn is_thin(run: &str) -> Result<(), &'static str> {
    let run = run.trim();
    if run.contains('\n') {
        return Err("more than one line");
    }
    if !run.starts_with("cargo xtask ") {
        return Err("not `cargo xtask ...`");
    }
    if run.contains("${{") {
        return Err("`${{ }}` inside run: (pass it through env:)");
    }
    if run.contains(['&', ';', '|', '`', '>', '<']) || run.contains("$(") {
        return Err("shell operators");
    }
    Ok(())
}

#[test]
fn contract_checker_rejects_what_it_should() {
    assert!(is_thin("cargo xtask deploy --env prod --image \"$IMAGE\"").is_ok());
    for bad in [
        "cargo build",
        "cargo xtask ci && curl x | sh",
        "cargo xtask deploy --image ${{ github.event.issue.title }}",
        "cargo xtask ci\necho done",
        "echo $(cargo xtask ci)",
    ] {
        assert!(is_thin(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_run_step_is_a_single_cargo_xtask_command() {
    let all = workflows();
    assert!(all.len() >= 3, "ci, deploy and infra workflows exist");
    let mut runs = 0;
    for (file, doc) in &all {
        for (job, step) in steps(doc) {
            if let Some(run) = step["run"].as_str() {
                runs += 1;
                if let Err(why) = is_thin(run) {
                    panic!("{file} job {job}: `run: {run}` breaks the thin-wrapper contract: {why}");
                }
            }
        }
    }
    assert!(runs >= 3);
}

#[test]
fn actions_are_pinned_to_full_commit_shas() {
    for (file, doc) in workflows() {
        for (job, step) in steps(&doc) {
            let Some(uses) = step["uses"].as_str() else { continue };
            if uses.starts_with("./") {
                continue;
            }
            let (_, rev) = uses.split_once('@').unwrap_or_else(|| panic!("{file} {job}: {uses} has no ref"));
            assert!(
                rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()),
                "{file} job {job}: {uses} is not pinned to a commit SHA"
            );
        }
    }
}

#[test]
fn permissions_are_explicit_and_minimal() {
    for (file, doc) in workflows() {
        assert!(!doc["permissions"].is_badvalue(), "{file}: top-level permissions missing");
        for (name, job) in doc["jobs"].as_hash().unwrap() {
            let perms = &job["permissions"];
            assert!(!perms.is_badvalue(), "{file} job {name:?}: permissions missing");
            if let Some(map) = perms.as_hash() {
                for (k, v) in map {
                    let (k, v) = (k.as_str().unwrap(), v.as_str().unwrap_or(""));
                    assert!(v != "write" || k == "id-token", "{file} job {name:?}: {k}: write");
                }
            }
        }
    }
}

/// Every job that deploys or applies (it names a GitHub environment) runs only from main, and the
/// deploy workflow queues runs instead of cancelling them (issue #13: branches and concurrency).
#[test]
fn deploys_and_applies_run_only_from_main_one_at_a_time() {
    let mut gated = 0;
    for (file, doc) in workflows() {
        for (name, job) in doc["jobs"].as_hash().unwrap() {
            if job["environment"].is_badvalue() {
                continue;
            }
            gated += 1;
            let cond = job["if"].as_str().unwrap_or("");
            assert!(
                cond.contains("github.ref == 'refs/heads/main'"),
                "{file} job {name:?} uses an environment but does not check it runs from main: if: {cond:?}"
            );
        }
    }
    assert!(gated >= 4, "image/deploy dev, deploy prod, apply");
    let (_, deploy) = workflows().into_iter().find(|(f, _)| f == "deploy.yml").unwrap();
    assert_eq!(deploy["concurrency"]["group"].as_str(), Some("deploy"), "workflow-level concurrency");
    assert_eq!(deploy["concurrency"]["cancel-in-progress"].as_bool(), Some(false), "never cancel a running deploy");
}

/// Saved plans hold state: the artifact lives one day. Every environment in infra/envs (but
/// local) can be planned, applied and drift-checked from the workflows.
#[test]
fn plan_artifacts_live_one_day_and_every_environment_is_wired() {
    let all = workflows();
    let infra = &all.iter().find(|(f, _)| f == "infra.yml").unwrap().1;
    let uploads: Vec<&Yaml> = steps(infra)
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .collect();
    assert!(!uploads.is_empty());
    for s in uploads {
        assert_eq!(s["with"]["retention-days"].as_i64(), Some(1), "plan artifacts are kept 1 day");
    }
    let envs_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/envs");
    let mut envs: Vec<String> = std::fs::read_dir(envs_dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".tfvars").map(str::to_owned))
        .filter(|e| e != "local")
        .collect();
    envs.sort();
    let list = |y: &Yaml| -> Vec<String> {
        let mut v: Vec<String> = y.as_vec().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(list(&infra["on"]["workflow_dispatch"]["inputs"]["environment"]["options"]), envs, "infra.yml choices");
    let drift = &all.iter().find(|(f, _)| f == "drift.yml").expect("a drift workflow").1;
    assert!(!drift["on"]["schedule"].is_badvalue(), "drift runs on a schedule");
    assert_eq!(list(&drift["jobs"]["drift"]["strategy"]["matrix"]["environment"]), envs, "drift.yml matrix");
}
