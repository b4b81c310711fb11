# Compute: Fargate (nothing to create) or ECS capacity on an EC2 Auto Scaling group, chosen per
# environment with `compute` in envs/<env>.tfvars. The service (main.tf) runs on whichever: a
# Fargate launch type, or this capacity provider as its strategy. Switching replaces the
# service and its task definition (see docs/compute.md).

module "ec2_capacity" {
  source = "../../modules/ecs-ec2-capacity"
  count  = var.compute == "ec2" ? 1 : 0

  name = local.name

  cluster = {
    name = local.core.cluster_name
    arn  = local.core.cluster_arn
  }

  network = {
    vpc_id     = local.core.vpc_id
    subnet_ids = local.core.private_subnet_ids
  }

  instances = {
    instance_type    = var.ec2_instance_type
    min_size         = var.ec2_min_size
    max_size         = var.ec2_max_size
    desired_capacity = var.ec2_desired_capacity
  }

  scaling = {
    cpu_target_percent = var.autoscaling_cpu_target
  }
}

locals {
  # null: Fargate. Otherwise the capacity provider the service's strategy names.
  capacity_provider = var.compute == "ec2" ? module.ec2_capacity[0].capacity_provider_name : null
}

output "compute" {
  description = "Where the tasks run: fargate or ec2."
  value       = var.compute
}

output "capacity_provider_name" {
  description = "compute = ec2: the capacity provider of the service (null on Fargate)."
  value       = local.capacity_provider
}

output "autoscaling_group_name" {
  description = "compute = ec2: the instances' Auto Scaling group (null on Fargate)."
  value       = var.compute == "ec2" ? module.ec2_capacity[0].autoscaling_group_name : null
}
