# prod: zone-redundant, autoscaled, protected against accidental deletion.

project     = "rdeploy"
environment = "prod"
region      = "eu-west-1"

github_repository          = "example-org/rdeploy"
github_deploy_branches     = []
github_deploy_environments = ["prod"]

ecr_keep_last_images = 50

vpc_cidr = "10.20.0.0/16"
az_count = 2
# One NAT gateway per zone so that losing a zone does not cut the other zone's egress.
nat_gateway_mode = "per_az"

log_retention_days = 90

# Set a certificate ARN to serve HTTPS (HTTP then redirects to it).
# alb_certificate_arn = "arn:aws:acm:eu-west-1:111122223333:certificate/..."
alb_deletion_protection = true

task_cpu      = 512
task_memory   = 1024
desired_count = 2

autoscaling_enabled      = true
autoscaling_min_capacity = 2
autoscaling_max_capacity = 6
autoscaling_cpu_target   = 50

database_enabled               = false
database_instance_class        = "db.t4g.small"
database_multi_az              = true
database_backup_retention_days = 14
database_deletion_protection   = true

# Compute: "fargate" or "ec2" (ECS on an Auto Scaling group; docs/compute.md). The ec2_* sizes
# apply only to "ec2". t3.medium: 2 vCPU, 4 GiB, two 1 GiB tasks per instance (awsvpc: one ENI
# each); min 2 keeps one instance per zone.
compute              = "fargate"
ec2_instance_type    = "t3.medium"
ec2_min_size         = 2
ec2_max_size         = 4
ec2_desired_capacity = 2
