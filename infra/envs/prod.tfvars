# prod: zone-redundant, autoscaled, protected against accidental deletion.

project     = "rdeploy"
environment = "prod"
region      = "eu-west-1"

github_repository          = "example-org/rdeploy"
github_deploy_branches     = []
github_deploy_environments = ["prod"]

# dev and prod share one AWS account by default: the boundary of the GitHub plan and apply
# roles then denies every action on dev's `rdeploy-dev-*` resources (and on anything tagged
# Environment = "dev"). Recommended instead: one account per environment
# (infra/envs/examples/, docs/aws-accounts.md); then drop this line.
account_environments = ["dev", "prod"]

ecr_keep_last_images = 50
# prod never runs dev's repository: `cargo xtask image --promote` copies the digest that ran in
# dev into prod's own repository, so dev's lifecycle rule (or dev's deletion) cannot take an
# image away from prod. For a dev repository in another account set its account ID too.
image_promoted_from = "dev"
# image_promoted_from_account_id = "111111111111"

vpc_cidr = "10.20.0.0/16"
az_count = 2
# One NAT gateway per zone so that losing a zone does not cut the other zone's egress.
nat_gateway_mode = "per_az"

log_retention_days = 90

# HTTPS is required (https_required defaults to true): `cargo xtask plan --env prod` refuses
# until ONE of these is set. HTTP then redirects to HTTPS.
#  a) a name in an existing public Route 53 hosted zone (certificate, DNS validation and the
#     alias record are created):
# domain_name       = "app.example.com"
# route53_zone_name = "example.com"
#  b) an existing ACM certificate in this region:
# alb_certificate_arn = "arn:aws:acm:eu-west-1:111122223333:certificate/..."
alb_deletion_protection = true
# Access logs to rdeploy-prod-alb-logs (created by the alb module; kept 90 days).
alb_access_logs_enabled = true

# Who gets the alarm mails (each address confirms once). Replace with your team's.
alarm_emails = ["prod-alerts@example.com"]

task_cpu      = 512
task_memory   = 1024
desired_count = 2

autoscaling_enabled      = true
autoscaling_min_capacity = 2
autoscaling_max_capacity = 6
autoscaling_cpu_target   = 50

# RDS PostgreSQL (core layer; docs/database.md): Multi-AZ, 14 days of backups, deletion
# protection and a final snapshot (unique name) on destroy.
database_enabled               = true
database_instance_class        = "db.t4g.small"
database_multi_az              = true
database_backup_retention_days = 14
database_deletion_protection   = true

# Database changes: apply_immediately = true restarts (or fails over) the instance during the
# apply; false waits for the maintenance window. allow_major_version_upgrade = true lets an
# engine_version change cross a major version (minutes of downtime, no way back but a restore).
database_apply_immediately           = false
database_allow_major_version_upgrade = false
# Teardown keeps data unless switched off here (docs/database.md "Teardown").
database_final_snapshot           = true
database_retain_automated_backups = true

# Compute: "fargate" or "ec2" (ECS on an Auto Scaling group; docs/compute.md). The ec2_* sizes
# apply only to "ec2". t3.medium: 2 vCPU, 4 GiB, two 1 GiB tasks per instance (awsvpc: one ENI
# each); min 2 keeps one instance per zone.
compute              = "fargate"
ec2_instance_type    = "t3.medium"
ec2_min_size         = 2
ec2_max_size         = 4
ec2_desired_capacity = 2

# WAF on the ALB (issue #26): per-IP rate limit across all tasks + AWS's common rule set.
waf_enabled = true
