# shared layer: what outlives the environment's runtime and is needed before it exists —
# the image repository (CI pushes before the service is created) and the GitHub OIDC roles.

locals {
  layer = "shared"
}

module "ecr" {
  source = "../../modules/ecr"

  name         = local.names.ecr_repository
  force_delete = var.ecr_force_delete

  lifecycle_rules = {
    keep_last_images = var.ecr_keep_last_images
  }

  # Another account's deploy role copies images out of this repository (`image --promote`).
  pull_account_ids = var.ecr_pull_account_ids
}

locals {
  # The repository's ARN built from its name (what AWS assigns), so the deploy role's policy is
  # fully known at plan time and reviewable in the plan (and checkable by the contract test).
  ecr_repository_arn = "arn:${data.aws_partition.current.partition}:ecr:${var.region}:${data.aws_caller_identity.current.account_id}:repository/${module.ecr.repository_name}"

  # Where `cargo xtask image --promote` copies this environment's images from: the repository of
  # `image_promoted_from` (same account and region unless told otherwise).
  promote_from_repository_arns = var.image_promoted_from == null ? [] : [
    "arn:${data.aws_partition.current.partition}:ecr:${coalesce(var.image_promoted_from_region, var.region)}:${coalesce(var.image_promoted_from_account_id, data.aws_caller_identity.current.account_id)}:repository/${var.project}-${var.image_promoted_from}-app"
  ]
}

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

module "github_oidc" {
  source = "../../modules/github-oidc"

  name                 = local.name
  project              = var.project
  environment          = var.environment
  other_environments   = [for e in var.account_environments : e if e != var.environment]
  create_oidc_provider = var.create_github_oidc_provider
  state_bucket         = local.state_bucket

  github = {
    repository          = var.github_repository
    deploy_branches     = var.github_deploy_branches
    deploy_environments = var.github_deploy_environments
    plan_branches       = var.github_plan_branches
    apply_environments  = [var.environment]
  }

  emulator_iam_wildcards = var.emulator_iam_wildcards

  # The service and the task roles are created later by the app layer, so they are named here
  # by convention rather than referenced; the app layer's ecs-service module derives the very
  # same names from the same `{project}-{environment}` prefix.
  deploy_targets = {
    ecr_repository_arn           = local.ecr_repository_arn
    ecs_cluster_name             = local.names.cluster
    ecs_service_name             = local.names.service
    task_definition_family       = local.names.task_family
    migration_task_family        = local.names.migration_task_family
    pass_role_names              = [local.names.task_role, local.names.task_execution_role, local.names.migration_execution_role]
    promote_from_repository_arns = local.promote_from_repository_arns
  }
}
