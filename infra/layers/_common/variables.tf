# The environment contract: every variable that infra/envs/<env>.tfvars may set.
#
# This one file is symlinked into every root configuration (bootstrap and the three layers) so
# that all of them accept the same tfvars file without "undeclared variable" warnings and with
# one definition, one description and one validation per setting. A layer simply ignores what
# it does not use.
#
# Keep project, environment and region as plain top-level string assignments in the tfvars
# files: xtask reads them with a line parser to derive resource names.

################################################################################
# Identity and naming
################################################################################

variable "project" {
  description = "Project name, the first part of every resource name (`{project}-{environment}-{resource}`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project))
    error_message = "project must be 2-16 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (local, dev, prod), the second part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lowercase letters or digits, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of the environment (also the region of its state bucket)."
  type        = string
}

variable "tags" {
  description = "Extra tags for every resource, added to Project, Environment and ManagedBy."
  type        = map(string)
  default     = {}
}

################################################################################
# Provider and state
################################################################################

variable "aws_max_retries" {
  description = "Provider retry budget. Keep the AWS default (25) for real accounts; set it low against the emulator, whose unimplemented APIs answer 500 and would otherwise be retried for minutes."
  type        = number
  default     = 25
}

variable "s3_use_path_style" {
  description = "Address S3 as `endpoint/bucket` instead of `bucket.endpoint`. Only for emulators; used by bootstrap and by terraform_remote_state reads."
  type        = bool
  default     = false
}

variable "state_bucket" {
  description = "Terraform state bucket. Null means the convention `{project}-{environment}-tfstate`, which must match `bucket` in envs/<env>.s3.tfbackend."
  type        = string
  default     = null
}

variable "state_bucket_require_tls" {
  description = "Bootstrap: the state bucket policy denies every request not made over TLS. Only an emulator served over plain HTTP needs this off."
  type        = bool
  default     = true
}

################################################################################
# shared layer: ECR and GitHub OIDC
################################################################################

variable "ecr_keep_last_images" {
  description = "How many images the ECR lifecycle policy keeps."
  type        = number
  default     = 30
}

variable "ecr_force_delete" {
  description = "Let `terraform destroy` delete the ECR repository with images in it."
  type        = bool
  default     = false
}

variable "github_repository" {
  description = "GitHub `owner/repo` whose workflows may assume the plan and deploy roles."
  type        = string
}

variable "github_deploy_branches" {
  description = "Branches whose workflows may assume the deploy role."
  type        = list(string)
  default     = ["main"]
}

variable "github_deploy_environments" {
  description = "GitHub environments whose jobs may assume the deploy role."
  type        = list(string)
  default     = []
}

variable "github_plan_branches" {
  description = "Branches whose workflows may assume the plan role (plan and drift). Pull requests never can: they plan without AWS."
  type        = list(string)
  default     = ["main"]
}

variable "ecr_pull_account_ids" {
  description = "AWS accounts whose deploy role may copy images out of this environment's repository (cross-account `image --promote`); a repository policy grants the pull."
  type        = list(string)
  default     = []
}

variable "image_promoted_from" {
  description = "Environment whose ECR repository `cargo xtask image --promote` copies this environment's images from (by digest, into this environment's own repository). Null: images are pushed here directly."
  type        = string
  default     = null
}

variable "image_promoted_from_account_id" {
  description = "Account of the `image_promoted_from` repository. Null: this account."
  type        = string
  default     = null
}

variable "image_promoted_from_region" {
  description = "Region of the `image_promoted_from` repository. Null: this environment's region."
  type        = string
  default     = null
}

variable "emulator_iam_wildcards" {
  description = "Emulator only (local.tfvars): widen the deploy role's ARN-scoped ECS statements to \"*\", because moto authorises ECS calls against the resource \"*\". A test proves dev and prod leave it off."
  type        = bool
  default     = false
}

variable "account_environments" {
  description = "Every environment in this environment's AWS account, itself included (e.g. [\"dev\", \"prod\"]). Empty: the account holds only this environment (the recommended layout, infra/envs/examples/). The GitHub plan and apply roles' permissions boundary denies the others' `{project}-<env>-*` resources."
  type        = list(string)
  default     = []
}

variable "create_github_oidc_provider" {
  description = "Create the account-wide GitHub OIDC provider; false when another environment in the same account already did."
  type        = bool
  default     = true
}

################################################################################
# core layer: network and cluster
################################################################################

variable "vpc_cidr" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}

variable "az_count" {
  description = "Number of availability zones (one public and one private subnet each)."
  type        = number
  default     = 2
}

variable "nat_gateway_mode" {
  description = "per_az (zone-redundant egress), single (one NAT, cheaper) or none."
  type        = string
  default     = "per_az"
}

variable "flow_logs_enabled" {
  description = "VPC flow logs to CloudWatch Logs."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch Logs group (app and flow logs)."
  type        = number
  default     = 30
}

variable "container_insights" {
  description = "ECS Container Insights: enabled, enhanced or disabled."
  type        = string
  default     = "enabled"
}

################################################################################
# app layer: ALB, service, alarms, database
################################################################################

variable "https_required" {
  description = "Refuse to plan without HTTPS: set `domain_name` (+ `route53_zone_name`) or `alb_certificate_arn`. Only environments without a domain (local, dev) turn it off."
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Public name of the app, e.g. `app.example.com`: an ACM certificate (validated through DNS in `route53_zone_name`) and an alias record to the ALB are created. Null: use `alb_certificate_arn`, or no HTTPS."
  type        = string
  default     = null

  validation {
    condition     = var.domain_name == null || var.route53_zone_name != null
    error_message = "domain_name needs route53_zone_name (the hosted zone the DNS validation and alias records go into)."
  }
}

variable "route53_zone_name" {
  description = "Existing public Route 53 hosted zone that holds `domain_name` (e.g. `example.com`). Required with `domain_name`."
  type        = string
  default     = null
}

variable "alb_certificate_arn" {
  description = "Existing ACM certificate for HTTPS (an alternative to `domain_name`). Null with no `domain_name`: HTTP only (port 80 forwards to the app), refused while `https_required`."
  type        = string
  default     = null

  validation {
    condition     = !var.https_required || var.alb_certificate_arn != null || var.domain_name != null
    error_message = "HTTPS is required (https_required = true): set domain_name and route53_zone_name, or alb_certificate_arn."
  }
}

variable "alb_deletion_protection" {
  description = "ALB deletion protection (turn off before destroying the environment)."
  type        = bool
  default     = true
}

variable "alb_idle_timeout" {
  description = "Seconds the ALB keeps an idle connection open. The app's keep-alive timeout is set 15 s longer (KEEP_ALIVE_TIMEOUT_SECS): the target must never close an idle connection before the ALB does, or the ALB may reuse it as it closes and answer 502. Must exceed the app's REQUEST_TIMEOUT_SECS (10), or slow answers are cut off by the ALB."
  type        = number
  default     = 60

  validation {
    condition     = var.alb_idle_timeout >= 15 && var.alb_idle_timeout <= 3985
    error_message = "alb_idle_timeout must be 15..3985 s (above the app's request timeout; the app's keep-alive, 15 s longer, must stay within its 4000 s limit)."
  }
}

variable "alb_access_logs_enabled" {
  description = "ALB access logs to `{project}-{environment}-alb-logs`, a bucket the alb module creates (expiry after alb_access_logs_retention_days). prod turns it on."
  type        = bool
  default     = false
}

variable "alb_access_logs_retention_days" {
  description = "Days the ALB access logs are kept."
  type        = number
  default     = 90
}

variable "alb_access_logs_bucket" {
  description = "Existing S3 bucket for ALB access logs; null disables access logs."
  type        = string
  default     = null
}

variable "app_image_tag" {
  description = "Image tag of the first task definition revision. Deploys register later revisions; Terraform ignores them."
  type        = string
  default     = "bootstrap"
}

variable "app_environment" {
  description = "Extra plain environment variables for the app container (APP_VERSION is always set)."
  type        = map(string)
  default     = {}
}

variable "task_cpu" {
  description = "Fargate task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 256
}

variable "task_memory" {
  description = "Fargate task memory in MiB (must be valid for task_cpu)."
  type        = number
  default     = 512
}

variable "desired_count" {
  description = "Initial number of tasks (later owned by deploys and autoscaling)."
  type        = number
  default     = 1
}

variable "autoscaling_enabled" {
  description = "Target tracking on service CPU."
  type        = bool
  default     = false
}

variable "autoscaling_min_capacity" {
  description = "Autoscaling lower bound on the task count."
  type        = number
  default     = 1
}

variable "autoscaling_max_capacity" {
  description = "Autoscaling upper bound on the task count."
  type        = number
  default     = 2
}

variable "autoscaling_cpu_target" {
  description = "Average CPU utilisation (%) autoscaling steers towards."
  type        = number
  default     = 50
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription mail). Set per environment."
  type        = list(string)
  default     = []
}

variable "database_enabled" {
  description = "Create the RDS PostgreSQL instance (core layer) and connect the service to it (app layer: DB_* environment, the master secret through the task definition's secrets, the security-group rule pair). Off: the app keeps its data in memory, per task (DATABASE_URL=sqlite::memory:)."
  type        = bool
  default     = false
}

variable "database_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "database_multi_az" {
  description = "Standby instance in a second zone."
  type        = bool
  default     = false
}

variable "database_backup_retention_days" {
  description = "Days of automated backups (1..35; backups cannot be switched off)."
  type        = number
  default     = 7

  validation {
    condition     = var.database_backup_retention_days >= 1 && var.database_backup_retention_days <= 35
    error_message = "database_backup_retention_days must be 1..35: automated backups stay on."
  }
}

variable "database_deletion_protection" {
  description = "RDS deletion protection (the API refuses to delete the instance)."
  type        = bool
  default     = true
}

variable "database_final_snapshot" {
  description = "Take a final snapshot on destroy. Its own switch: turning deletion protection off for a teardown keeps it."
  type        = bool
  default     = true
}

variable "database_retain_automated_backups" {
  description = "Keep the automated backups after the instance is deleted (delete_automated_backups = false)."
  type        = bool
  default     = true
}

variable "database_apply_immediately" {
  description = "Apply database changes at once (restart/failover now) instead of in the maintenance window. Set per environment."
  type        = bool
  default     = false
}

variable "database_allow_major_version_upgrade" {
  description = "Allow a major engine version upgrade (downtime during the upgrade). Set per environment."
  type        = bool
  default     = false
}

variable "database_performance_insights" {
  description = "RDS Performance Insights (7-day retention is free on the supported classes). Only the emulator environment turns it off (it does not store the flag)."
  type        = bool
  default     = true
}

variable "database_sslmode" {
  description = "DB_SSLMODE of the app's connection. \"verify-full\" (default): the server certificate must chain to the RDS CA bundle built into the app (app/certs/rds-global-bundle.pem) and name DB_HOST (the instance endpoint). \"verify-ca\": the chain only (sqlx 0.8.6 checks the name too). \"require\": encrypted, not verified. app_environment.DB_SSLROOTCERT may name another bundle in the image. docs/database.md, \"TLS\"."
  type        = string
  default     = "verify-full"

  validation {
    condition     = contains(["require", "verify-ca", "verify-full"], var.database_sslmode)
    error_message = "database_sslmode must be \"require\", \"verify-ca\" or \"verify-full\" (RDS refuses connections without TLS)."
  }
}

variable "database_app_role" {
  description = "The PostgreSQL role the serving tasks log in as with IAM database authentication (DB_USERNAME; `app migrate` creates it: DB_APP_ROLE). The task role may rds-db:connect as this user only. docs/database.md, \"Credentials\"."
  type        = string
  default     = "guestbook_app"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.database_app_role)) && !startswith(var.database_app_role, "pg_") && !startswith(var.database_app_role, "rds")
    error_message = "database_app_role: lower case letters, digits and _, not starting with a digit, pg_ or rds, at most 63 (the app's DB_APP_ROLE rule)."
  }
}

################################################################################
# app layer: compute (Fargate, or ECS on an EC2 Auto Scaling group)
################################################################################

locals {
  # Instance types allowed for compute = "ec2": x86_64 (the AMI is the x86_64 ECS-optimized
  # AL2023), with vCPUs and memory in MiB as AWS lists them. A task must fit on one instance
  # with 512 MiB left for the OS, the ECS agent and the SSM agent. Add a type here to allow it.
  ec2_instance_types = {
    "t3.small"   = { vcpu = 2, memory_mib = 2048 }
    "t3.medium"  = { vcpu = 2, memory_mib = 4096 }
    "t3.large"   = { vcpu = 2, memory_mib = 8192 }
    "t3.xlarge"  = { vcpu = 4, memory_mib = 16384 }
    "m6i.large"  = { vcpu = 2, memory_mib = 8192 }
    "m6i.xlarge" = { vcpu = 4, memory_mib = 16384 }
    "c6i.large"  = { vcpu = 2, memory_mib = 4096 }
    "c6i.xlarge" = { vcpu = 4, memory_mib = 8192 }
  }
  ec2_host_reserved_mib = 512
}

variable "compute" {
  description = "Where the service's tasks run: \"fargate\" (serverless) or \"ec2\" (an ECS capacity provider on an Auto Scaling group, sized by the ec2_* settings). Tasks use awsvpc, the same security group and target group either way; `cargo xtask deploy` is the same."
  type        = string
  default     = "fargate"

  validation {
    condition     = contains(["fargate", "ec2"], var.compute)
    error_message = "compute must be \"fargate\" or \"ec2\"."
  }
}

variable "ec2_instance_type" {
  description = "compute = \"ec2\": instance type of the Auto Scaling group (one of the types in layers/_common/variables.tf, local.ec2_instance_types)."
  type        = string
  default     = "t3.small"

  validation {
    condition     = contains(keys(local.ec2_instance_types), var.ec2_instance_type)
    error_message = "ec2_instance_type must be one of: t3.small, t3.medium, t3.large, t3.xlarge, m6i.large, m6i.xlarge, c6i.large, c6i.xlarge (x86_64; add others to local.ec2_instance_types)."
  }

  validation {
    condition     = var.compute != "ec2" || !contains(keys(local.ec2_instance_types), var.ec2_instance_type) || try(local.ec2_instance_types[var.ec2_instance_type].memory_mib - local.ec2_host_reserved_mib >= var.task_memory && local.ec2_instance_types[var.ec2_instance_type].vcpu * 1024 >= var.task_cpu, false)
    error_message = "ec2_instance_type is too small for the task: task_memory plus 512 MiB for the host must fit in its memory, and task_cpu in its vCPUs."
  }
}

variable "ec2_min_size" {
  description = "compute = \"ec2\": minimum number of instances."
  type        = number
  default     = 1

  validation {
    condition     = var.ec2_min_size >= 0
    error_message = "ec2_min_size must be 0 or more."
  }
}

variable "ec2_max_size" {
  description = "compute = \"ec2\": maximum number of instances."
  type        = number
  default     = 2

  validation {
    condition     = var.ec2_min_size <= var.ec2_max_size
    error_message = "ec2_min_size must not exceed ec2_max_size."
  }
}

variable "ec2_desired_capacity" {
  description = "compute = \"ec2\": initial number of instances (managed scaling owns it afterwards); between ec2_min_size and ec2_max_size."
  type        = number
  default     = 1

  validation {
    # min > max is reported by ec2_max_size alone.
    condition     = var.ec2_min_size > var.ec2_max_size || (var.ec2_desired_capacity >= var.ec2_min_size && var.ec2_desired_capacity <= var.ec2_max_size)
    error_message = "ec2_desired_capacity must lie between ec2_min_size and ec2_max_size."
  }
}

variable "waf_enabled" {
  description = "Put a WAF web ACL on the ALB (per-IP rate rule counted across all tasks + AWSManagedRulesCommonRuleSet + KnownBadInputs; about $8/month plus $0.60 per million requests). On in prod."
  type        = bool
  default     = false
}

variable "waf_rate_limit_per_5_minutes" {
  description = "Requests one IP may send in 5 minutes, across all tasks, before the WAF blocks it (403)."
  type        = number
  default     = 1000
}
