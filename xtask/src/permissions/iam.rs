//! A small IAM policy evaluator: enough of the AWS rules to decide whether the policies Terraform
//! renders grant what xtask declares. Identity policies and permissions boundaries
//! ([`evaluate_bounded`]); no resource policies or SCPs. Supported: Allow/Deny, Action/NotAction
//! and Resource/NotResource with `*` and `?` wildcards (actions case-insensitive), and the
//! condition operators the project's policies use: StringEquals, StringNotEquals, StringLike,
//! StringNotLike, ArnEquals, ArnLike, Bool (each also with `IfExists`) and Null. An unknown
//! operator makes its statement not apply, so an Allow never comes from a condition the
//! evaluator cannot read (and a Deny with one is not counted on either).

use std::collections::BTreeMap;

use serde_json::Value;

/// One request: an action on a resource, with the condition keys AWS would put in the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, String>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Self {
        Self { action: action.into(), resource: resource.into(), context: BTreeMap::new() }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.context.insert(key.into(), value.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows it.
    ImplicitDeny,
    /// A Deny statement matches.
    ExplicitDeny,
}

/// A parsed policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    #[cfg_attr(not(test), allow(dead_code))]
    pub name: String,
    statements: Vec<Value>,
}

impl Policy {
    pub fn parse(name: &str, json: &str) -> Result<Self, String> {
        let doc: Value = serde_json::from_str(json).map_err(|e| format!("policy {name}: {e}"))?;
        let statements = match &doc["Statement"] {
            Value::Array(list) => list.clone(),
            Value::Object(_) => vec![doc["Statement"].clone()],
            _ => return Err(format!("policy {name}: no Statement")),
        };
        Ok(Self { name: name.into(), statements })
    }

    /// Its statements as written (tests: structural checks such as "no other secret").
    #[cfg(test)]
    pub fn statements(&self) -> &[Value] {
        &self.statements
    }

    /// The same policy without the statements that `drop` selects (tests: prove a check fails).
    #[cfg(test)]
    pub fn without(&self, drop: impl Fn(&Value) -> bool) -> Self {
        Self { name: self.name.clone(), statements: self.statements.iter().filter(|s| !drop(s)).cloned().collect() }
    }
}

/// AWS's rule: an explicit Deny anywhere wins; otherwise any Allow allows; otherwise denied.
pub fn evaluate(policies: &[Policy], request: &Request) -> Decision {
    let mut allowed = false;
    for statement in policies.iter().flat_map(|p| &p.statements) {
        if !applies(statement, request) {
            continue;
        }
        match statement["Effect"].as_str() {
            Some("Deny") => return Decision::ExplicitDeny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if allowed { Decision::Allowed } else { Decision::ImplicitDeny }
}

/// AWS's rule with a permissions boundary: allowed only when the identity policies AND the
/// boundary allow it; an explicit Deny in either wins.
#[cfg_attr(not(test), allow(dead_code))]
pub fn evaluate_bounded(policies: &[Policy], boundary: Option<&Policy>, request: &Request) -> Decision {
    let identity = evaluate(policies, request);
    let Some(boundary) = boundary else { return identity };
    match (identity, evaluate(std::slice::from_ref(boundary), request)) {
        (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
        (Decision::Allowed, Decision::Allowed) => Decision::Allowed,
        _ => Decision::ImplicitDeny,
    }
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        Value::Bool(_) | Value::Number(_) => Vec::new(),
        _ => Vec::new(),
    }
}

fn action_matches(statement: &Value, action: &str) -> bool {
    let lower = action.to_ascii_lowercase();
    let hit = |v: &Value| strings(v).iter().any(|p| glob(&p.to_ascii_lowercase(), &lower));
    match (statement.get("Action"), statement.get("NotAction")) {
        (Some(a), _) => hit(a),
        (None, Some(n)) => !hit(n),
        (None, None) => false,
    }
}

fn resource_matches(statement: &Value, resource: &str) -> bool {
    let hit = |v: &Value| strings(v).iter().any(|p| glob(p, resource));
    match (statement.get("Resource"), statement.get("NotResource")) {
        (Some(r), _) => hit(r),
        (None, Some(n)) => !hit(n),
        // Trust policies have no Resource: they apply to the role itself.
        (None, None) => true,
    }
}

fn applies(statement: &Value, request: &Request) -> bool {
    action_matches(statement, &request.action)
        && resource_matches(statement, &request.resource)
        && conditions_hold(statement.get("Condition"), &request.context)
}

fn conditions_hold(conditions: Option<&Value>, context: &BTreeMap<String, String>) -> bool {
    let Some(Value::Object(ops)) = conditions else { return true };
    ops.iter().all(|(op, keys)| {
        let Value::Object(keys) = keys else { return false };
        // Set operators: the request contexts here carry one value per key, so ForAnyValue and
        // ForAllValues compare that value; ForAllValues also holds when the key is absent.
        let (op, for_all) = match op.split_once(':') {
            Some(("ForAllValues", rest)) => (rest, true),
            Some(("ForAnyValue", rest)) => (rest, false),
            _ => (op.as_str(), false),
        };
        let (base, if_exists) = op.strip_suffix("IfExists").map_or((op, false), |b| (b, true));
        keys.iter().all(|(key, wanted)| {
            // Condition keys are case-insensitive.
            let actual = context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str());
            let wanted: Vec<String> = match wanted {
                Value::Bool(b) => vec![b.to_string()],
                other => strings(other).into_iter().map(str::to_owned).collect(),
            };
            // Null: "true" holds when the key is absent, "false" when it is present.
            if base == "Null" {
                return wanted.iter().any(|w| w.eq_ignore_ascii_case(if actual.is_some() { "false" } else { "true" }));
            }
            let Some(actual) = actual else {
                // A missing key satisfies only IfExists and the negated operators.
                return for_all || if_exists || matches!(base, "StringNotEquals" | "StringNotLike");
            };
            let any = |f: &dyn Fn(&str) -> bool| wanted.iter().any(|w| f(w));
            match base {
                "StringEquals" | "ArnEquals" => any(&|w| w == actual),
                "StringNotEquals" => !any(&|w| w == actual),
                "StringLike" | "ArnLike" => any(&|w| glob(w, actual)),
                "StringNotLike" => !any(&|w| glob(w, actual)),
                "Bool" => any(&|w| w.eq_ignore_ascii_case(actual)),
                _ => false,
            }
        })
    })
}

/// `*` matches any run of characters, `?` exactly one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Vec<Policy> {
        vec![Policy::parse("p", json).unwrap()]
    }

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("arn:aws:ecs:*:1:service/c/*", "arn:aws:ecs:eu-west-1:1:service/c/app"));
        assert!(!glob("arn:aws:ecs:*:1:service/c/*", "arn:aws:ecs:eu-west-1:2:service/c/app"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
        assert!(glob("*.tflock", "dev/app.tfstate.tflock") && !glob("*.tflock", "dev/app.tfstate"));
        assert!(!glob("arn:x", "*"), "a specific ARN does not match the resource \"*\"");
    }

    #[test]
    fn actions_are_case_insensitive_and_wildcarded() {
        let p =
            policy(r#"{"Statement":[{"Effect":"Allow","Action":["ecs:Describe*","ECR:putimage"],"Resource":"*"}]}"#);
        assert_eq!(evaluate(&p, &Request::new("ecs:DescribeServices", "x")), Decision::Allowed);
        assert_eq!(evaluate(&p, &Request::new("ecr:PutImage", "x")), Decision::Allowed);
        assert_eq!(evaluate(&p, &Request::new("ecs:UpdateService", "x")), Decision::ImplicitDeny);
    }

    #[test]
    fn resources_must_match() {
        let p = policy(
            r#"{"Statement":{"Effect":"Allow","Action":"ecs:UpdateService","Resource":"arn:aws:ecs:r:1:service/c/app"}}"#,
        );
        assert_eq!(
            evaluate(&p, &Request::new("ecs:UpdateService", "arn:aws:ecs:r:1:service/c/app")),
            Decision::Allowed
        );
        assert_eq!(
            evaluate(&p, &Request::new("ecs:UpdateService", "arn:aws:ecs:r:1:service/c/other")),
            Decision::ImplicitDeny
        );
        assert_eq!(evaluate(&p, &Request::new("ecs:UpdateService", "*")), Decision::ImplicitDeny);
    }

    #[test]
    fn explicit_deny_wins_and_not_resource_works() {
        let p = policy(
            r#"{"Statement":[
                {"Effect":"Allow","Action":"s3:Get*","Resource":"*"},
                {"Effect":"Deny","Action":["s3:GetObject"],"NotResource":["arn:aws:s3:::state/*"]}]}"#,
        );
        assert_eq!(
            evaluate(&p, &Request::new("s3:GetObject", "arn:aws:s3:::state/dev/app.tfstate")),
            Decision::Allowed
        );
        assert_eq!(evaluate(&p, &Request::new("s3:GetObject", "arn:aws:s3:::other/x")), Decision::ExplicitDeny);
        assert_eq!(evaluate(&p, &Request::new("s3:GetBucketPolicy", "arn:aws:s3:::other")), Decision::Allowed);
    }

    #[test]
    fn not_action() {
        let p = policy(r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#);
        assert_eq!(evaluate(&p, &Request::new("ecs:ListTasks", "*")), Decision::Allowed);
        assert_eq!(evaluate(&p, &Request::new("iam:PassRole", "*")), Decision::ImplicitDeny);
    }

    #[test]
    fn conditions_need_their_keys() {
        let p = policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"ecs:TagResource","Resource":"*",
                "Condition":{"StringEquals":{"ecs:CreateAction":"RegisterTaskDefinition"}}}]}"#,
        );
        let tag = Request::new("ecs:TagResource", "arn:t");
        assert_eq!(evaluate(&p, &tag), Decision::ImplicitDeny, "a missing key fails StringEquals");
        assert_eq!(evaluate(&p, &tag.clone().with("ECS:createaction", "RegisterTaskDefinition")), Decision::Allowed);
        assert_eq!(evaluate(&p, &tag.with("ecs:CreateAction", "CreateCluster")), Decision::ImplicitDeny);

        let p = policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"ecs:ListTasks","Resource":"*",
                "Condition":{"ArnEquals":{"ecs:cluster":["arn:c1"]},"StringNotLikeIfExists":{"x:y":"z*"}}}]}"#,
        );
        assert_eq!(evaluate(&p, &Request::new("ecs:ListTasks", "*").with("ecs:cluster", "arn:c1")), Decision::Allowed);
        assert_eq!(
            evaluate(&p, &Request::new("ecs:ListTasks", "*").with("ecs:cluster", "arn:c1").with("x:y", "zz")),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&p, &Request::new("ecs:ListTasks", "*").with("ecs:cluster", "arn:c2")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn trust_policies_and_like_conditions() {
        let p = policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity","Principal":{"Federated":"arn:p"},
                "Condition":{"StringEquals":{"t:aud":"sts.amazonaws.com"},"StringLike":{"t:sub":["repo:o/r:ref:refs/heads/*"]}}}]}"#,
        );
        let assume = |sub: &str| {
            evaluate(
                &p,
                &Request::new("sts:AssumeRoleWithWebIdentity", "arn:role")
                    .with("t:aud", "sts.amazonaws.com")
                    .with("t:sub", sub),
            )
        };
        assert_eq!(assume("repo:o/r:ref:refs/heads/main"), Decision::Allowed);
        assert_eq!(assume("repo:o/r:pull_request"), Decision::ImplicitDeny);
    }

    #[test]
    fn null_and_boundaries() {
        let admin = policy(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#);
        let boundary = Policy::parse(
            "b",
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
                {"Effect":"Deny","Action":"*","Resource":"*","Condition":{
                    "StringNotEquals":{"aws:ResourceTag/Environment":"dev"},"Null":{"aws:ResourceTag/Environment":"false"}}},
                {"Effect":"Deny","Action":"*","Resource":"arn:aws:*:*:*:*rdeploy-prod-*"}]}"#,
        )
        .unwrap();
        let b = Some(&boundary);
        let dev = Request::new("ecs:UpdateService", "arn:aws:ecs:r:1:service/rdeploy-dev-cluster/rdeploy-dev-app");
        assert_eq!(evaluate_bounded(&admin, b, &dev), Decision::Allowed);
        assert_eq!(
            evaluate_bounded(&admin, b, &dev.clone().with("aws:ResourceTag/Environment", "dev")),
            Decision::Allowed
        );
        assert_eq!(
            evaluate_bounded(&admin, b, &dev.clone().with("aws:ResourceTag/Environment", "prod")),
            Decision::ExplicitDeny
        );
        let prod = Request::new("ecs:UpdateService", "arn:aws:ecs:r:1:service/rdeploy-prod-cluster/rdeploy-prod-app");
        assert_eq!(evaluate_bounded(&admin, b, &prod), Decision::ExplicitDeny);
        assert_eq!(evaluate_bounded(&admin, None, &prod), Decision::Allowed, "no boundary: admin");
        let nothing: Vec<Policy> = Vec::new();
        assert_eq!(evaluate_bounded(&nothing, b, &dev), Decision::ImplicitDeny, "a boundary grants nothing itself");
    }

    #[test]
    fn unknown_operators_never_allow_and_bad_json_is_an_error() {
        let p = policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"1.2.3.4"}}}]}"#,
        );
        assert_eq!(
            evaluate(&p, &Request::new("s3:GetObject", "x").with("aws:SourceIp", "1.2.3.4")),
            Decision::ImplicitDeny
        );
        assert!(Policy::parse("x", "{").is_err());
        assert!(Policy::parse("x", "{}").is_err());
        let dropped =
            policy(r#"{"Statement":[{"Effect":"Allow","Action":"a:B","Resource":"*"}]}"#)[0].without(|_| true);
        assert_eq!(evaluate(&[dropped], &Request::new("a:B", "*")), Decision::ImplicitDeny);
    }
}
