# core layer: long-lived runtime foundations — the network, the ECS cluster and the optional
# database. Changes here are rare and wide-reaching, so they get their own state and their own
# plan. The database lives here, not in the app layer, because (1) its data outlives any app
# layer change or re-creation, and (2) the app layer then knows the master secret's ARN at
# plan time, so the task execution role's policy (read exactly that secret) is rendered in the
# plan that a reviewer and the permission contract test read. The app layer adds the
# security-group rule pair app -> database (layers/app/database.tf).

locals {
  layer = "core"
}

data "aws_availability_zones" "available" {
  state = "available"

  # Local Zones and Wavelength Zones cannot host these subnets.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

module "network" {
  source = "../../modules/network"

  name = local.name
  cidr = var.vpc_cidr
  azs  = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  nat_gateway = {
    mode = var.nat_gateway_mode
  }

  flow_logs = {
    enabled           = var.flow_logs_enabled
    retention_in_days = var.log_retention_days
  }
}

module "ecs_cluster" {
  source = "../../modules/ecs-cluster"

  name               = local.names.cluster
  container_insights = var.container_insights
}

module "database" {
  source = "../../modules/database"
  count  = var.database_enabled ? 1 : 0

  name                = local.name
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.private_subnet_ids
  deletion_protection = var.database_deletion_protection

  final_snapshot              = var.database_final_snapshot
  retain_automated_backups    = var.database_retain_automated_backups
  apply_immediately           = var.database_apply_immediately
  allow_major_version_upgrade = var.database_allow_major_version_upgrade

  performance_insights_enabled = var.database_performance_insights

  instance = {
    instance_class = var.database_instance_class
    multi_az       = var.database_multi_az
  }

  backup = {
    retention_days = var.database_backup_retention_days
  }

  logs = {
    retention_in_days = var.log_retention_days
  }
}
