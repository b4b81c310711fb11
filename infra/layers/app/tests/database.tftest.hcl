# The app layer's connection to the core layer's database, planned without AWS (mocked provider,
# fixed shared/core outputs). Run with each env file, e.g. (xtask/tests/database_plan.rs):
#   terraform -chdir=infra/layers/app init -backend=false
#   terraform -chdir=infra/layers/app test -filter=tests/database.tftest.hcl -var-file=../../envs/prod.tfvars

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

override_data {
  target = data.terraform_remote_state.shared
  values = {
    outputs = {
      ecr_repository_arn = "arn:aws:ecr:eu-west-1:111122223333:repository/rdeploy-x-app"
      ecr_repository_url = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-x-app"
    }
  }
}

override_data {
  target = data.terraform_remote_state.core
  values = {
    outputs = {
      vpc_id             = "vpc-0123456789abcdef0"
      vpc_cidr_block     = "10.10.0.0/16"
      public_subnet_ids  = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
      private_subnet_ids = ["subnet-0000000000000000c", "subnet-0000000000000000d"]
      cluster_name       = "rdeploy-x-cluster"
      cluster_arn        = "arn:aws:ecs:eu-west-1:111122223333:cluster/rdeploy-x-cluster"
      database = {
        identifier        = "rdeploy-x-db"
        address           = "rdeploy-x-db.abcdefghijkl.eu-west-1.rds.amazonaws.com"
        port              = 5432
        db_name           = "app"
        secret_arn        = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-0123abcd-aaaa-bbbb-cccc-0123456789ab-AbCdEf"
        security_group_id = "sg-0000000000000db00"
        resource_id       = "db-ABCDEFGHIJKLMNOPQRSTUVWXY1"
      }
    }
  }
}

# The app's security group ID is only known after apply; fixed here so the rules can be compared.
override_resource {
  target          = module.service.aws_security_group.app
  override_during = plan
  values = {
    id = "sg-0000000000000a900"
  }
}

# Certificate for prod (https_required); harmless for dev.
variables {
  alb_certificate_arn = "arn:aws:acm:eu-west-1:111122223333:certificate/test"
}

run "with_database" {
  command = plan

  variables {
    database_enabled = true
  }

  assert {
    condition     = length(module.service.container_secrets) == 0
    error_message = "the serving task definition carries no secret (no master credentials): ${jsonencode(module.service.container_secrets)}"
  }
  assert {
    condition = (
      module.service.container_environment.DB_USERNAME == "guestbook_app"
      && module.service.container_environment.DB_AUTH == "iam"
      && module.service.container_environment.AWS_REGION == var.region
    )
    error_message = "the serving tasks log in as the app role with IAM tokens: ${jsonencode(module.service.container_environment)}"
  }
  assert {
    condition = jsonencode(local.database_task_statements) == jsonencode([{
      sid       = "ConnectAsTheAppRole"
      actions   = ["rds-db:connect"]
      resources = ["arn:aws:rds-db:${var.region}:111122223333:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/guestbook_app"]
    }])
    error_message = "the task role may rds-db:connect as the app role on this instance only: ${jsonencode(local.database_task_statements)}"
  }
  assert {
    condition = (
      jsonencode(module.service.migration.container_secrets) == jsonencode({
        DB_USERNAME = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-0123abcd-aaaa-bbbb-cccc-0123456789ab-AbCdEf:username::"
        DB_PASSWORD = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-0123abcd-aaaa-bbbb-cccc-0123456789ab-AbCdEf:password::"
      })
      && module.service.migration.task_definition_family == "${var.project}-${var.environment}-app-migrate"
      && module.service.migration.container_environment.DB_AUTH == "password"
      && module.service.migration.container_environment.DB_APP_ROLE == "guestbook_app"
      && !contains(keys(module.service.migration.container_environment), "DB_USERNAME")
      && module.service.migration.container_environment.DB_HOST == module.service.container_environment.DB_HOST
    )
    error_message = "the migration task definition alone takes the master credentials from the secret: ${jsonencode(module.service.migration)}"
  }
  assert {
    condition     = module.service.migration.command == ["migrate"]
    error_message = "the migration task runs `app migrate`"
  }
  assert {
    condition = (
      module.service.container_environment.DB_HOST == "rdeploy-x-db.abcdefghijkl.eu-west-1.rds.amazonaws.com"
      && module.service.container_environment.DB_PORT == "5432"
      && module.service.container_environment.DB_NAME == "app"
      && module.service.container_environment.DB_SSLMODE == "verify-full"
      && !contains(keys(module.service.container_environment), "DB_SSLROOTCERT")
    )
    error_message = "DB_HOST/PORT/NAME/SSLMODE are plain environment, verify-full by default with the app's built-in RDS bundle (no DB_SSLROOTCERT): ${jsonencode(module.service.container_environment)}"
  }
  assert {
    condition = (
      toset(keys(aws_cloudwatch_metric_alarm.database)) == toset(["db-free-storage", "db-cpu", "db-connections"])
      && alltrue([for a in aws_cloudwatch_metric_alarm.database : a.namespace == "AWS/RDS" && a.dimensions.DBInstanceIdentifier == "rdeploy-x-db" && length(a.alarm_actions) == 1])
      && aws_cloudwatch_metric_alarm.database["db-connections"].threshold == (var.database_instance_class == "db.t4g.micro" ? 89 : var.database_instance_class == "db.t4g.small" ? 180 : -1)
      && aws_cloudwatch_metric_alarm.database["db-free-storage"].comparison_operator == "LessThanThreshold"
    )
    error_message = "free storage, CPU and connections (80 % of max_connections for the class) alarm on the database, to the alarm topic"
  }
  assert {
    condition = (
      aws_cloudwatch_log_metric_filter.database_auth_failures[0].pattern == "{ $.fields.sqlstate = \"28P01\" }"
      && aws_cloudwatch_log_metric_filter.database_auth_failures[0].metric_transformation[0].value == "$.fields.auth_failures"
      && aws_cloudwatch_metric_alarm.database_auth_failures[0].metric_name == "DatabaseAuthFailures"
      && length(aws_cloudwatch_metric_alarm.database_auth_failures[0].alarm_actions) == 1
    )
    error_message = "authentication failures alarm from a metric filter that sums the app's auth_failures counts"
  }
  assert {
    condition     = length(setintersection(keys(module.service.container_environment), ["DATABASE_URL", "DB_PASSWORD", "DB_PASSWORD_FILE"])) == 0
    error_message = "with a database: no DATABASE_URL (it would win over DB_*) and no password in the plain environment"
  }
  assert {
    condition     = alltrue([for v in values(module.service.container_environment) : !strcontains(v, "secretsmanager")])
    error_message = "no secret reference in the plain environment"
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.database_from_app[0].security_group_id == "sg-0000000000000db00"
      && aws_vpc_security_group_ingress_rule.database_from_app[0].referenced_security_group_id == "sg-0000000000000a900"
      && aws_vpc_security_group_ingress_rule.database_from_app[0].from_port == 5432
      && aws_vpc_security_group_ingress_rule.database_from_app[0].to_port == 5432
      && aws_vpc_security_group_ingress_rule.database_from_app[0].cidr_ipv4 == null
    )
    error_message = "the database group admits 5432 from the app's group only"
  }
  assert {
    condition = (
      aws_vpc_security_group_egress_rule.app_to_database[0].security_group_id == "sg-0000000000000a900"
      && aws_vpc_security_group_egress_rule.app_to_database[0].referenced_security_group_id == "sg-0000000000000db00"
      && aws_vpc_security_group_egress_rule.app_to_database[0].from_port == 5432
      && aws_vpc_security_group_egress_rule.app_to_database[0].cidr_ipv4 == null
    )
    error_message = "the app's group reaches 5432 on the database's group only"
  }
  assert {
    condition     = length([for r in module.service.egress_cidr_rules : r if r.from_port <= 5432 && r.to_port >= 5432]) == 0
    error_message = "no CIDR egress rule opens 5432 (only the rule to the database group)"
  }
  assert {
    condition     = output.database_endpoint == "rdeploy-x-db.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432"
    error_message = "database_endpoint output"
  }
}

run "without_database" {
  command = plan

  variables {
    database_enabled = false
  }

  assert {
    condition     = module.service.container_environment.DATABASE_URL == "sqlite::memory:" && length(module.service.container_secrets) == 0
    error_message = "no database: in-memory SQLite (read-only root fs), no secrets"
  }
  assert {
    condition     = module.service.migration == null && module.service.task_role_policy == null
    error_message = "no database: no migration task definition, no task role permissions"
  }
  assert {
    condition     = length([for k in keys(module.service.container_environment) : k if startswith(k, "DB_")]) == 0
    error_message = "no DB_* variables without a database"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.database_from_app) == 0 && length(aws_vpc_security_group_egress_rule.app_to_database) == 0
    error_message = "no database rules without a database"
  }
}

run "another_mode_and_bundle_can_be_chosen" {
  command = plan

  variables {
    database_enabled = true
    database_sslmode = "verify-ca"
    app_environment  = { DB_SSLROOTCERT = "/etc/rds/other-bundle.pem" }
  }

  assert {
    condition     = module.service.container_environment.DB_SSLMODE == "verify-ca" && module.service.container_environment.DB_SSLROOTCERT == "/etc/rds/other-bundle.pem"
    error_message = "database_sslmode and app_environment reach the container"
  }
}

run "require_needs_no_bundle" {
  command = plan

  variables {
    database_enabled = true
    database_sslmode = "require"
  }

  assert {
    condition     = module.service.container_environment.DB_SSLMODE == "require"
    error_message = "require reaches the container"
  }
}

run "a_mode_without_tls_is_refused" {
  command = plan

  variables {
    database_enabled = true
    database_sslmode = "disable"
  }

  expect_failures = [var.database_sslmode]
}

run "core_without_a_database_is_refused" {
  command = plan

  variables {
    database_enabled = true
  }

  override_data {
    target = data.terraform_remote_state.core
    values = {
      outputs = {
        vpc_id             = "vpc-0123456789abcdef0"
        vpc_cidr_block     = "10.10.0.0/16"
        public_subnet_ids  = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
        private_subnet_ids = ["subnet-0000000000000000c", "subnet-0000000000000000d"]
        cluster_name       = "rdeploy-x-cluster"
        cluster_arn        = "arn:aws:ecs:eu-west-1:111122223333:cluster/rdeploy-x-cluster"
        database           = null
      }
    }
  }

  expect_failures = [aws_vpc_security_group_ingress_rule.database_from_app, aws_vpc_security_group_egress_rule.app_to_database]
}
