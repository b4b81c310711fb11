# Provider configuration shared by every root configuration (symlinked like variables.tf).
#
# Nothing here is emulator-specific: pointing Terraform at an emulator is done entirely from
# the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...; see infra/README.md) plus
# `aws_max_retries` / `s3_use_path_style` in envs/local.tfvars. Each configuration defines
# `local.layer`, which lands in the Layer tag so every resource says which state owns it.

locals {
  # `{project}-{environment}`: the prefix of every resource name.
  name = "${var.project}-${var.environment}"

  # Names other code relies on (xtask derives the same from the tfvars). Defined once here so
  # a layer can name a resource that another layer creates (see the github-oidc deploy role).
  names = {
    cluster             = "${local.name}-cluster"
    service             = "${local.name}-app"
    ecr_repository      = "${local.name}-app"
    task_family         = "${local.name}-app"
    task_role           = "${local.name}-task"
    task_execution_role = "${local.name}-task-execution"
    # The migration task (`app migrate`, master credentials): its own family and execution role.
    migration_task_family    = "${local.name}-app-migrate"
    migration_execution_role = "${local.name}-migrate-execution"
  }

  state_bucket = coalesce(var.state_bucket, "${local.name}-tfstate")
}

provider "aws" {
  region      = var.region
  max_retries = var.aws_max_retries

  # The provider must ask STS for the account ID (the default): ARNs built from it (and SG
  # rule references) would otherwise read back differently from what was planned.
  skip_requesting_account_id = false

  s3_use_path_style = var.s3_use_path_style

  default_tags {
    tags = merge(var.tags, {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
      Layer       = local.layer
    })
  }
}
