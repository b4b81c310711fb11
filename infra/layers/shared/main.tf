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
}

module "github_oidc" {
  source = "../../modules/github-oidc"

  name                 = local.name
  create_oidc_provider = var.create_github_oidc_provider
  state_bucket         = local.state_bucket

  github = {
    repository          = var.github_repository
    deploy_branches     = var.github_deploy_branches
    deploy_environments = var.github_deploy_environments
  }

  # The service and the task roles are created later by the app layer, so they are named here
  # by convention rather than referenced; the app layer's ecs-service module derives the very
  # same names from the same `{project}-{environment}` prefix.
  deploy_targets = {
    ecr_repository_arn = module.ecr.repository_arn
    ecs_cluster_name   = local.names.cluster
    ecs_service_name   = local.names.service
    pass_role_names    = [local.names.task_role, local.names.task_execution_role]
  }
}
