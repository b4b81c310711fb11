//! The next task definition revision: the serving one with exactly two changes, the `app`
//! container's image and its `APP_VERSION` variable. Everything else is copied as described,
//! so a deploy never drifts CPU, roles, secrets, health checks or tags away from Terraform.

use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, TaskDefinition};

use super::decide::short;

/// The container the deploy changes (the Terraform app module names it so).
pub const APP_CONTAINER: &str = "app";
/// The variable the app reports as its version.
pub const VERSION_VAR: &str = "APP_VERSION";

/// The image the `app` container runs.
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

/// The changed fields of `old` -> `new`, one `path: old -> new` block each. Anything other than
/// images and environment variables that differs is reported too, as a safety net.
pub fn diff(old: &TaskDefinition, new: &TaskDefinition) -> Vec<String> {
    let mut out = Vec::new();
    for n in new.container_definitions() {
        let name = n.name().unwrap_or_default();
        let Some(o) = old.container_definitions().iter().find(|c| c.name() == n.name()) else {
            out.push(format!("containerDefinitions[{name}]: added"));
            continue;
        };
        if o.image() != n.image() {
            out.push(format!(
                "containerDefinitions[{name}].image\n    - {}\n    + {}",
                o.image().unwrap_or("(none)"),
                n.image().unwrap_or("(none)")
            ));
        }
        let value = |c: &ContainerDefinition, k: &str| {
            c.environment().iter().find(|kv| kv.name() == Some(k)).map(|kv| kv.value().unwrap_or_default().to_owned())
        };
        let mut keys: Vec<&str> =
            o.environment().iter().chain(n.environment()).filter_map(|kv| kv.name()).collect::<Vec<_>>();
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            let (a, b) = (value(o, k), value(n, k));
            if a != b {
                out.push(format!(
                    "containerDefinitions[{name}].environment.{k}\n    - {}\n    + {}",
                    a.unwrap_or_else(|| "(unset)".into()),
                    b.unwrap_or_else(|| "(unset)".into())
                ));
            }
        }
    }
    if without_images_and_env(old) != without_images_and_env(new) {
        out.push("other fields differ (unexpected: only image and APP_VERSION should change)".into());
    }
    out
}

/// The registrable content of a definition, with images and environments blanked.
fn without_images_and_env(def: &TaskDefinition) -> TaskDefinition {
    let mut d = next_revision_fields(def);
    for c in d.container_definitions.iter_mut().flatten() {
        c.image = None;
        c.environment = None;
    }
    d
}

/// `def` without the server-assigned fields (ARN, revision, status, timestamps).
fn next_revision_fields(def: &TaskDefinition) -> TaskDefinition {
    let mut d = def.clone();
    d.task_definition_arn = None;
    d.revision = 0;
    d.status = None;
    d.registered_at = None;
    d.registered_by = None;
    d.deregistered_at = None;
    d
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_ecs::types::{
        Compatibility, ContainerCondition, ContainerDependency, EphemeralStorage, HealthCheck, LogConfiguration,
        LogDriver, NetworkMode, PortMapping, RuntimePlatform, Secret, TaskDefinitionStatus, Volume,
    };

    /// A definition with most fields set, the app container not first.
    pub fn sample(image: &str, version: Option<&str>) -> TaskDefinition {
        let mut app = ContainerDefinition::builder()
            .name(APP_CONTAINER)
            .image(image)
            .essential(true)
            .port_mappings(PortMapping::builder().container_port(8080).build())
            .environment(KeyValuePair::builder().name("RUST_LOG").value("info").build())
            .secrets(Secret::builder().name("DB_URL").value_from("arn:aws:secretsmanager:x").build().unwrap())
            .health_check(
                HealthCheck::builder()
                    .command("CMD")
                    .command("/app")
                    .command("healthcheck")
                    .interval(10)
                    .build()
                    .unwrap(),
            )
            .log_configuration(LogConfiguration::builder().log_driver(LogDriver::Awslogs).build().unwrap())
            .depends_on(
                ContainerDependency::builder()
                    .container_name("sidecar")
                    .condition(ContainerCondition::Start)
                    .build()
                    .unwrap(),
            );
        if let Some(v) = version {
            app = app.environment(KeyValuePair::builder().name(VERSION_VAR).value(v).build());
        }
        TaskDefinition::builder()
            .task_definition_arn(super::super::decide::tests::OLD)
            .family("rdeploy-dev-app")
            .revision(4)
            .status(TaskDefinitionStatus::Active)
            .task_role_arn("arn:aws:iam::1:role/task")
            .execution_role_arn("arn:aws:iam::1:role/exec")
            .network_mode(NetworkMode::Awsvpc)
            .container_definitions(ContainerDefinition::builder().name("sidecar").image("sidecar:1").build())
            .container_definitions(app.build())
            .volumes(Volume::builder().name("tmp").build())
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .ephemeral_storage(EphemeralStorage::builder().size_in_gib(21).build())
            .runtime_platform(RuntimePlatform::builder().build())
            .enable_fault_injection(false)
            .build()
    }

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
                "containerDefinitions[app].image\n    - repo:aaa\n    + repo:bbb".to_owned(),
                "containerDefinitions[app].environment.APP_VERSION\n    - aaa\n    + bbb".to_owned(),
            ]
        );
        let fresh = next_revision(&sample("repo:aaa", None), "repo:bbb", "bbb").unwrap();
        assert!(diff(&sample("repo:aaa", None), &fresh)[1].contains("- (unset)"));
        let mut drifted = new.clone();
        drifted.cpu = Some("512".into());
        assert!(diff(&old, &drifted).last().unwrap().contains("other fields differ"));
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
