//! The real [`Ecs`] and [`Ecr`]: thin wrappers over the AWS SDK that translate its errors into
//! [`ApiError`]s. No decisions are made here.

use aws_config::SdkConfig;
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::operation::run_task::builders::RunTaskFluentBuilder;
use aws_sdk_ecs::types::{
    ContainerOverride, DesiredStatus, Failure, Tag, Task, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
    TaskOverride,
};

use super::api::{ApiError, ApiErrorKind, Ecr, Ecs, Logs, OneOffTask, ServiceLookup, TargetHealth};

/// Reduce an SDK error to what the user must fix. `code` is the service's error code, if any;
/// `transport` is true for dispatch failures and timeouts; `detail` is the full error chain.
pub fn classify(code: Option<&str>, transport: bool, detail: &str) -> ApiErrorKind {
    match code {
        Some("AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" | "UnauthorizedException") => {
            return ApiErrorKind::AccessDenied;
        }
        Some(
            "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredTokenException"
            | "ExpiredToken"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "MissingAuthenticationTokenException",
        ) => return ApiErrorKind::Credentials,
        Some("ClusterNotFoundException") => return ApiErrorKind::ClusterNotFound,
        Some("ServiceNotFoundException" | "ServiceNotActiveException") => return ApiErrorKind::ServiceNotFound,
        Some("ImageNotFoundException" | "RepositoryNotFoundException") => return ApiErrorKind::NotFound,
        _ => {}
    }
    let lower = detail.to_ascii_lowercase();
    if lower.contains("is not authorized to perform") {
        return ApiErrorKind::AccessDenied;
    }
    if lower.contains("credentials")
        && ["no providers", "not loaded", "failed to load", "no credentials", "identity"]
            .iter()
            .any(|s| lower.contains(s))
    {
        return ApiErrorKind::Credentials;
    }
    if transport {
        return ApiErrorKind::Unreachable;
    }
    ApiErrorKind::Other
}

/// Errors after which the request may still have been applied, or a retry may succeed: no
/// answer (timeout, dispatch or response failure), a server error, or throttling.
pub fn is_transient(no_answer: bool, status: Option<u16>, code: Option<&str>) -> bool {
    no_answer
        || status.is_some_and(|s| s >= 500 || s == 429)
        || matches!(
            code,
            Some(
                "ThrottlingException"
                    | "Throttling"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "ServerException"
            )
        )
}

fn api_error<E>(operation: &'static str, err: SdkError<E, aws_sdk_ecs::config::http::HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut detail = DisplayErrorContext(&err).to_string();
    let transport = matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
    let status = err.raw_response().map(|r| r.status().as_u16());
    let kind = classify(err.code(), transport, &detail);
    // Name every IAM action the call needs (implicit ones too), from the permission contract.
    if kind == ApiErrorKind::AccessDenied
        && let Some(needs) = crate::permissions::needs_line(operation)
    {
        detail = format!("{detail}\n  {needs}");
    }
    let mut error = ApiError::new(kind, operation, detail);
    if is_transient(transport || matches!(err, SdkError::ResponseError(_)), status, err.code()) {
        error = error.transient();
    }
    error
}

/// RegisterTaskDefinition carrying every registrable field of `def` (the described revision with
/// our two changes), and its tags. Kept separate so a test can read the request back.
/// (inferenceAccelerators is deprecated by AWS but still a field of old definitions: copy it.)
#[allow(deprecated)]
pub fn register_request(
    client: &aws_sdk_ecs::Client,
    def: &TaskDefinition,
    tags: &[Tag],
) -> RegisterTaskDefinitionFluentBuilder {
    client
        .register_task_definition()
        .set_family(def.family.clone())
        .set_task_role_arn(def.task_role_arn.clone())
        .set_execution_role_arn(def.execution_role_arn.clone())
        .set_network_mode(def.network_mode.clone())
        .set_container_definitions(def.container_definitions.clone())
        .set_volumes(def.volumes.clone())
        .set_placement_constraints(def.placement_constraints.clone())
        .set_requires_compatibilities(def.requires_compatibilities.clone())
        .set_cpu(def.cpu.clone())
        .set_memory(def.memory.clone())
        .set_pid_mode(def.pid_mode.clone())
        .set_ipc_mode(def.ipc_mode.clone())
        .set_proxy_configuration(def.proxy_configuration.clone())
        .set_inference_accelerators(def.inference_accelerators.clone())
        .set_ephemeral_storage(def.ephemeral_storage.clone())
        .set_runtime_platform(def.runtime_platform.clone())
        .set_enable_fault_injection(def.enable_fault_injection)
        .set_tags(if tags.is_empty() { None } else { Some(tags.to_vec()) })
}

/// RunTask for `task`: count 1, the container's command overridden, startedBy and group set, the
/// service's network and compute copied. Kept separate so a test can read the request back.
pub fn run_task_request(client: &aws_sdk_ecs::Client, task: &OneOffTask) -> RunTaskFluentBuilder {
    let container = ContainerOverride::builder().name(&task.container).set_command(Some(task.command.clone())).build();
    client
        .run_task()
        .cluster(&task.cluster)
        .task_definition(&task.task_definition)
        .count(1)
        .overrides(TaskOverride::builder().container_overrides(container).build())
        .started_by(&task.started_by)
        .group(&task.group)
        .set_network_configuration(task.network.clone())
        .set_launch_type(task.launch_type.clone())
        .set_capacity_provider_strategy(if task.capacity_provider_strategy.is_empty() {
            None
        } else {
            Some(task.capacity_provider_strategy.clone())
        })
        .set_platform_version(task.platform_version.clone())
        .client_token(&task.client_token)
}

pub struct SdkEcs {
    client: aws_sdk_ecs::Client,
}

impl SdkEcs {
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: aws_sdk_ecs::Client::new(config) }
    }
}

impl SdkEcs {
    /// ListTasks of the service with `desired` (up to 100) + DescribeTasks.
    async fn service_tasks(&self, cluster: &str, service: &str, desired: DesiredStatus) -> Result<Vec<Task>, ApiError> {
        let listed = self
            .client
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(desired)
            .max_results(100)
            .send()
            .await
            .map_err(|e| api_error("ListTasks", e))?;
        if listed.task_arns().is_empty() {
            return Ok(Vec::new());
        }
        let described = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(listed.task_arns().to_vec()))
            .send()
            .await
            .map_err(|e| api_error("DescribeTasks", e))?;
        Ok(described.tasks().to_vec())
    }
}

impl Ecs for SdkEcs {
    async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceLookup, ApiError> {
        let out = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| api_error("DescribeServices", e))?;
        if let Some(found) =
            out.services().iter().find(|s| s.service_name() == Some(service) || out.services().len() == 1)
        {
            return Ok(ServiceLookup::Found(Box::new(found.clone())));
        }
        let reason = out.failures().first().and_then(|f| f.reason()).unwrap_or("not returned").to_owned();
        Ok(ServiceLookup::Missing { reason })
    }

    async fn describe_task_definition(&self, arn: &str) -> Result<(TaskDefinition, Vec<Tag>), ApiError> {
        let out = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| api_error("DescribeTaskDefinition", e))?;
        let tags = out.tags().to_vec();
        let def = out.task_definition.ok_or_else(|| {
            ApiError::new(
                ApiErrorKind::Other,
                "DescribeTaskDefinition",
                format!("no task definition returned for {arn}"),
            )
        })?;
        Ok((def, tags))
    }

    async fn register_task_definition(&self, def: &TaskDefinition, tags: &[Tag]) -> Result<TaskDefinition, ApiError> {
        let out = register_request(&self.client, def, tags)
            .send()
            .await
            .map_err(|e| api_error("RegisterTaskDefinition", e))?;
        out.task_definition
            .ok_or_else(|| ApiError::new(ApiErrorKind::Other, "RegisterTaskDefinition", "no task definition returned"))
    }

    async fn update_service(&self, cluster: &str, service: &str, task_definition: &str) -> Result<(), ApiError> {
        self.client
            .update_service()
            .cluster(cluster)
            .service(service)
            .task_definition(task_definition)
            .send()
            .await
            .map_err(|e| api_error("UpdateService", e))?;
        Ok(())
    }

    async fn force_new_deployment(&self, cluster: &str, service: &str) -> Result<(), ApiError> {
        self.client
            .update_service()
            .cluster(cluster)
            .service(service)
            .force_new_deployment(true)
            .send()
            .await
            .map_err(|e| api_error("UpdateService", e))?;
        Ok(())
    }
    async fn stopped_tasks(&self, cluster: &str, service: &str) -> Result<Vec<Task>, ApiError> {
        self.service_tasks(cluster, service, DesiredStatus::Stopped).await
    }
    async fn running_tasks(&self, cluster: &str, service: &str) -> Result<Vec<Task>, ApiError> {
        self.service_tasks(cluster, service, DesiredStatus::Running).await
    }
    async fn active_revisions(&self, family: &str) -> Result<Vec<String>, ApiError> {
        self.client
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api_error("ListTaskDefinitions", e))
    }

    async fn deregister(&self, arn: &str) -> Result<(), ApiError> {
        self.client
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| api_error("DeregisterTaskDefinition", e))?;
        Ok(())
    }

    async fn tag_resource(&self, arn: &str, tags: &[Tag]) -> Result<(), ApiError> {
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags.to_vec()))
            .send()
            .await
            .map_err(|e| api_error("TagResource", e))?;
        Ok(())
    }
    async fn run_task(&self, task: &OneOffTask) -> Result<(Vec<Task>, Vec<Failure>), ApiError> {
        let out = run_task_request(&self.client, task).send().await.map_err(|e| api_error("RunTask", e))?;
        Ok((out.tasks().to_vec(), out.failures().to_vec()))
    }

    async fn describe_tasks(&self, cluster: &str, arn: &str) -> Result<(Vec<Task>, Vec<Failure>), ApiError> {
        let out = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .tasks(arn)
            .send()
            .await
            .map_err(|e| api_error("DescribeTasks", e))?;
        Ok((out.tasks().to_vec(), out.failures().to_vec()))
    }

    async fn stop_task(&self, cluster: &str, arn: &str, reason: &str) -> Result<(), ApiError> {
        self.client
            .stop_task()
            .cluster(cluster)
            .task(arn)
            .reason(reason)
            .send()
            .await
            .map_err(|e| api_error("StopTask", e))?;
        Ok(())
    }
}

/// The real [`Logs`]: CloudWatch Logs GetLogEvents.
pub struct SdkLogs {
    client: aws_sdk_cloudwatchlogs::Client,
}

impl SdkLogs {
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: aws_sdk_cloudwatchlogs::Client::new(config) }
    }
}

impl Logs for SdkLogs {
    async fn last_lines(&self, group: &str, stream: &str, limit: i32) -> Result<Vec<String>, ApiError> {
        // startFromHead=false with a limit: the newest `limit` events, returned oldest first.
        let out = self
            .client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(false)
            .limit(limit)
            .send()
            .await
            .map_err(|e| api_error("GetLogEvents", e))?;
        Ok(out.events().iter().filter_map(|e| e.message()).map(|m| m.trim_end().to_owned()).collect())
    }
    async fn filter_events(
        &self,
        group: &str,
        stream: Option<&str>,
        pattern: Option<&str>,
        start_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::ops::logs::Event>, ApiError> {
        let mut events = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .filter_log_events()
                .log_group_name(group)
                .set_log_stream_names(stream.map(|s| vec![s.to_owned()]))
                .set_filter_pattern(pattern.map(str::to_owned))
                .start_time(start_ms)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| api_error("FilterLogEvents", e))?;
            events.extend(out.events().iter().map(|e| crate::ops::logs::Event {
                id: e.event_id().unwrap_or_default().to_owned(),
                stream: e.log_stream_name().unwrap_or_default().to_owned(),
                timestamp: e.timestamp().unwrap_or_default(),
                message: e.message().unwrap_or_default().to_owned(),
            }));
            match out.next_token() {
                Some(token) if events.len() < limit && !out.events().is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        events.truncate(limit);
        Ok(events)
    }
}

pub struct SdkEcr {
    client: aws_sdk_ecr::Client,
}

impl SdkEcr {
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: aws_sdk_ecr::Client::new(config) }
    }
}

impl Ecr for SdkEcr {
    async fn image_digest(&self, repository: &str, tag: &str) -> Result<Option<String>, ApiError> {
        let result = self
            .client
            .describe_images()
            .repository_name(repository)
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.image_details().first().and_then(|d| d.image_digest()).map(str::to_owned)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_image_not_found_exception()) => Ok(None),
            Err(e) => Err(api_error("DescribeImages", e)),
        }
    }
}

/// ELBv2 (target health) behind [`TargetHealth`].
pub struct SdkElb {
    client: aws_sdk_elasticloadbalancingv2::Client,
}

impl SdkElb {
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: aws_sdk_elasticloadbalancingv2::Client::new(config) }
    }
}

impl TargetHealth for SdkElb {
    async fn target_health(&self, target_group: &str) -> Result<Vec<crate::ops::status::Target>, ApiError> {
        let out = self
            .client
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .map_err(|e| api_error("DescribeTargetHealth", e))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .map(|d| {
                let health = d.target_health();
                crate::ops::status::Target {
                    id: d.target().and_then(|t| t.id()).unwrap_or_default().to_owned(),
                    port: d.target().and_then(|t| t.port()),
                    state: health.and_then(|h| h.state()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_owned()),
                    description: health.and_then(|h| h.description()).map(str::to_owned),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::testkit::sample;
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_ecs::config::Credentials;
    use aws_sdk_ecs::types::{IpcMode, PidMode, ProxyConfiguration, TaskDefinitionPlacementConstraint};

    fn offline_client(endpoint: &str, credentials: bool) -> aws_sdk_ecs::Client {
        let mut config = aws_sdk_ecs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled());
        if credentials {
            config = config.credentials_provider(Credentials::new("test", "test", None, None, "test"));
        }
        aws_sdk_ecs::Client::from_conf(config.build())
    }

    #[test]
    #[allow(deprecated)]
    fn the_register_request_carries_every_field() {
        let mut def = sample("repo:aaa", Some("aaa"));
        def.placement_constraints = Some(vec![TaskDefinitionPlacementConstraint::builder().expression("x").build()]);
        def.pid_mode = Some(PidMode::Task);
        def.ipc_mode = Some(IpcMode::Task);
        def.proxy_configuration = Some(ProxyConfiguration::builder().container_name("envoy").build().unwrap());
        def.inference_accelerators = Some(vec![
            aws_sdk_ecs::types::InferenceAccelerator::builder().device_name("d").device_type("t").build().unwrap(),
        ]);
        let tags = vec![Tag::builder().key("Project").value("rdeploy").build()];
        let client = offline_client("http://127.0.0.1:9", true);
        let req = register_request(&client, &def, &tags);
        let input = req.as_input();
        assert_eq!(input.get_family(), &def.family);
        assert_eq!(input.get_task_role_arn(), &def.task_role_arn);
        assert_eq!(input.get_execution_role_arn(), &def.execution_role_arn);
        assert_eq!(input.get_network_mode(), &def.network_mode);
        assert_eq!(input.get_container_definitions(), &def.container_definitions);
        assert_eq!(input.get_volumes(), &def.volumes);
        assert_eq!(input.get_placement_constraints(), &def.placement_constraints);
        assert_eq!(input.get_requires_compatibilities(), &def.requires_compatibilities);
        assert_eq!(input.get_cpu(), &def.cpu);
        assert_eq!(input.get_memory(), &def.memory);
        assert_eq!(input.get_pid_mode(), &def.pid_mode);
        assert_eq!(input.get_ipc_mode(), &def.ipc_mode);
        assert_eq!(input.get_proxy_configuration(), &def.proxy_configuration);
        assert_eq!(input.get_inference_accelerators(), &def.inference_accelerators);
        assert_eq!(input.get_ephemeral_storage(), &def.ephemeral_storage);
        assert_eq!(input.get_runtime_platform(), &def.runtime_platform);
        assert_eq!(input.get_enable_fault_injection(), &def.enable_fault_injection);
        assert_eq!(input.get_tags(), &Some(tags));
        // Every field the sample sets is non-empty, so a forgotten setter would show as None.
        for (name, set) in [
            ("family", input.get_family().is_some()),
            ("containerDefinitions", input.get_container_definitions().is_some()),
            ("ephemeralStorage", input.get_ephemeral_storage().is_some()),
            ("proxyConfiguration", input.get_proxy_configuration().is_some()),
        ] {
            assert!(set, "{name} not carried over");
        }
    }

    #[test]
    fn the_run_task_request_carries_the_override_the_network_and_the_compute() {
        use aws_sdk_ecs::types::{
            AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, LaunchType, NetworkConfiguration,
        };
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .subnets("subnet-a")
                    .security_groups("sg-app")
                    .assign_public_ip(AssignPublicIp::Disabled)
                    .build()
                    .unwrap(),
            )
            .build();
        let mut task = OneOffTask {
            cluster: "c".into(),
            task_definition: "arn:td:5".into(),
            container: "app".into(),
            command: vec!["migrate".into()],
            started_by: "rdeploy-migrate".into(),
            group: "migrate".into(),
            network: Some(network.clone()),
            launch_type: Some(LaunchType::Fargate),
            capacity_provider_strategy: vec![],
            platform_version: Some("LATEST".into()),
            client_token: "token".into(),
        };
        let client = offline_client("http://127.0.0.1:9", true);
        let req = run_task_request(&client, &task);
        let input = req.as_input();
        assert_eq!(input.get_cluster().as_deref(), Some("c"));
        assert_eq!(input.get_task_definition().as_deref(), Some("arn:td:5"));
        assert_eq!(input.get_count(), &Some(1));
        let overrides = input.get_overrides().as_ref().unwrap().container_overrides();
        assert_eq!(overrides[0].name(), Some("app"));
        assert_eq!(overrides[0].command(), ["migrate"]);
        assert_eq!(input.get_started_by().as_deref(), Some("rdeploy-migrate"));
        assert_eq!(input.get_group().as_deref(), Some("migrate"));
        assert_eq!(input.get_network_configuration(), &Some(network));
        assert_eq!(input.get_launch_type(), &Some(LaunchType::Fargate));
        assert_eq!(input.get_capacity_provider_strategy(), &None, "never both: the API refuses it");
        assert_eq!(input.get_platform_version().as_deref(), Some("LATEST"));
        assert_eq!(input.get_client_token().as_deref(), Some("token"));
        task.launch_type = None;
        task.capacity_provider_strategy =
            vec![CapacityProviderStrategyItem::builder().capacity_provider("FARGATE_SPOT").weight(1).build().unwrap()];
        let req = run_task_request(&client, &task);
        assert_eq!(req.as_input().get_launch_type(), &None);
        assert_eq!(req.as_input().get_capacity_provider_strategy(), &Some(task.capacity_provider_strategy.clone()));
    }

    #[test]
    fn an_empty_tag_list_sends_no_tags() {
        // An empty `tags: []` would still be a tagging request (ecs:TagResource); none is sent.
        let client = offline_client("http://127.0.0.1:9", true);
        let req = register_request(&client, &sample("repo:aaa", Some("aaa")), &[]);
        assert_eq!(req.as_input().get_tags(), &None);
    }

    #[test]
    fn errors_are_classified_by_code_then_cause() {
        use ApiErrorKind::*;
        assert_eq!(classify(Some("AccessDeniedException"), false, ""), AccessDenied);
        assert_eq!(
            classify(Some("ClientException"), false, "User: x is not authorized to perform: ecs:X"),
            AccessDenied
        );
        assert_eq!(classify(Some("ClusterNotFoundException"), false, ""), ClusterNotFound);
        assert_eq!(classify(Some("ExpiredTokenException"), false, ""), Credentials);
        assert_eq!(classify(None, true, "dispatch failure: io error: Connection refused"), Unreachable);
        assert_eq!(
            classify(None, true, "failed to load credentials: no providers in chain provided credentials"),
            Credentials
        );
        assert_eq!(classify(Some("ServerException"), false, "boom"), Other);
    }

    #[test]
    fn transient_errors_are_the_ones_a_retry_may_fix() {
        assert!(is_transient(true, None, None), "no answer");
        assert!(is_transient(false, Some(503), None));
        assert!(is_transient(false, Some(400), Some("ThrottlingException")));
        assert!(!is_transient(false, Some(400), Some("InvalidParameterException")));
        assert!(!is_transient(false, Some(400), Some("AccessDeniedException")));
    }

    #[tokio::test]
    async fn missing_credentials_are_named_without_any_request() {
        // Port 9 on loopback: nothing is sent anyway, credentials fail first.
        let err = offline_client("http://127.0.0.1:9", false)
            .describe_services()
            .cluster("c")
            .services("s")
            .send()
            .await
            .unwrap_err();
        let err = api_error("DescribeServices", err);
        assert_eq!(err.kind, ApiErrorKind::Credentials, "{err}");
        assert!(err.to_string().contains("no usable AWS credentials"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_named() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = offline_client(&format!("http://127.0.0.1:{port}"), true)
            .describe_services()
            .cluster("c")
            .services("s")
            .send()
            .await
            .unwrap_err();
        let err = api_error("DescribeServices", err);
        assert_eq!(err.kind, ApiErrorKind::Unreachable, "{err}");
        assert!(err.to_string().contains("cannot reach the AWS endpoint"), "{err}");
    }
}
