//! What Terraform renders for one environment: a scratch copy of infra/ with its own emulator,
//! the shared layer applied and the app layer planned, and the policies read back.

use super::*;

/// The DbiResourceId the app layer is planned with (the core layer's output, a placeholder).
pub(super) const DB_RESOURCE_ID: &str = "db-ABCDEFGHIJKLMNOPQRSTUVWXY1";

/// What Terraform rendered for one environment.
pub(super) struct Rendered {
    pub(super) env: Env,
    pub(super) account: String,
    /// Shared-layer output name -> (role ARN, its policies, its trust policy).
    pub(super) roles: BTreeMap<String, (String, Vec<Policy>, Policy)>,
    pub(super) execution: Vec<Policy>,
    /// The migration task's execution role (the only reader of the master secret), if any.
    pub(super) migration_execution: Vec<Policy>,
    /// The task role's inline policies (IAM database authentication with a database).
    pub(super) task: Vec<Policy>,
    pub(super) source_repository: Option<String>,
    /// The app layer's plan JSON (for the TLS checks).
    pub(super) app_plan: Json,
    /// Shared-layer output name -> the role's permissions boundary, if it has one.
    pub(super) boundaries: BTreeMap<String, Policy>,
    /// The shared layer's `github_oidc_subject_claim_keys`.
    pub(super) subject_claim_keys: Vec<String>,
    /// The database master secret the app layer was planned with (the core layer's output,
    /// a placeholder here), when the environment has `database_enabled = true`.
    pub(super) database_secret: Option<String>,
    /// The `rds-db:connect` resource of the app role on the planned instance, with a database.
    pub(super) database_user: Option<String>,
}

pub(super) struct Scratch {
    pub(super) root: PathBuf,
    pub(super) moto: Emulator,
}

impl Scratch {
    pub(super) fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!("xtask-contract-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        copy_tree(&repo().join("infra"), &root.join("infra"));
        Scratch { root, moto: Emulator::start_moto().unwrap_or_else(|e| panic!("{e:#}")) }
    }

    pub(super) fn endpoint(&self) -> String {
        self.moto.url()
    }

    /// terraform in infra/layers/<layer>, pointed at this scratch's emulator only.
    pub(super) fn tf(&self, layer: &str, args: &[&str]) -> String {
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

    pub(super) fn python(&self, script: &str, args: &[&str]) -> String {
        let out = Command::new(boto3_python()).arg("-c").arg(script).arg(self.endpoint()).args(args).output().unwrap();
        assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

/// A python with boto3, as the emulator has it (a clean machine's `python3` has none).
fn boto3_python() -> PathBuf {
    super::python::boto3_python(&crate::tools::tools_dir(&repo())).expect(
        "a python with boto3: run the tests through `cargo xtask test` (it installs moto[server], which brings boto3)",
    )
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub(super) const MANAGED_POLICY: &str = r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
p = iam.get_policy(PolicyArn=sys.argv[2])["Policy"]
print(json.dumps(iam.get_policy_version(PolicyArn=sys.argv[2], VersionId=p["DefaultVersionId"])["PolicyVersion"]["Document"]))
"#;

pub(super) const SSL_POLICIES: &str = r#"
import boto3, sys
elb = boto3.client("elbv2", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
print("\n".join(p["Name"] for p in elb.describe_ssl_policies()["SslPolicies"]))
"#;

pub(super) const HOSTED_ZONE: &str = r#"
import boto3, sys
boto3.client("route53", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test").create_hosted_zone(Name=sys.argv[2], CallerReference="contract")
"#;

pub(super) fn resources(module: &Json) -> Vec<&Json> {
    let mut out: Vec<&Json> = module["resources"].as_array().into_iter().flatten().collect();
    for child in module["child_modules"].as_array().into_iter().flatten() {
        out.extend(resources(child));
    }
    out
}

pub(super) fn policy_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `-var` arguments every plan of `env` needs here: prod requires HTTPS, so it is planned with a
/// certificate (the domain variant is planned separately).
pub(super) fn tls_vars(env: &str) -> Vec<String> {
    if env == "prod" {
        vec!["-var=alb_certificate_arn=arn:aws:acm:eu-west-1:123456789012:certificate/contract".into()]
    } else {
        Vec::new()
    }
}

pub(super) fn render(name: &str) -> (Rendered, Scratch) {
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
            "{{\n    identifier = \"{p}-{e}-db\"\n    address = \"{p}-{e}-db.abcdefghijkl.{region}.rds.amazonaws.com\"\n    port = 5432\n    db_name = \"app\"\n    secret_arn = \"{arn}\"\n    security_group_id = \"sg-0000000000000db00\"\n    resource_id = \"{DB_RESOURCE_ID}\"\n  }}",
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
    let role_policies = |role: &str| -> Vec<Policy> {
        let role = format!("{}-{}-{role}", env.project, env.name);
        resources(&app_plan["planned_values"]["root_module"])
            .into_iter()
            .filter(|r| r["type"] == "aws_iam_role_policy" && r["values"]["role"] == role.as_str())
            .map(|r| Policy::parse(&role, &policy_text(&r["values"]["policy"])).unwrap())
            .collect()
    };
    let execution = role_policies("task-execution");
    assert_eq!(execution.len(), 1, "{name}: the execution role's policy is rendered at plan time");
    let migration_execution = role_policies("migrate-execution");
    let task = role_policies("task");
    let database_user = database_secret.as_ref().map(|_| {
        let role = env.values.get("database_app_role").map_or("guestbook_app", |r| r.trim_matches('"'));
        format!("arn:aws:rds-db:{region}:{account}:dbuser:{DB_RESOURCE_ID}/{role}")
    });
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
            migration_execution,
            task,
            source_repository,
            app_plan,
            database_secret,
            database_user,
            subject_claim_keys,
        },
        s,
    )
}

/// Every IAM document a plan renders: each role's trust policy and inline policies, named
/// `<role> trust` / `<role> <policy>` (all known at plan time in the app layer).
pub(super) fn planned_policies(plan: &Json) -> Vec<Policy> {
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

pub(super) fn plan_app(s: &Scratch, env: &str, extra: &[String]) -> Json {
    let vars = format!("-var-file=../../envs/{env}.tfvars");
    let plan = s.root.join("app.tfplan").display().to_string();
    let out = format!("-out={plan}");
    s.tf("app", &["init", "-input=false", "-no-color"]);
    let mut args = vec!["plan", "-input=false", "-no-color", &vars, &out];
    args.extend(extra.iter().map(String::as_str));
    s.tf("app", &args);
    serde_json::from_str(&s.tf("app", &["show", "-json", "-no-color", &plan])).unwrap()
}
