//! What a rollout and a migration both start from: the [`Target`] (which environment, service,
//! family and image), and the service's revisions as ECS has them now ([`lookup`]): the service,
//! the revision it serves, and the revision the next one is built from.
//!
//! The base of the next revision is the family's NEWEST ACTIVE revision (DescribeTaskDefinition
//! on the family name), i.e. what the last `terraform apply` or the last deploy registered, so a
//! Terraform change to CPU, memory, environment, secrets, health check or logging reaches the
//! service on the next deploy. The serving revision wins only when it is newer (it was
//! deregistered, so the family lookup skips it). A service that runs another family than
//! infra/envs names is refused before anything changes.

use aws_sdk_ecs::types::{Service, Tag, TaskDefinition};

use super::api::{ApiError, ApiErrorKind, Ecs, ServiceLookup};
use super::image_ref::ImageRef;
use super::outcome::{code, fail};
use super::taskdef;
use crate::env::Env;

/// Where an image goes, resolved and validated by the caller: the same for deploy and migrate.
#[derive(Debug, Clone)]
pub struct Target {
    pub env: String,
    /// The task definition family Terraform registers into (from infra/envs).
    pub family: String,
    pub cluster: String,
    pub service: String,
    /// The image reference that goes into the task definition.
    pub image: String,
    /// APP_VERSION.
    pub version: String,
    pub dry_run: bool,
}

impl Target {
    pub fn new(env: &Env, image: &ImageRef, dry_run: bool) -> Self {
        Self {
            env: env.name.clone(),
            family: env.task_family(),
            cluster: env.cluster(),
            service: env.service(),
            image: image.reference(),
            version: image.version(),
            dry_run,
        }
    }

    /// The environment's service and family, for the commands that deploy no image (rollback,
    /// status, revisions, logs, run): `image` and `version` stay empty.
    pub fn of_service(env: &Env, dry_run: bool) -> Self {
        Self {
            env: env.name.clone(),
            family: env.task_family(),
            cluster: env.cluster(),
            service: env.service(),
            image: String::new(),
            version: String::new(),
            dry_run,
        }
    }

    /// Where to look when the outcome is not known.
    pub fn look_command(&self) -> String {
        format!("aws ecs describe-services --cluster {} --services {}", self.cluster, self.service)
    }

    /// An API error before anything was changed: exit 2, saying so.
    pub fn before_change(&self, err: ApiError) -> anyhow::Error {
        let message = match err.kind {
            ApiErrorKind::ClusterNotFound => format!(
                "ECS cluster '{}' not found (environment {}): apply the infrastructure for this environment first\n  \
                 cause: {}",
                self.cluster, self.env, err.detail
            ),
            ApiErrorKind::ServiceNotFound => format!(
                "ECS service '{}' not found in cluster '{}': apply the app layer for environment {} first\n  cause: {}",
                self.service, self.cluster, self.env, err.detail
            ),
            _ => format!("{err}\nNothing changed."),
        };
        fail(code::USAGE, message)
    }
}

/// The service and its revisions, as found before any change.
#[derive(Debug, Clone)]
pub struct Revisions {
    pub service: Service,
    /// The revision the service points at, and its tags.
    pub serving: TaskDefinition,
    pub serving_tags: Vec<Tag>,
    /// The family's newest ACTIVE revision, and its tags.
    pub newest: TaskDefinition,
    pub newest_tags: Vec<Tag>,
}

impl Revisions {
    /// The revision the next one is built from, and the tags it is registered with.
    pub fn base(&self) -> (&TaskDefinition, &[Tag]) {
        if self.newest.revision() >= self.serving.revision() {
            (&self.newest, &self.newest_tags)
        } else {
            (&self.serving, &self.serving_tags)
        }
    }

    /// The next revision: the base with only the `app` image and APP_VERSION replaced.
    pub fn next(&self, target: &Target) -> anyhow::Result<TaskDefinition> {
        taskdef::next_revision(self.base().0, &target.image, &target.version).map_err(|e| fail(code::USAGE, e))
    }
}

/// Find the service, its serving revision and the family's newest one. Reads only; every error is
/// exit 2 and names what to do: a missing cluster or service, a service with no revision, or one
/// that runs another family than infra/envs names.
pub async fn lookup(ecs: &impl Ecs, target: &Target) -> anyhow::Result<Revisions> {
    let service = match ecs
        .describe_service(&target.cluster, &target.service)
        .await
        .map_err(|e| target.before_change(e))?
    {
        ServiceLookup::Found(service) => *service,
        ServiceLookup::Missing { reason } => {
            return Err(fail(
                code::USAGE,
                format!(
                    "ECS service '{}' not found in cluster '{}' (DescribeServices: {reason}): apply the app layer for \
                     environment {} first",
                    target.service, target.cluster, target.env
                ),
            ));
        }
    };
    let serving_arn = service.task_definition().unwrap_or_default().to_owned();
    if serving_arn.is_empty() {
        return Err(fail(
            code::USAGE,
            format!(
                "ECS service '{}' has no task definition (no serving revision): apply the app layer for environment {} first",
                target.service, target.env
            ),
        ));
    }
    let (serving, serving_tags) =
        ecs.describe_task_definition(&serving_arn).await.map_err(|e| target.before_change(e))?;
    let family = serving.family().unwrap_or_default();
    if family != target.family {
        return Err(fail(
            code::USAGE,
            format!(
                "ECS service '{}' runs task definition family '{family}', but infra/envs/{}.tfvars names the family \
                 '{}': Terraform's changes would never reach this service. Point the service at the Terraform family \
                 (apply the app layer) first",
                target.service, target.env, target.family
            ),
        ));
    }
    let (newest, newest_tags) = ecs.describe_task_definition(family).await.map_err(|e| target.before_change(e))?;
    Ok(Revisions { service, serving, serving_tags, newest, newest_tags })
}
