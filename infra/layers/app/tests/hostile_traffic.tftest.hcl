# Hostile traffic (issue #26), planned for an env file without AWS: the provider is mocked and
# the shared/core layers' remote state is replaced by fixed outputs, e.g. (xtask/tests/compute_plan.rs):
#   terraform -chdir=infra/layers/app init -backend=false
#   terraform -chdir=infra/layers/app test -filter=tests/hostile_traffic.tftest.hcl -var-file=../../envs/dev.tfvars

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

run "probes_are_not_public" {
  command = plan

  assert {
    condition     = module.alb.private_paths != null
    error_message = "the ALB must answer the probes itself"
  }
  assert {
    condition     = toset(module.alb.private_paths.paths) == toset(["/health", "/ready"])
    error_message = "the ALB must answer exactly /health and /ready itself"
  }
  assert {
    condition     = module.alb.private_paths.status_code == "404"
    error_message = "the probes must be a fixed 404 from outside"
  }
  assert {
    condition     = module.alb.private_paths.listener == (var.alb_certificate_arn == null && var.domain_name == null ? "http" : "https")
    error_message = "the rule must sit on the listener that forwards to the targets"
  }
}

run "probes_rule_on_https_when_there_is_a_certificate" {
  command = plan

  variables {
    alb_certificate_arn = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
    domain_name         = null
  }

  assert {
    condition     = module.alb.private_paths.listener == "https"
    error_message = "with a certificate the HTTP listener only redirects: the rule must be on HTTPS"
  }
}

run "the_container_has_no_capabilities" {
  command = plan

  assert {
    condition     = module.service.container_security.capabilities.drop == ["ALL"] && length(module.service.container_security.capabilities.add) == 0
    error_message = "the task definition must drop every Linux capability and add none"
  }
  assert {
    condition     = module.service.container_security.privileged == false && module.service.container_security.readonly_root_filesystem == true
    error_message = "the container must be unprivileged with a read-only root filesystem"
  }
}

run "waf_is_optional_and_has_both_rules" {
  command = plan

  variables {
    waf_enabled = true
  }

  assert {
    condition     = toset(module.alb.waf.rules) == toset(["aws-common", "aws-known-bad-inputs", "rate-per-ip"]) && module.alb.waf.rate_limit_per_5_minutes == 1000
    error_message = "the WAF must carry the per-IP rate rule, the AWS common and known-bad-inputs rule sets"
  }
  assert {
    condition     = module.alb.waf.name == "${var.project}-${var.environment}-waf"
    error_message = "the web ACL is named {project}-{environment}-waf"
  }
}

run "no_waf_by_default" {
  command = plan

  variables {
    waf_enabled = false
  }

  assert {
    condition     = module.alb.waf == null
    error_message = "the WAF is off unless waf_enabled"
  }
}
