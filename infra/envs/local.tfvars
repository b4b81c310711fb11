# local: the AWS emulator (moto) on this machine. See infra/README.md for the recipe.
# Same shape as dev; only what the emulator cannot run is switched off, each with the reason.

project     = "rdeploy"
environment = "local"
region      = "us-east-1"

# The emulator answers unimplemented APIs with HTTP 500, which the provider retries with
# backoff (25 times by default): fail after two retries instead of hanging the apply.
aws_max_retries = 2

# The emulator serves S3 on one host:port; virtual-hosted bucket names would not resolve.
s3_use_path_style = true

# The emulator speaks plain HTTP and does evaluate bucket policies: a TLS-only policy on the
# state bucket would deny the backend every request (403).
state_bucket_require_tls = false

github_repository = "example-org/rdeploy"

# Nothing real is pushed to the emulator, but destroy must never be blocked.
ecr_force_delete     = true
ecr_keep_last_images = 10

vpc_cidr         = "10.0.0.0/16"
az_count         = 2
nat_gateway_mode = "single"

log_retention_days = 7

# The emulator cannot delete a protected load balancer and local stacks are destroyed often.
alb_deletion_protection = false
# No domain and no real certificate authority in the emulator: plain HTTP.
https_required = false

# moto authorises ECS calls against the resource "*", so the deploy role's ARN-scoped ECS
# statements would read as denied there; this widens them to "*" for the emulator only
# (the permission contract test proves dev and prod never set it).
emulator_iam_wildcards = true

task_cpu      = 256
task_memory   = 512
desired_count = 1

# Application Auto Scaling ListTagsForResource is not implemented by the emulator (HTTP 500):
# creating the scalable target fails on read-back (and hangs with default retries).
autoscaling_enabled = false

# The database as in dev (core layer; the emulator's RDS create and delete waits add ~80 s to a
# cycle). `cargo xtask deploy --env local` skips the migration task: the emulator runs no tasks.
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
# The emulator ignores EnablePerformanceInsights on create (reads back false): every plan would
# show it, and every apply would modify the instance and sit in the provider's ~1 min wait.
database_performance_insights = false

# Compute: "fargate" or "ec2" (docs/compute.md). xtask/tests/local_env_ec2.rs applies this file
# with compute = "ec2" against its own emulator.
compute              = "fargate"
ec2_instance_type    = "t3.small"
ec2_min_size         = 1
ec2_max_size         = 2
ec2_desired_capacity = 1
