# app layer: everything that serves traffic — ALB, the ECS service with its task definition and
# roles, alarms, and the service's connection to the core layer's optional database
# (database.tf). Reads the shared and core layers' outputs from
# their remote state (same bucket, keys `<env>/shared.tfstate` and `<env>/core.tfstate`).

locals {
  layer = "app"

  shared = data.terraform_remote_state.shared.outputs
  core   = data.terraform_remote_state.core.outputs
}

# Same bucket and region as this layer's backend. The S3 endpoint comes from the environment
# (AWS_ENDPOINT_URL) like the backend's, so only path-style addressing needs passing.
data "terraform_remote_state" "shared" {
  backend = "s3"

  config = {
    bucket         = local.state_bucket
    key            = "${var.environment}/shared.tfstate"
    region         = var.region
    use_path_style = var.s3_use_path_style
  }
}

data "terraform_remote_state" "core" {
  backend = "s3"

  config = {
    bucket         = local.state_bucket
    key            = "${var.environment}/core.tfstate"
    region         = var.region
    use_path_style = var.s3_use_path_style
  }
}

module "alb" {
  source = "../../modules/alb"

  name                = local.name
  vpc_id              = local.core.vpc_id
  vpc_cidr_block      = local.core.vpc_cidr_block
  subnet_ids          = local.core.public_subnet_ids
  certificate_arn     = var.domain_name == null ? var.alb_certificate_arn : null
  domain              = var.domain_name == null ? null : { name = var.domain_name, zone_name = var.route53_zone_name }
  deletion_protection = var.alb_deletion_protection
  idle_timeout        = var.alb_idle_timeout
  access_logs         = var.alb_access_logs_bucket == null ? null : { bucket = var.alb_access_logs_bucket, prefix = local.name }
  # Access logs to a bucket of the environment's own (lifecycle rule, ELB delivery policy).
  create_access_logs_bucket  = var.alb_access_logs_enabled && var.alb_access_logs_bucket == null
  access_logs_retention_days = var.alb_access_logs_retention_days
  waf                        = var.waf_enabled ? { rate_limit_per_5_minutes = var.waf_rate_limit_per_5_minutes } : null
}

module "service" {
  source = "../../modules/ecs-service"

  name = local.name

  cluster = {
    name = local.core.cluster_name
    arn  = local.core.cluster_arn
  }

  network = {
    vpc_id         = local.core.vpc_id
    vpc_cidr_block = local.core.vpc_cidr_block
    subnet_ids     = local.core.private_subnet_ids
  }

  # compute.tf: null runs on Fargate, a name runs on that EC2 capacity provider.
  capacity_provider = local.capacity_provider

  load_balancer = {
    security_group_id = module.alb.security_group_id
    target_group_arn  = module.alb.target_group_arn
  }

  ecr_repository = {
    arn = local.shared.ecr_repository_arn
    url = local.shared.ecr_repository_url
  }

  container = {
    image_tag   = var.app_image_tag
    app_version = var.app_image_tag
    cpu         = var.task_cpu
    memory      = var.task_memory
    # The app keeps idle connections open longer than the ALB does (see alb_idle_timeout).
    # database.tf: DB_* (or DATABASE_URL=sqlite::memory: without a database); app_environment
    # comes last so an environment can override them (e.g. DB_SSLMODE = "require" for a server without an RDS certificate).
    environment = merge(
      { KEEP_ALIVE_TIMEOUT_SECS = tostring(var.alb_idle_timeout + 15) },
      local.database_environment,
      var.app_environment,
    )
  }

  # IAM database authentication (layers/app/database.tf): the app's only permission.
  task_role_statements = local.database_task_statements
  # The migration task: the only task definition with the database master secret.
  migration = local.database_migration

  service = {
    desired_count = var.desired_count
    # observability: target-5xx and error-rate, which read the ALB only (no cycle).
    deployment_alarm_names = module.observability.deployment_alarm_names
  }

  autoscaling = {
    enabled            = var.autoscaling_enabled
    min_capacity       = var.autoscaling_min_capacity
    max_capacity       = var.autoscaling_max_capacity
    cpu_target_percent = var.autoscaling_cpu_target
  }

  log_retention_in_days = var.log_retention_days
}

module "observability" {
  source = "../../modules/observability"

  name = local.name

  alb = {
    arn_suffix              = module.alb.arn_suffix
    target_group_arn_suffix = module.alb.target_group_arn_suffix
  }

  ecs = {
    cluster_name = local.core.cluster_name
    service_name = module.service.service_name
  }

  notifications = {
    email_endpoints = var.alarm_emails
  }
}
