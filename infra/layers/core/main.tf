# core layer: long-lived runtime foundations — the network and the ECS cluster. Changes here
# are rare and wide-reaching, so they get their own state and their own plan.

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
