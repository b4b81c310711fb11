//! The seams of deploy and migrate: what they need from ECS, CloudWatch Logs, ECR, time and the
//! terminal, as traits, and the [`Session`] that carries one of each. Production implements them
//! with the AWS SDK (`sdk.rs`), tokio and stdout (`ui.rs`); the tests implement them with scripted
//! SDK values, a fake clock and a recorder, so no test sleeps or needs AWS.

use std::fmt;
use std::time::Duration;

use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, Failure, LaunchType, NetworkConfiguration, Service, Tag, Task, TaskDefinition,
};

/// What went wrong talking to AWS, reduced to what the user must do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// No credentials could be loaded, or AWS rejected them as unknown/expired.
    Credentials,
    /// The endpoint could not be reached (DNS, connection refused, timeout).
    Unreachable,
    /// The identity lacks a permission.
    AccessDenied,
    /// ClusterNotFoundException.
    ClusterNotFound,
    /// ServiceNotFoundException / ServiceNotActiveException.
    ServiceNotFound,
    /// A named image or repository does not exist (ECR).
    NotFound,
    Other,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ApiErrorKind,
    /// The API operation, e.g. `DescribeServices`.
    pub operation: &'static str,
    /// The SDK's full error chain (`DisplayErrorContext`).
    pub detail: String,
    /// A retry may succeed, and the call may have taken effect: a timeout, a lost connection, a
    /// 5xx or throttling answer. False for an answer that rejected the request.
    pub transient: bool,
}

impl ApiError {
    pub fn new(kind: ApiErrorKind, operation: &'static str, detail: impl Into<String>) -> Self {
        Self { kind, operation, detail: detail.into(), transient: kind == ApiErrorKind::Unreachable }
    }

    /// Mark as transient (see the field).
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.operation;
        match self.kind {
            ApiErrorKind::Credentials => write!(
                f,
                "{op}: no usable AWS credentials. Provide them (AWS_PROFILE with static keys, AWS_ACCESS_KEY_ID + \
                 AWS_SECRET_ACCESS_KEY, an SSO profile after `aws sso login --profile <name>`, or the CI role)"
            )?,
            ApiErrorKind::Unreachable => write!(
                f,
                "{op}: cannot reach the AWS endpoint (network, proxy or endpoint URL; for --env local: is the \
                 emulator running? `cargo xtask local up`)"
            )?,
            ApiErrorKind::AccessDenied => {
                write!(f, "{op}: access denied: the current AWS identity is not allowed to call {op}")?
            }
            ApiErrorKind::ClusterNotFound => write!(f, "{op}: the ECS cluster does not exist")?,
            ApiErrorKind::ServiceNotFound => write!(f, "{op}: the ECS service does not exist or is not active")?,
            ApiErrorKind::NotFound => write!(f, "{op}: not found")?,
            ApiErrorKind::Other => write!(f, "{op} failed")?,
        }
        if !self.detail.is_empty() {
            write!(f, "\n  cause: {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// DescribeServices answers a missing service in `failures`, not as an error.
#[derive(Debug, Clone)]
pub enum ServiceLookup {
    Found(Box<Service>),
    Missing { reason: String },
}

/// The ECS calls a rollout and a migration make. Each maps to one SDK operation (or a paginated pair).
pub trait Ecs {
    async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceLookup, ApiError>;
    /// DescribeTaskDefinition with `include: [TAGS]`.
    async fn describe_task_definition(&self, arn: &str) -> Result<(TaskDefinition, Vec<Tag>), ApiError>;
    /// RegisterTaskDefinition from every registrable field of `def`; returns the new revision.
    async fn register_task_definition(&self, def: &TaskDefinition, tags: &[Tag]) -> Result<TaskDefinition, ApiError>;
    async fn update_service(&self, cluster: &str, service: &str, task_definition: &str) -> Result<(), ApiError>;
    /// UpdateService with forceNewDeployment: new tasks of the revision the service points at.
    async fn force_new_deployment(&self, cluster: &str, service: &str) -> Result<(), ApiError>;
    /// Recently stopped tasks of the service (ListTasks desiredStatus=STOPPED + DescribeTasks).
    async fn stopped_tasks(&self, cluster: &str, service: &str) -> Result<Vec<Task>, ApiError>;
    /// The service's tasks that should run (ListTasks desiredStatus=RUNNING + DescribeTasks).
    async fn running_tasks(&self, cluster: &str, service: &str) -> Result<Vec<Task>, ApiError>;
    /// ARNs of the ACTIVE revisions of `family`, any order.
    async fn active_revisions(&self, family: &str) -> Result<Vec<String>, ApiError>;
    async fn deregister(&self, arn: &str) -> Result<(), ApiError>;
    /// RunTask of one task as `task` describes it: the tasks started and the `failures`.
    async fn run_task(&self, task: &OneOffTask) -> Result<(Vec<Task>, Vec<Failure>), ApiError>;
    /// DescribeTasks of one task: the task, or the `failures` (MISSING) when it is not found.
    async fn describe_tasks(&self, cluster: &str, arn: &str) -> Result<(Vec<Task>, Vec<Failure>), ApiError>;
    /// StopTask with a reason ECS records on the task.
    async fn stop_task(&self, cluster: &str, arn: &str, reason: &str) -> Result<(), ApiError>;
    /// TagResource on a task definition revision (the `rdeploy:completed` tag).
    async fn tag_resource(&self, arn: &str, tags: &[Tag]) -> Result<(), ApiError>;
}

/// One RunTask: one task of a registered revision, in the service's network and compute, with one
/// container's command replaced. Built by `migration::one_off` from the service; `sdk.rs` sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct OneOffTask {
    pub cluster: String,
    pub task_definition: String,
    /// The container whose command is replaced, and the command.
    pub container: String,
    pub command: Vec<String>,
    pub started_by: String,
    pub group: String,
    /// The service's networkConfiguration (awsvpc subnets, security groups, assignPublicIp).
    pub network: Option<NetworkConfiguration>,
    /// The service's launchType, or else its capacityProviderStrategy (never both: the API
    /// refuses that); neither means the cluster's default strategy, as for the service.
    pub launch_type: Option<LaunchType>,
    pub capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    pub platform_version: Option<String>,
    /// Idempotency token: a RunTask retried with it after a lost answer starts no second task.
    pub client_token: String,
}

/// The CloudWatch Logs call a failure report needs: the last `limit` lines of one stream, oldest
/// first (GetLogEvents from the end).
pub trait Logs {
    async fn last_lines(&self, group: &str, stream: &str, limit: i32) -> Result<Vec<String>, ApiError>;
    /// FilterLogEvents on `group` from `start_ms` (inclusive), every page up to `limit` events:
    /// only `stream` when given, only events matching `pattern` when given.
    async fn filter_events(
        &self,
        group: &str,
        stream: Option<&str>,
        pattern: Option<&str>,
        start_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::ops::logs::Event>, ApiError>;
}

/// The ELBv2 call `status` makes: the targets of one target group and their health.
pub trait TargetHealth {
    async fn target_health(&self, target_group: &str) -> Result<Vec<crate::ops::status::Target>, ApiError>;
}

/// The ECR call prod needs: the digest of `repository:tag`, or None when there is no such tag.
pub trait Ecr {
    async fn image_digest(&self, repository: &str, tag: &str) -> Result<Option<String>, ApiError>;
}

/// Monotonic time and sleeping, injectable so the watch loop is tested without real waiting.
pub trait Clock {
    /// Time since an arbitrary fixed point.
    fn now(&self) -> Duration;
    async fn sleep(&self, duration: Duration);
    /// Wall-clock time (what the `rdeploy:completed` tag records).
    fn wall(&self) -> std::time::SystemTime;
    /// Ctrl-C or SIGTERM arrived (during a sleep, or before one): the loops stop at their next
    /// check. Once it is set, every sleep returns at once.
    fn cancelled(&self) -> Option<crate::ops::interrupt::Signal> {
        None
    }
}

/// Where a session reports progress.
pub trait Ui {
    /// A permanent line (events, steps, diagnostics).
    fn line(&mut self, text: &str);
    /// The current rollout status: a live line on a terminal, a timestamped line on change in CI.
    fn status(&mut self, text: &str);
}

/// The real clock: tokio's timer, raced against SIGINT and SIGTERM (listened to from the first
/// sleep on, so a signal during an AWS call is seen at the next sleep).
pub struct TokioClock {
    start: std::time::Instant,
    cancelled: std::cell::Cell<Option<crate::ops::interrupt::Signal>>,
    #[cfg(unix)]
    signals: std::cell::RefCell<Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>>,
}

impl TokioClock {
    pub fn new() -> Self {
        Self {
            start: std::time::Instant::now(),
            cancelled: std::cell::Cell::new(None),
            #[cfg(unix)]
            signals: std::cell::RefCell::new(None),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
    async fn sleep(&self, duration: Duration) {
        use crate::ops::interrupt::Signal;
        if self.cancelled.get().is_some() {
            return;
        }
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let taken = self.signals.borrow_mut().take();
            let (mut int, mut term) = match taken {
                Some(pair) => pair,
                None => match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
                    (Ok(int), Ok(term)) => (int, term),
                    _ => return tokio::time::sleep(duration).await,
                },
            };
            tokio::select! {
                _ = tokio::time::sleep(duration) => {}
                _ = int.recv() => self.cancelled.set(Some(Signal::Interrupt)),
                _ = term.recv() => self.cancelled.set(Some(Signal::Terminate)),
            }
            *self.signals.borrow_mut() = Some((int, term));
        }
        #[cfg(not(unix))]
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = tokio::signal::ctrl_c() => self.cancelled.set(Some(Signal::Interrupt)),
        }
    }
    fn wall(&self) -> std::time::SystemTime {
        std::time::SystemTime::now()
    }
    fn cancelled(&self) -> Option<crate::ops::interrupt::Signal> {
        self.cancelled.get()
    }
}

/// What a rollout or a migration talks to: ECS, the task logs, the clock and the terminal. The
/// steps are methods on it (`rollout.rs`, `migration.rs`), so none of them takes a long list.
pub struct Session<'a, E, L, C, U> {
    pub ecs: &'a E,
    pub logs: &'a L,
    pub clock: &'a C,
    pub ui: &'a mut U,
}
