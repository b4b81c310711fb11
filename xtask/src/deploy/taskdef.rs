//! The next task definition revision and what it changes.
//!
//! The next revision is built from the NEWEST revision of the family (normally Terraform's,
//! which carries the CPU, memory, environment, secrets, health check and logging of the last
//! `terraform apply`), with exactly two changes: the `app` container's image and its
//! `APP_VERSION` variable. The diff printed before registering compares it with the revision the
//! service SERVES, so a Terraform change that is about to reach the service is shown plainly.
use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, TaskDefinition};

use super::decide::short;

/// The container the deploy changes (the Terraform app module names it so).
pub const APP_CONTAINER: &str = "app";
/// The variable the app reports as its version.
pub const VERSION_VAR: &str = "APP_VERSION";

/// The image the `app` container runs.
#[cfg(test)]
pub fn app_image(def: &TaskDefinition) -> Result<&str, String> {
    app_container(def).map(|c| c.image().unwrap_or_default())
}

fn app_container(def: &TaskDefinition) -> Result<&ContainerDefinition, String> {
    def.container_definitions().iter().find(|c| c.name() == Some(APP_CONTAINER)).ok_or_else(|| {
        let names: Vec<&str> = def.container_definitions().iter().filter_map(|c| c.name()).collect();
        format!(
            "task definition {} has no container named \"{APP_CONTAINER}\" (containers: {})",
            short(def.task_definition_arn().unwrap_or_default()),
            if names.is_empty() { "none".into() } else { names.join(", ") }
        )
    })
}

/// The `app` container's awslogs group and stream prefix (`awslogs-group`,
/// `awslogs-stream-prefix`), when it logs with the awslogs driver. A task's stream is then
/// `<prefix>/app/<task-id>`.
pub fn awslogs(def: &TaskDefinition) -> Option<(String, String)> {
    let config = app_container(def).ok()?.log_configuration()?;
    if config.log_driver().as_str() != "awslogs" {
        return None;
    }
    let options = config.options()?;
    Some((options.get("awslogs-group")?.clone(), options.get("awslogs-stream-prefix")?.clone()))
}

/// `current` with the app container's image and APP_VERSION replaced. The server-assigned fields
/// (ARN, revision, status, timestamps) are cleared: they are not part of a registration.
pub fn next_revision(current: &TaskDefinition, image: &str, version: &str) -> Result<TaskDefinition, String> {
    app_container(current)?;
    let mut next = next_revision_fields(current);
    let containers = next.container_definitions.get_or_insert_with(Vec::new);
    let app = containers.iter_mut().find(|c| c.name() == Some(APP_CONTAINER)).expect("checked above");
    app.image = Some(image.to_owned());
    let env = app.environment.get_or_insert_with(Vec::new);
    let var = KeyValuePair::builder().name(VERSION_VAR).value(version).build();
    match env.iter_mut().find(|kv| kv.name() == Some(VERSION_VAR)) {
        Some(existing) => *existing = var,
        None => env.push(var),
    }
    Ok(next)
}

/// Every changed field of `old` -> `new`, one `path\n    - old\n    + new` block each, in the
/// ECS JSON names (`cpu`, `containerDefinitions[app].healthCheck`, ...). Environment variables and
/// secrets are compared by name. A field this list does not know (a newer SDK) still shows, as
/// "other fields differ", so nothing changes unseen.
pub fn diff(old: &TaskDefinition, new: &TaskDefinition) -> Vec<String> {
    let mut out = Vec::new();
    let (mut o, mut n) = (next_revision_fields(old), next_revision_fields(new));
    macro_rules! field {
        ($($name:ident),* $(,)?) => {$(
            if o.$name != n.$name {
                out.push(change(&camel(stringify!($name)), &show(&o.$name), &show(&n.$name)));
            }
            o.$name = Default::default();
            n.$name = Default::default();
        )*};
    }
    field!(
        family,
        task_role_arn,
        execution_role_arn,
        network_mode,
        requires_compatibilities,
        cpu,
        memory,
        runtime_platform,
        ephemeral_storage,
        volumes,
        placement_constraints,
        pid_mode,
        ipc_mode,
        proxy_configuration,
        inference_accelerators,
        enable_fault_injection,
    );
    let (old_containers, new_containers) = (o.container_definitions.take(), n.container_definitions.take());
    let (old_containers, new_containers) = (old_containers.unwrap_or_default(), new_containers.unwrap_or_default());
    for c in &new_containers {
        match old_containers.iter().find(|x| x.name == c.name) {
            Some(before) => out.extend(container_diff(before, c)),
            None => out.push(format!("containerDefinitions[{}]: added", c.name().unwrap_or_default())),
        }
    }
    for c in old_containers.iter().filter(|c| !new_containers.iter().any(|x| x.name == c.name)) {
        out.push(format!("containerDefinitions[{}]: removed", c.name().unwrap_or_default()));
    }
    let order = |cs: &[ContainerDefinition]| cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    if order(&old_containers) != order(&new_containers)
        && out.iter().all(|l| !l.ends_with("added") && !l.ends_with("removed"))
    {
        out.push("containerDefinitions: order changed".into());
    }
    if o != n {
        out.push("other fields differ (fields this version of xtask does not list)".into());
    }
    out
}

fn container_diff(old: &ContainerDefinition, new: &ContainerDefinition) -> Vec<String> {
    let name = new.name().unwrap_or_default();
    let mut out = Vec::new();
    let (mut o, mut n) = (old.clone(), new.clone());
    let path = |field: &str| format!("containerDefinitions[{name}].{field}");
    // By name, so reordering is not a change and each variable shows on its own.
    let env = |c: &ContainerDefinition| -> Vec<(String, String)> {
        c.environment()
            .iter()
            .map(|kv| (kv.name().unwrap_or_default().into(), kv.value().unwrap_or_default().into()))
            .collect()
    };
    let secrets = |c: &ContainerDefinition| -> Vec<(String, String)> {
        c.secrets().iter().map(|s| (s.name().into(), s.value_from().into())).collect()
    };
    out.extend(by_name(&path("environment"), &env(&o), &env(&n)));
    out.extend(by_name(&path("secrets"), &secrets(&o), &secrets(&n)));
    if o.log_configuration != n.log_configuration {
        out.push(change(&path("logConfiguration"), &show_log(&o), &show_log(&n)));
    }
    if o.docker_labels != n.docker_labels {
        fn sorted(c: &ContainerDefinition) -> Option<std::collections::BTreeMap<&String, &String>> {
            c.docker_labels.as_ref().map(|m| m.iter().collect())
        }
        out.push(change(&path("dockerLabels"), &show(&sorted(&o)), &show(&sorted(&n))));
    }
    for c in [&mut o, &mut n] {
        c.environment = None;
        c.secrets = None;
        c.log_configuration = None;
        c.docker_labels = None;
    }
    macro_rules! field {
        ($($field:ident),* $(,)?) => {$(
            if o.$field != n.$field {
                out.push(change(&path(&camel(stringify!($field))), &show(&Some(&o.$field)), &show(&Some(&n.$field))));
            }
            o.$field = Default::default();
            n.$field = Default::default();
        )*};
    }
    field!(
        image,
        repository_credentials,
        cpu,
        memory,
        memory_reservation,
        links,
        port_mappings,
        essential,
        restart_policy,
        entry_point,
        command,
        environment_files,
        mount_points,
        volumes_from,
        linux_parameters,
        depends_on,
        start_timeout,
        stop_timeout,
        version_consistency,
        hostname,
        user,
        working_directory,
        disable_networking,
        privileged,
        readonly_root_filesystem,
        dns_servers,
        dns_search_domains,
        extra_hosts,
        docker_security_options,
        interactive,
        pseudo_terminal,
        ulimits,
        health_check,
        system_controls,
        resource_requirements,
        firelens_configuration,
        credential_specs,
    );
    if o != n {
        out.push(format!("{}: other fields differ (fields this version of xtask does not list)", path("*")));
    }
    out
}

/// `name=value` lists compared by name: one block per added, removed or changed name.
fn by_name(path: &str, old: &[(String, String)], new: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<&str> = old.iter().chain(new).map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let get = |list: &[(String, String)], k: &str| list.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    names
        .into_iter()
        .filter_map(|k| {
            let (a, b) = (get(old, k), get(new, k));
            (a != b).then(|| {
                change(
                    &format!("{path}.{k}"),
                    &a.unwrap_or_else(|| "(unset)".into()),
                    &b.unwrap_or_else(|| "(unset)".into()),
                )
            })
        })
        .collect()
}

fn change(path: &str, old: &str, new: &str) -> String {
    format!("{path}\n    - {old}\n    + {new}")
}

/// An optional value for a diff line: `(unset)`, a bare string, or the value's Debug form.
fn show<T: std::fmt::Debug>(value: &Option<T>) -> String {
    match value {
        None => "(unset)".into(),
        Some(v) => {
            let text = format!("{v:?}");
            let text = text.strip_prefix("Some(").and_then(|t| t.strip_suffix(')')).map_or(text.clone(), str::to_owned);
            if text == "None" {
                return "(unset)".into();
            }
            text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).map_or(text.clone(), str::to_owned)
        }
    }
}

/// `awslogs {awslogs-group=..., mode=...}` with the options sorted (a HashMap has no order).
fn show_log(c: &ContainerDefinition) -> String {
    match &c.log_configuration {
        None => "(unset)".into(),
        Some(log) => {
            let options: std::collections::BTreeMap<_, _> = log.options().into_iter().flatten().collect();
            let options: Vec<String> = options.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut text = format!("{} {{{}}}", log.log_driver().as_str(), options.join(", "));
            if !log.secret_options().is_empty() {
                text.push_str(&format!(" secretOptions {:?}", log.secret_options()));
            }
            text
        }
    }
}

/// `task_role_arn` -> `taskRoleArn`.
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Two registrations that would run the same thing: equal in every registrable field, ignoring
/// `APP_VERSION` (a label of the image, not a change of it) and the order of variables/secrets.
pub fn same_registration(a: &TaskDefinition, b: &TaskDefinition) -> bool {
    let normal = |def: &TaskDefinition| {
        let mut d = next_revision_fields(def);
        for c in d.container_definitions.iter_mut().flatten() {
            let is_app = c.name.as_deref() == Some(APP_CONTAINER);
            if let Some(env) = c.environment.as_mut() {
                env.retain(|kv| !(is_app && kv.name() == Some(VERSION_VAR)));
                env.sort_by(|x, y| x.name.cmp(&y.name));
            }
            if let Some(secrets) = c.secrets.as_mut() {
                secrets.sort_by(|x, y| x.name.cmp(&y.name));
            }
        }
        d
    };
    normal(a) == normal(b)
}

/// `def` without the server-assigned fields (ARN, revision, status, timestamps, and the derived
/// compatibilities/requiresAttributes), i.e. only what a registration carries.
fn next_revision_fields(def: &TaskDefinition) -> TaskDefinition {
    let mut d = def.clone();
    d.task_definition_arn = None;
    d.revision = 0;
    d.status = None;
    d.registered_at = None;
    d.registered_by = None;
    d.deregistered_at = None;
    d.compatibilities = None;
    d.requires_attributes = None;
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::testkit::sample;
    use aws_sdk_ecs::types::{LogConfiguration, LogDriver, Secret};

    #[test]
    fn only_image_and_version_change() {
        let old = sample("repo:aaa", Some("aaa"));
        let new = next_revision(&old, "repo@sha256:bbb", "bbb").unwrap();
        assert_eq!(app_image(&new).unwrap(), "repo@sha256:bbb");
        // Put the two fields back and everything else is identical.
        let mut back = new.clone();
        let app = back.container_definitions.as_mut().unwrap().iter_mut().find(|c| c.name() == Some("app")).unwrap();
        app.image = Some("repo:aaa".into());
        app.environment.as_mut().unwrap().iter_mut().find(|kv| kv.name() == Some(VERSION_VAR)).unwrap().value =
            Some("aaa".into());
        assert_eq!(back, next_revision_fields(&old));
        // The sidecar is untouched, order is kept.
        assert_eq!(new.container_definitions()[0], old.container_definitions()[0]);
    }

    #[test]
    fn version_is_added_when_absent() {
        let old = sample("repo:aaa", None);
        let new = next_revision(&old, "repo:bbb", "bbb").unwrap();
        let app = &new.container_definitions()[1];
        assert_eq!(app.environment().len(), 2);
        assert_eq!(app.environment()[0].name(), Some("RUST_LOG"));
        assert_eq!(app.environment()[1].value(), Some("bbb"));
    }

    #[test]
    fn diff_lists_only_what_changed() {
        let old = sample("repo:aaa", Some("aaa"));
        let new = next_revision(&old, "repo:bbb", "bbb").unwrap();
        assert_eq!(
            diff(&old, &new),
            vec![
                "containerDefinitions[app].environment.APP_VERSION\n    - aaa\n    + bbb".to_owned(),
                "containerDefinitions[app].image\n    - repo:aaa\n    + repo:bbb".to_owned(),
            ]
        );
        let fresh = next_revision(&sample("repo:aaa", None), "repo:bbb", "bbb").unwrap();
        assert!(diff(&sample("repo:aaa", None), &fresh)[0].contains("- (unset)"));
        assert!(same_registration(&old, &next_revision(&old, "repo:aaa", "other-label").unwrap()));
        assert!(!same_registration(&old, &new));
    }

    /// What a tfvars change does to Terraform's newest revision: each change is one plain block.
    #[test]
    fn diff_shows_terraform_changes_plainly() {
        let old = sample("repo:aaa", Some("aaa"));
        let mut tf = sample("repo:bootstrap", Some("bootstrap"));
        tf.memory = Some("1024".into());
        tf.cpu = Some("512".into());
        let app = tf.container_definitions.as_mut().unwrap().iter_mut().find(|c| c.name() == Some("app")).unwrap();
        app.environment.as_mut().unwrap().push(KeyValuePair::builder().name("TRUSTED_PROXY_HOPS").value("1").build());
        app.secrets =
            Some(vec![Secret::builder().name("DB_URL").value_from("arn:aws:secretsmanager:y").build().unwrap()]);
        app.health_check.as_mut().unwrap().interval = Some(15);
        app.log_configuration = Some(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("mode", "non-blocking")
                .options("awslogs-group", "/ecs/app")
                .build()
                .unwrap(),
        );
        let next = next_revision(&tf, "repo:bbb", "bbb").unwrap();
        let shown = diff(&old, &next).join("\n");
        for expected in [
            "cpu\n    - 256\n    + 512",
            "memory\n    - 512\n    + 1024",
            "containerDefinitions[app].environment.TRUSTED_PROXY_HOPS\n    - (unset)\n    + 1",
            "containerDefinitions[app].secrets.DB_URL\n    - arn:aws:secretsmanager:x\n    + arn:aws:secretsmanager:y",
            "containerDefinitions[app].logConfiguration\n    - awslogs {}\n    + awslogs {awslogs-group=/ecs/app, mode=non-blocking}",
            "containerDefinitions[app].image\n    - repo:aaa\n    + repo:bbb",
            "containerDefinitions[app].environment.APP_VERSION\n    - aaa\n    + bbb",
        ] {
            assert!(shown.contains(expected), "{expected}\n---\n{shown}");
        }
        assert!(shown.contains("containerDefinitions[app].healthCheck\n    - HealthCheck"), "{shown}");
        assert!(shown.contains("interval: Some(10)") && shown.contains("interval: Some(15)"), "{shown}");
        assert!(!shown.contains("other fields differ") && !shown.contains("RUST_LOG"), "{shown}");
        // Nothing but the image and the version comes from the serving revision.
        assert!(!same_registration(&old, &next_revision(&tf, "repo:aaa", "aaa").unwrap()));
    }

    #[test]
    fn containers_added_removed_and_unknown_fields_show() {
        let old = sample("repo:aaa", Some("aaa"));
        let mut new = old.clone();
        new.container_definitions.as_mut().unwrap().remove(0);
        new.container_definitions.as_mut().unwrap().push(ContainerDefinition::builder().name("envoy").build());
        let shown = diff(&old, &new);
        assert!(shown.contains(&"containerDefinitions[envoy]: added".to_owned()), "{shown:?}");
        assert!(shown.contains(&"containerDefinitions[sidecar]: removed".to_owned()), "{shown:?}");
        assert_eq!(diff(&old, &old), Vec::<String>::new());
    }

    #[test]
    fn a_definition_without_the_app_container_is_refused() {
        let def = TaskDefinition::builder()
            .task_definition_arn("arn:aws:ecs:r:1:task-definition/f:1")
            .container_definitions(ContainerDefinition::builder().name("web").build())
            .build();
        let err = next_revision(&def, "x", "y").unwrap_err();
        assert!(err.contains("no container named \"app\"") && err.contains("web") && err.contains("f:1"), "{err}");
    }
}
