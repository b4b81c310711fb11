# The service's connection to the core layer's database (database_enabled in envs/<env>.tfvars).
# See docs/database.md for the whole picture (credentials, TLS, network, backups, rotation).
#
# - Credentials: the RDS-managed master secret goes into the task definition's `secrets`
#   (`<secret arn>:username::` / `:password::`): the ECS agent reads it with the execution role
#   when a task starts and hands the values to the container as DB_USERNAME / DB_PASSWORD. No
#   password is in the task definition, in a plain environment variable or in Terraform state.
#   The execution role's policy allows secretsmanager:GetSecretValue on this one ARN (the
#   ecs-service module derives it from `secrets`; the permission contract test checks it).
# - TLS: DB_SSLMODE = "require" (encrypted; the server certificate is not verified because the
#   FROM scratch image carries no RDS CA bundle: docs/database.md, "TLS"). The server refuses
#   plain connections (rds.force_ssl = 1 in the module's parameter group).
# - Network: the database's security group admits the port only from the app's group, and the
#   app's group reaches the port only on the database's group.
# - Without a database the app keeps its data in memory (DATABASE_URL=sqlite::memory:): the
#   container's root filesystem is read-only, so the file default cannot be written. Data is
#   then per task and lost when the task stops.

locals {
  # Null when the environment has no database. With database_enabled the core layer must have
  # been applied with it (the preconditions below say so when it has not).
  database = var.database_enabled ? try(local.core.database, null) : null

  database_environment = local.database == null ? {
    DATABASE_URL = "sqlite::memory:"
    } : {
    DB_HOST    = local.database.address
    DB_PORT    = tostring(local.database.port)
    DB_NAME    = local.database.db_name
    DB_SSLMODE = var.database_sslmode
  }

  database_secrets = local.database == null ? {} : {
    DB_USERNAME = "${local.database.secret_arn}:username::"
    DB_PASSWORD = "${local.database.secret_arn}:password::"
  }
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
