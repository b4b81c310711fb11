# Plans of the app layer with both compute types, and the plan-time errors of bad compute
# settings, without AWS: the provider is mocked and the shared/core layers' remote state is
# replaced by fixed outputs. Run with the env file under test, e.g. (xtask/tests/compute_plan.rs):
#   terraform -chdir=infra/layers/app init -backend=false
#   terraform -chdir=infra/layers/app test -var-file=../../envs/dev.tfvars

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

run "fargate" {
  command = plan

  variables {
    compute = "fargate"
  }

  assert {
    condition     = length(module.ec2_capacity) == 0 && output.capacity_provider_name == null
    error_message = "fargate must create no EC2 capacity"
  }
  assert {
    condition     = module.service.placement.launch_type == "FARGATE" && module.service.placement.capacity_providers == []
    error_message = "fargate: the service uses the FARGATE launch type and no capacity provider"
  }
  assert {
    condition     = module.service.placement.requires_compatibilities == toset(["FARGATE"]) && module.service.placement.network_mode == "awsvpc"
    error_message = "fargate: the task definition requires FARGATE, awsvpc"
  }
}

run "ec2" {
  command = plan

  variables {
    compute = "ec2"
  }

  assert {
    condition     = length(module.ec2_capacity) == 1
    error_message = "ec2 creates the EC2 capacity module"
  }
  assert {
    condition     = module.service.placement.capacity_providers == ["${var.project}-${var.environment}-ec2"]
    error_message = "ec2: the service runs on the capacity provider (its launch type is left to AWS)"
  }
  assert {
    condition     = module.service.placement.requires_compatibilities == toset(["EC2"]) && module.service.placement.network_mode == "awsvpc"
    error_message = "ec2: the task definition requires EC2 and keeps awsvpc"
  }
  assert {
    condition     = module.service.placement.assign_public_ip == false
    error_message = "ec2: no public IP for the tasks"
  }
  assert {
    condition     = module.ec2_capacity[0].autoscaling_group.min_size == var.ec2_min_size && module.ec2_capacity[0].autoscaling_group.max_size == var.ec2_max_size && module.ec2_capacity[0].autoscaling_group.desired_capacity == var.ec2_desired_capacity
    error_message = "ec2: ASG sizes come from the tfvars"
  }
  assert {
    condition     = toset(module.ec2_capacity[0].autoscaling_group.subnet_ids) == toset(["subnet-0000000000000000c", "subnet-0000000000000000d"])
    error_message = "ec2: the ASG uses the private subnets"
  }
  assert {
    condition     = module.ec2_capacity[0].autoscaling_group.protect_from_scale_in == true && module.ec2_capacity[0].autoscaling_group.instance_refresh_strategy == "Rolling" && module.ec2_capacity[0].autoscaling_group.scale_in_protected_instances == "Refresh" && module.ec2_capacity[0].autoscaling_group.min_healthy_percentage == 100
    error_message = "ec2: new instances protected from scale-in; a launch template change refreshes every instance (protected ones too) without dropping below 100 %"
  }
  assert {
    condition     = module.ec2_capacity[0].autoscaling_group.cpu_target_percent == 50
    error_message = "ec2: ASG CPU target tracking at 50 %"
  }
  assert {
    condition     = module.ec2_capacity[0].launch_template.instance_type == var.ec2_instance_type && module.ec2_capacity[0].launch_template.image_id == "ami-0123456789abcdef0"
    error_message = "ec2: the launch template uses the tfvars instance type and the AMI from the SSM parameter"
  }
  assert {
    condition     = module.ec2_capacity[0].launch_template.http_tokens == "required" && module.ec2_capacity[0].launch_template.http_put_response_hop_limit == 1
    error_message = "ec2: IMDSv2 required, hop limit 1"
  }
  assert {
    condition     = module.ec2_capacity[0].launch_template.key_name == null && module.ec2_capacity[0].launch_template.associate_public_ip_address == "false"
    error_message = "ec2: no key pair, no public IP"
  }
  assert {
    condition     = module.ec2_capacity[0].launch_template.root_volume_encrypted == "true"
    error_message = "ec2: encrypted root volume"
  }
  assert {
    condition     = module.ec2_capacity[0].capacity_provider.managed_termination_protection == "ENABLED" && module.ec2_capacity[0].capacity_provider.managed_draining == "ENABLED" && module.ec2_capacity[0].capacity_provider.managed_scaling == "ENABLED"
    error_message = "ec2: managed scaling, termination protection and draining"
  }
}

run "unknown_compute" {
  command = plan

  variables {
    compute = "lambda"
  }

  expect_failures = [var.compute]
}

run "instance_too_small" {
  command = plan

  variables {
    compute           = "ec2"
    ec2_instance_type = "t3.small"
    task_cpu          = 1024
    task_memory       = 2048
  }

  expect_failures = [var.ec2_instance_type]
}

run "min_above_max" {
  command = plan

  variables {
    compute              = "ec2"
    ec2_min_size         = 3
    ec2_max_size         = 2
    ec2_desired_capacity = 2
  }

  expect_failures = [var.ec2_max_size]
}
