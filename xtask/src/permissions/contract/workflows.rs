//! The workflows' side of the contract: each job that runs `cargo xtask`, the role it assumes
//! (read from `role-to-assume`), and what its commands need of that role.

use super::*;

/// One `cargo xtask` step: its `id:`, the argv after `cargo xtask`, its `env:`.
pub(super) type Run = (Option<String>, Vec<String>, BTreeMap<String, String>);

/// One job of one workflow that runs `cargo xtask`.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) file: String,
    pub(super) name: String,
    pub(super) role_var: Option<String>,
    pub(super) environment: Option<String>,
    pub(super) runs: Vec<Run>,
}

pub(super) fn jobs() -> Vec<Job> {
    let mut out = Vec::new();
    let dir = repo().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let doc = YamlLoader::load_from_str(&std::fs::read_to_string(&path).unwrap()).unwrap().remove(0);
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for (name, job) in doc["jobs"].as_hash().into_iter().flatten() {
            let mut j = Job {
                file: file.clone(),
                name: name.as_str().unwrap().to_owned(),
                role_var: None,
                environment: job["environment"].as_str().map(str::to_owned),
                runs: Vec::new(),
            };
            for step in job["steps"].as_vec().into_iter().flatten() {
                if step["uses"].as_str().is_some_and(|u| u.contains("configure-aws-credentials")) {
                    j.role_var = step["with"]["role-to-assume"].as_str().map(str::to_owned);
                }
                if let Some(run) = step["run"].as_str().and_then(|r| r.trim().strip_prefix("cargo xtask ")) {
                    let argv = run.split_whitespace().map(|a| a.trim_matches('"').to_owned()).collect();
                    let env = step["env"]
                        .as_hash()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.as_str().unwrap_or_default().to_owned()))
                        .collect();
                    j.runs.push((step["id"].as_str().map(str::to_owned), argv, env));
                }
            }
            out.push(j);
        }
    }
    out
}

/// (shared output, environment) pairs a role expression can select: `vars.AWS_PLAN_ROLE_ARN_PROD`
/// names its environment; the per-environment variables take the job's GitHub environment.
pub(super) fn role_choices(job: &Job, envs: &[&str]) -> Vec<(&'static str, String)> {
    let expr = job.role_var.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    for part in expr.split("vars.").skip(1) {
        let var: String =
            part.chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
        let (prefix, output) = ROLE_VARIABLES
            .iter()
            .find(|(p, _)| if p.ends_with('_') { var.starts_with(p) } else { var == *p })
            .unwrap_or_else(|| {
                panic!("{} job {}: {var} is not a known role variable ({ROLE_VARIABLES:?})", job.file, job.name)
            });
        if prefix.ends_with('_') {
            out.push((*output, var[prefix.len()..].to_ascii_lowercase()));
        } else {
            match job.environment.as_deref() {
                Some(e) if !e.contains("${{") => out.push((*output, e.to_owned())),
                Some(_) => out.extend(envs.iter().map(|e| (*output, e.to_string()))),
                None => panic!(
                    "{} job {}: {var} is an environment variable but the job has no environment",
                    job.file, job.name
                ),
            }
        }
    }
    assert!(!out.is_empty() || job.role_var.is_none(), "{} job {}: no role variable in {expr}", job.file, job.name);
    out
}

/// The job's argv with a `$VARIABLE` after `--env` replaced by `env`.
pub(super) fn resolve(argv: &[String], env: &str) -> Vec<String> {
    let mut out = argv.to_vec();
    for i in 1..out.len() {
        if out[i - 1] == "--env" && out[i].starts_with('$') {
            out[i] = env.to_owned();
        }
    }
    out
}

pub(super) fn check_needs(
    r: &Rendered,
    policies: &[Policy],
    boundary: Option<&Policy>,
    needs: &[Need],
    layer: &str,
    repository_env: Option<&Rendered>,
) -> Vec<String> {
    let target = Target {
        env: &r.env,
        partition: "aws".into(),
        account: r.account.clone(),
        source_repository: r.source_repository.clone(),
        layer,
    };
    let mut denied = Vec::new();
    for need in needs {
        let mut req = target.request(need);
        if need.resource == Res::Repository
            && let Some(other) = repository_env
        {
            let t = Target {
                env: &other.env,
                partition: "aws".into(),
                account: other.account.clone(),
                source_repository: None,
                layer,
            };
            req.resource = t.arn(Res::Repository);
        }
        let decision = evaluate_bounded(policies, boundary, &req);
        if decision != Decision::Allowed {
            denied.push(format!("{} on {} {:?}: {decision:?}", req.action, req.resource, req.context));
        }
    }
    denied
}

/// Every job's role must grant every declared action of every command it runs.
pub(super) fn job_failures(rendered: &BTreeMap<String, Rendered>) -> Vec<String> {
    let envs: Vec<&str> = rendered.keys().map(String::as_str).collect();
    let mut failures = Vec::new();
    for job in jobs() {
        let choices = role_choices(&job, &envs);
        for (_, argv, _) in &job.runs {
            let args: Vec<&str> = argv.iter().map(String::as_str).collect();
            let Some(ops) = command_operations(&args) else {
                failures.push(format!(
                    "{} job {}: `cargo xtask {}` is not in permissions::command_operations",
                    job.file,
                    job.name,
                    argv.join(" ")
                ));
                continue;
            };
            if choices.is_empty() && !ops.is_empty() {
                failures.push(format!(
                    "{} job {}: `cargo xtask {}` calls AWS but the job assumes no role",
                    job.file,
                    job.name,
                    argv.join(" ")
                ));
            }
            for (output, env) in &choices {
                let argv = resolve(argv, env);
                let args: Vec<&str> = argv.iter().map(String::as_str).collect();
                let cmd_env = args.windows(2).find(|w| w[0] == "--env").map_or(env.as_str(), |w| w[1]);
                let Some(r) = rendered.get(cmd_env) else { continue };
                let (_, policies, _) = &rendered[env].roles[*output];
                let boundary = rendered[env].boundaries.get(*output);
                for op in command_operations(&args).unwrap() {
                    let layers: &[&str] =
                        if op.name.starts_with("terraform") { &crate::terraform::LAYERS } else { &["-"] };
                    for layer in layers {
                        for d in check_needs(r, policies, boundary, op.needs, layer, None) {
                            failures.push(format!(
                                "{} job {} ({output} of {env}): `cargo xtask {}` -> {} needs {d}",
                                job.file,
                                job.name,
                                argv.join(" "),
                                op.name
                            ));
                        }
                    }
                }
            }
        }
    }
    failures
}

/// The environment whose repository holds the image each environment's deploy runs: the
/// `cargo xtask image ... --env X` step (same job or a `needs` job) whose output feeds `--image`.
pub(super) fn deployed_image_repositories() -> Vec<(String, String, String)> {
    let all = jobs();
    let mut out = Vec::new();
    for job in &all {
        for (_, argv, env) in &job.runs {
            if argv.first().map(String::as_str) != Some("deploy") {
                continue;
            }
            let deploy_env = argv.windows(2).find(|w| w[0] == "--env").map(|w| w[1].clone()).unwrap_or_default();
            let Some(image_var) =
                argv.windows(2).find(|w| w[0] == "--image").map(|w| w[1].trim_start_matches('$').to_owned())
            else {
                continue;
            };
            let expr = env.get(&image_var).cloned().unwrap_or_default();
            // ${{ needs.<job>.outputs.image }} or ${{ steps.<id>.outputs.image }}
            let source = if let Some(rest) = expr.split("needs.").nth(1) {
                let name: String = rest.chars().take_while(|c| *c != '.').collect();
                all.iter()
                    .find(|j| j.name == name && j.file == job.file)
                    .and_then(|j| j.runs.iter().find(|r| r.1[0] == "image"))
            } else if let Some(rest) = expr.split("steps.").nth(1) {
                let id: String = rest.chars().take_while(|c| *c != '.').collect();
                job.runs.iter().find(|r| r.0.as_deref() == Some(id.as_str()))
            } else {
                None
            };
            let (_, image_argv, _) =
                source.unwrap_or_else(|| panic!("{} job {}: where does {expr} come from?", job.file, job.name));
            assert_eq!(
                image_argv[0], "image",
                "{} job {}: --image must come from a `cargo xtask image` step",
                job.file, job.name
            );
            let repo_env = image_argv.windows(2).find(|w| w[0] == "--env").map(|w| w[1].clone()).unwrap();
            out.push((format!("{} job {}", job.file, job.name), deploy_env, repo_env));
        }
    }
    out
}
