# dev: a small, cheap copy of prod that can be torn down.

project     = "rdeploy"
environment = "dev"
region      = "eu-west-1"

github_repository          = "example-org/rdeploy"
github_deploy_branches     = ["main"]
github_deploy_environments = ["dev"]

# dev and prod share one AWS account by default: the boundary of the GitHub plan and apply
# roles then denies every action on prod's `rdeploy-prod-*` resources (and on anything tagged
# Environment = "prod"). Recommended instead: one account per environment
# (infra/envs/examples/, docs/aws-accounts.md); then drop this line.
account_environments = ["dev", "prod"]

ecr_keep_last_images = 20
# Same account as prod by default: prod copies images out of this repository by digest
# (`cargo xtask image --promote`), identity policy only. With prod in another account, list it
# here (the repository policy then grants it the pull):
# ecr_pull_account_ids = ["222222222222"]

vpc_cidr = "10.10.0.0/16"
az_count = 2
# One NAT gateway for both zones: about half the cost; a zone outage cuts egress, fine for dev.
nat_gateway_mode = "single"

log_retention_days = 14

alb_deletion_protection = false
# dev has no domain: plain HTTP on the ALB's own name. Set domain_name + route53_zone_name (or
# alb_certificate_arn) and drop this line to serve HTTPS.
https_required = false

# Who gets the alarm mails (each address confirms once). Replace with your team's.
alarm_emails = ["dev-alerts@example.com"]

task_cpu      = 256
task_memory   = 512
desired_count = 1

autoscaling_enabled      = true
autoscaling_min_capacity = 1
autoscaling_max_capacity = 2
autoscaling_cpu_target   = 50

# RDS PostgreSQL (core layer; docs/database.md). Backups: 7 days (database_backup_retention_days
# default). Disposable: no deletion protection, no final snapshot.
database_enabled             = true
database_deletion_protection = false

# Database changes: apply_immediately = true restarts (or fails over) the instance during the
# apply; false waits for the maintenance window. allow_major_version_upgrade = true lets an
# engine_version change cross a major version (minutes of downtime, no way back but a restore).
database_apply_immediately           = true
database_allow_major_version_upgrade = false
# Teardown keeps data unless switched off here (docs/database.md "Teardown").
database_final_snapshot           = false
database_retain_automated_backups = false

# Compute: "fargate" or "ec2" (ECS on an Auto Scaling group; docs/compute.md). The ec2_* sizes
# apply only to "ec2". t3.small: 2 vCPU, 2 GiB, room for two 512 MiB tasks (awsvpc: one ENI each).
compute              = "fargate"
ec2_instance_type    = "t3.small"
ec2_min_size         = 1
ec2_max_size         = 2
ec2_desired_capacity = 1
