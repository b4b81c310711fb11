# The service's connection to the core layer's database (database_enabled in envs/<env>.tfvars).
# See docs/database.md for the whole picture (credentials, TLS, network, backups, rotation).
#
# - Credentials (issue #24): the serving tasks log in as the app role (`database_app_role`,
#   created by `app migrate` with GRANT rds_iam and DML only) with an RDS IAM auth token the app
#   signs with the task role's credentials for every new connection (DB_AUTH = "iam"): no
#   password in the serving task definition, nothing that a rotation or a failover invalidates.
#   The task role may `rds-db:connect` as exactly that user of exactly this instance (its
#   DbiResourceId). The master secret goes only into the migration task definition
#   (`<app>-migrate`: `<secret arn>:username::` / `:password::` as `secrets`), read by the
#   migration's own execution role; the serving execution role reads no secret.
# - TLS: DB_SSLMODE = "verify-full" (database_sslmode): the app checks the server certificate
#   against the RDS CA bundle compiled into it and the endpoint's name (docs/database.md, "TLS").
#   The server refuses plain connections (rds.force_ssl = 1 in the module's parameter group);
#   IAM tokens need TLS.
# - Network: the database's security group admits the port only from the app's group, and the
#   app's group reaches the port only on the database's group.
# - Without a database the app keeps its data in memory (DATABASE_URL=sqlite::memory:): the
#   container's root filesystem is read-only, so the file default cannot be written. Data is
#   then per task and lost when the task stops.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # Null when the environment has no database. With database_enabled the core layer must have
  # been applied with it (the preconditions below say so when it has not).
  database = var.database_enabled ? try(local.core.database, null) : null

  database_environment = local.database == null ? {
    DATABASE_URL = "sqlite::memory:"
    } : {
    DB_HOST     = local.database.address
    DB_PORT     = tostring(local.database.port)
    DB_NAME     = local.database.db_name
    DB_SSLMODE  = var.database_sslmode
    DB_USERNAME = var.database_app_role
    DB_AUTH     = "iam"
    AWS_REGION  = var.region
  }

  # The migration task: the master user with its password from the RDS-managed secret.
  database_migration = local.database == null ? null : {
    environment = { DB_AUTH = "password", DB_APP_ROLE = var.database_app_role }
    secrets = {
      DB_USERNAME = "${local.database.secret_arn}:username::"
      DB_PASSWORD = "${local.database.secret_arn}:password::"
    }
  }

  # IAM database authentication: connect as the app role, on this instance only.
  database_task_statements = local.database == null ? [] : [{
    sid       = "ConnectAsTheAppRole"
    actions   = ["rds-db:connect"]
    resources = ["arn:${data.aws_partition.current.partition}:rds-db:${var.region}:${data.aws_caller_identity.current.account_id}:dbuser:${local.database.resource_id}/${var.database_app_role}"]
  }]
}

resource "aws_vpc_security_group_ingress_rule" "database_from_app" {
  count = var.database_enabled ? 1 : 0

  security_group_id            = local.database.security_group_id
  description                  = "PostgreSQL from the app"
  ip_protocol                  = "tcp"
  from_port                    = local.database.port
  to_port                      = local.database.port
  referenced_security_group_id = module.service.security_group_id

  tags = { Name = "${local.name}-db-from-app" }

  lifecycle {
    precondition {
      condition     = local.database != null
      error_message = "database_enabled = true but the core layer has no database output: plan and apply the core layer first (cargo xtask plan/apply --env <env>)."
    }
  }
}

resource "aws_vpc_security_group_egress_rule" "app_to_database" {
  count = var.database_enabled ? 1 : 0

  security_group_id            = module.service.security_group_id
  description                  = "PostgreSQL to the database"
  ip_protocol                  = "tcp"
  from_port                    = local.database.port
  to_port                      = local.database.port
  referenced_security_group_id = local.database.security_group_id

  tags = { Name = "${local.name}-app-to-db" }

  lifecycle {
    precondition {
      condition     = local.database != null
      error_message = "database_enabled = true but the core layer has no database output: plan and apply the core layer first (cargo xtask plan/apply --env <env>)."
    }
  }
}

output "database_security_group_rules" {
  description = "The rule pair app -> database (null without a database): the database group's ingress source and the app group's egress destination."
  value = local.database == null ? null : {
    database_ingress_from = aws_vpc_security_group_ingress_rule.database_from_app[0].referenced_security_group_id
    app_egress_to         = aws_vpc_security_group_egress_rule.app_to_database[0].referenced_security_group_id
    port                  = local.database.port
  }
}

# Alarms on the database, on the app layer's alarm topic (module.observability): storage running
# out, CPU saturated, connections near the server's limit. max_connections is RDS's default for
# PostgreSQL, LEAST(DBInstanceClassMemory / 9531392, 5000), from the class's memory (a class
# missing here fails the plan: add it).
locals {
  database_class_memory_mib = {
    "db.t4g.micro"  = 1024
    "db.t4g.small"  = 2048
    "db.t4g.medium" = 4096
    "db.t4g.large"  = 8192
    "db.m7g.large"  = 8192
    "db.r7g.large"  = 16384
  }
  database_max_connections = min(floor(local.database_class_memory_mib[var.database_instance_class] * 1048576 / 9531392), 5000)
  database_alarm_actions   = module.observability.alarm_actions

  database_alarms = local.database == null ? {} : {
    db-free-storage = {
      description = "The database has less than 2 GiB of free storage (storage autoscaling may be at its maximum)"
      metric      = "FreeStorageSpace"
      statistic   = "Minimum"
      operator    = "LessThanThreshold"
      threshold   = 2 * 1073741824
    }
    db-cpu = {
      description = "The database's CPU is above 80 % for 15 minutes"
      metric      = "CPUUtilization"
      statistic   = "Average"
      operator    = "GreaterThanThreshold"
      threshold   = 80
    }
    db-connections = {
      description = "The database has more than 80 % of its max_connections (${local.database_max_connections}) open: new tasks, a rollout or the migration may be refused"
      metric      = "DatabaseConnections"
      statistic   = "Maximum"
      operator    = "GreaterThanThreshold"
      threshold   = floor(local.database_max_connections * 0.8)
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "database" {
  for_each = local.database_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = { DBInstanceIdentifier = local.database.identifier }
  period              = 300
  evaluation_periods  = 3
  comparison_operator = each.value.operator
  threshold           = each.value.threshold
  treat_missing_data  = "missing"

  alarm_actions = local.database_alarm_actions
  ok_actions    = local.database_alarm_actions
}

# Authentication failures (SQLSTATE 28P01, e.g. a rotated password): the app logs one JSON line
# a minute at most, with `auth_failures` = the failures since its previous line
# (app/src/db/mod.rs, log_rejected_password); the metric sums them.
resource "aws_cloudwatch_log_metric_filter" "database_auth_failures" {
  count = local.database == null ? 0 : 1

  name           = "${local.name}-db-auth-failures"
  log_group_name = module.service.log_group_name
  pattern        = "{ $.fields.sqlstate = \"28P01\" }"

  metric_transformation {
    name          = "DatabaseAuthFailures"
    namespace     = local.name
    value         = "$.fields.auth_failures"
    default_value = null
  }
}

resource "aws_cloudwatch_metric_alarm" "database_auth_failures" {
  count = local.database == null ? 0 : 1

  alarm_name          = "${local.name}-db-auth-failures"
  alarm_description   = "The database rejects the app's credentials (SQLSTATE 28P01): new connections fail, the guestbook answers 503 (docs/database.md, rotation)"
  namespace           = local.name
  metric_name         = aws_cloudwatch_log_metric_filter.database_auth_failures[0].metric_transformation[0].name
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = local.database_alarm_actions
  ok_actions    = local.database_alarm_actions
}
