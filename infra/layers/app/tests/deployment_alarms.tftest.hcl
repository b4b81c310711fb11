# The service rolls a bad release back on the app's own symptoms: it carries the target-5xx and
# error-rate alarms as ECS deployment alarms, with rollback. A plan of the app layer without AWS
# (mocked provider, fixed shared/core outputs), e.g. (xtask/tests/deployment_alarms_plan.rs):
#   terraform -chdir=infra/layers/app init -backend=false
#   terraform -chdir=infra/layers/app test -filter=tests/deployment_alarms.tftest.hcl -var-file=../../envs/dev.tfvars

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_ssm_parameter" {
    defaults = { insecure_value = "ami-0123456789abcdef0" }
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
      ecr_repository_arn = "arn:aws:ecr:eu-west-1:111122223333:repository/rdeploy-dev-app"
      ecr_repository_url = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-dev-app"
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
      cluster_name       = "rdeploy-dev-cluster"
      cluster_arn        = "arn:aws:ecs:eu-west-1:111122223333:cluster/rdeploy-dev-cluster"
      database = {
        identifier        = "rdeploy-dev-db"
        address           = "rdeploy-dev-db.abcdefghijkl.eu-west-1.rds.amazonaws.com"
        port              = 5432
        db_name           = "app"
        secret_arn        = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-0123abcd-aaaa-bbbb-cccc-0123456789ab-AbCdEf"
        resource_id       = "db-ABCDEFGHIJKLMNOPQRSTUVWXY1"
        security_group_id = "sg-0000000000000db00"
      }
    }
  }
}

run "service_rolls_back_on_both_alarms" {
  command = plan

  assert {
    condition     = module.service.deployment_alarms.enable && module.service.deployment_alarms.rollback
    error_message = "the service's deployment alarms must be enabled, with rollback"
  }
  assert {
    condition = toset(module.service.deployment_alarms.alarm_names) == toset([
      "${var.project}-${var.environment}-target-5xx",
      "${var.project}-${var.environment}-error-rate",
    ])
    error_message = "the service must watch exactly the target-5xx and error-rate alarms during a deployment"
  }
  assert {
    condition     = toset(module.service.deployment_alarms.alarm_names) == toset([output.alarm_names["target-5xx"], output.alarm_names["error-rate"]])
    error_message = "the deployment alarms must be the observability module's alarms of those names (no second hand-kept list)"
  }
}
