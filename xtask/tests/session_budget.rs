//! AWS credentials must outlive the job that uses them: a session that expires in the middle of
//! `terraform apply` stops it halfway and leaves the state lock held; one that expires in the
//! middle of a rollout stops the watch and the rollback. Every job that assumes a role must ask
//! for `role-duration-seconds` covering its whole `timeout-minutes` plus a margin, and the role's
//! `max_session_duration` (the Terraform of the github-oidc module, as the shared layer uses it)
//! must allow that. Reads the workflow files and the Terraform, as deploy_budget.rs does.
//!
//! test-cache-ignores: app/

use std::path::PathBuf;

use yaml_rust2::{Yaml, YamlLoader};

/// Credentials are taken a few steps into the job, so the job's timeout bounds what is left of
/// it; the margin covers clock skew and the STS call itself.
const MARGIN_SECONDS: u64 = 600;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn workflows() -> Vec<(String, Yaml)> {
    let dir = root().join(".github/workflows");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| {
            let doc = YamlLoader::load_from_str(&std::fs::read_to_string(&p).unwrap()).unwrap().remove(0);
            (p.file_name().unwrap().to_string_lossy().into_owned(), doc)
        })
        .collect()
}

/// The number in `<name> = <number>` inside the `block` (e.g. `variable "x" {`) of `text`, or
/// anywhere in `text` when `block` is None. Only literals: an expression is a failure.
fn hcl_number(text: &str, block: Option<&str>, name: &str) -> Option<u64> {
    let body = match block {
        Some(b) => {
            let start = text.find(b)?;
            let rest = &text[start..];
            // The block ends at the first line that is exactly "}".
            &rest[..rest.find("\n}").unwrap_or(rest.len())]
        }
        None => text,
    };
    body.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == name).then(|| v.trim().parse().unwrap_or_else(|_| panic!("{name} = {v}: not a literal number")))
    })
}

/// The roles' maximum session as the shared layer creates them: the layer's argument to the
/// module if it passes one, else the module's default.
fn max_session_duration() -> u64 {
    let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap();
    let layer = read("infra/layers/shared/main.tf");
    let module = layer.find("module \"github_oidc\"").expect("shared layer uses github-oidc");
    hcl_number(&layer[module..], Some("module \"github_oidc\""), "max_session_duration").unwrap_or_else(|| {
        hcl_number(
            &read("infra/modules/github-oidc/variables.tf"),
            Some("variable \"max_session_duration\""),
            "default",
        )
        .expect("github-oidc: max_session_duration has a default")
    })
}

#[test]
fn every_role_session_covers_its_job_with_a_margin() {
    let max = max_session_duration();
    assert!((3600..=43200).contains(&max), "max_session_duration {max}: IAM allows 3600..43200");
    let mut jobs = 0;
    let mut longest = 0;
    for (file, doc) in workflows() {
        for (name, job) in doc["jobs"].as_hash().into_iter().flatten() {
            let name = name.as_str().unwrap_or("?");
            for step in job["steps"].as_vec().into_iter().flatten() {
                if !step["uses"].as_str().is_some_and(|u| u.contains("aws-actions/configure-aws-credentials")) {
                    continue;
                }
                jobs += 1;
                let minutes = job["timeout-minutes"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{file} job {name}: assumes a role without timeout-minutes"));
                let timeout = u64::try_from(minutes).unwrap() * 60;
                // configure-aws-credentials asks for 3600 s unless told otherwise.
                let duration = step["with"]["role-duration-seconds"].as_i64().map_or(3600, |d| d as u64);
                longest = longest.max(timeout);
                assert!(
                    duration >= timeout + MARGIN_SECONDS,
                    "{file} job {name}: role-duration-seconds {duration} < timeout-minutes {minutes} x 60 + {MARGIN_SECONDS}: \
                     the credentials could expire before the job is killed (mid-apply: the state lock stays held)"
                );
                assert!(
                    duration <= max,
                    "{file} job {name}: role-duration-seconds {duration} > the role's max_session_duration {max}: \
                     STS refuses the AssumeRoleWithWebIdentity"
                );
            }
        }
    }
    assert!(jobs >= 5, "only {jobs} jobs assume a role: the scan is broken");
    assert!(max >= longest + MARGIN_SECONDS, "max_session_duration {max} does not cover the longest job ({longest} s)");
}

#[test]
fn the_hcl_reader_reads_literals_of_the_right_block() {
    let text = "variable \"a\" {\n  default = 1\n}\n\nvariable \"max_session_duration\" {\n  type    = number\n  default = 7200\n}\n";
    assert_eq!(hcl_number(text, Some("variable \"max_session_duration\""), "default"), Some(7200));
    assert_eq!(hcl_number(text, Some("variable \"a\""), "default"), Some(1));
    assert_eq!(hcl_number(text, Some("variable \"b\""), "default"), None);
}
