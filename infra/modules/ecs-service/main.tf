data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  app_name       = "${var.name}-app"
  container_name = "app"
  log_group_name = "/ecs/${local.app_name}"
  image          = "${var.ecr_repository.url}:${var.container.image_tag}"

  # Fargate (null) or an EC2 capacity provider; everything else (awsvpc, security group, target
  # group, deploys) is the same on both.
  on_ec2 = var.capacity_provider != null

  # TRUSTED_PROXY_HOPS: the service always sits behind the ALB, which appends the client's
  # address to X-Forwarded-For; without it every client would share the ALB node's rate-limit
  # bucket.
  environment = merge(var.container.environment, {
    APP_VERSION        = var.container.app_version
    TRUSTED_PROXY_HOPS = tostring(var.container.trusted_proxy_hops)
  })

  # The migration's: the serving environment without what its secrets or settings replace.
  migration_environment = var.migration == null ? {} : merge(
    { for k, v in local.environment : k => v if !contains(concat(keys(var.migration.secrets), var.migration.remove_environment), k) },
    var.migration.environment,
  )
}

################################################################################
# Logs
################################################################################

resource "aws_cloudwatch_log_group" "app" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_id

  tags = var.tags
}

################################################################################
# IAM: execution role (ECS agent: pull image, write logs, read secrets) and task role (the app)
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-task-execution"
  description        = "ECS agent for ${local.app_name}: pull the image, write logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

# Written out instead of attaching AmazonECSTaskExecutionRolePolicy, which allows pulling from
# every repository and writing to every log group in the account.
data "aws_iam_policy_document" "execution_base" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
  }

  statement {
    sid = "PullAppImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository.arn]
  }

  statement {
    sid     = "WriteAppLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    # Built from the name (not the resource's arn) so the rendered policy is known at plan time
    # and the permission contract test can read it from the plan.
    resources = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}:*"]
  }
}

data "aws_iam_policy_document" "execution" {
  source_policy_documents = [data.aws_iam_policy_document.execution_base.json]

  dynamic "statement" {
    for_each = length(var.container.secrets) > 0 ? [1] : []

    content {
      sid     = "ReadContainerSecrets"
      actions = ["secretsmanager:GetSecretValue"]
      # valueFrom may carry a JSON key suffix (`<arn>:password::`); the policy needs the bare ARN.
      resources = distinct([for v in values(var.container.secrets) : regex("^(arn:[^:]+:secretsmanager:[^:]+:[^:]+:secret:[^:]+)", v)[0]])
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-image-write-logs"
  role   = aws_iam_role.execution.name
  policy = data.aws_iam_policy_document.execution.json
}

# The app's own identity. Its permissions come from the caller (`task_role_statements`): with a
# database, rds-db:connect as the app role (IAM database authentication, layers/app/database.tf);
# otherwise none. The deploy role may pass exactly this role and the execution roles.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "Runtime identity of the ${local.app_name} containers"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "task" {
  count = length(var.task_role_statements) > 0 ? 1 : 0

  dynamic "statement" {
    for_each = var.task_role_statements

    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "task" {
  count = length(var.task_role_statements) > 0 ? 1 : 0

  name   = "app-runtime"
  role   = aws_iam_role.task.name
  policy = data.aws_iam_policy_document.task[0].json
}

# The migration task (`app migrate`, one-off, run by the deploy before the rollout) runs as the
# database's master user: only its task definition carries the master secret, and only its own
# execution role may read that secret. The serving task definition has no secret at all.
resource "aws_iam_role" "migration_execution" {
  count = var.migration == null ? 0 : 1

  name               = "${var.name}-migrate-execution"
  description        = "ECS agent for the ${local.app_name} migration task: pull the image, write logs, read the database master secret"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "migration_execution" {
  count = var.migration == null ? 0 : 1

  source_policy_documents = [data.aws_iam_policy_document.execution_base.json]

  dynamic "statement" {
    for_each = length(var.migration.secrets) > 0 ? [1] : []

    content {
      sid       = "ReadMigrationSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = distinct([for v in values(var.migration.secrets) : regex("^(arn:[^:]+:secretsmanager:[^:]+:[^:]+:secret:[^:]+)", v)[0]])
    }
  }
}

resource "aws_iam_role_policy" "migration_execution" {
  count = var.migration == null ? 0 : 1

  name   = "pull-image-write-logs-read-master-secret"
  role   = aws_iam_role.migration_execution[0].name
  policy = data.aws_iam_policy_document.migration_execution[0].json
}

################################################################################
# The container, shared by the serving task definition and the migration's
################################################################################

locals {
  container_definition = {
    name      = local.container_name
    image     = local.image
    essential = true

    portMappings = [
      {
        name          = "http"
        containerPort = var.container.port
        hostPort      = var.container.port
        protocol      = "tcp"
        appProtocol   = "http"
      }
    ]

    environment = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    secrets     = [for k in sort(keys(var.container.secrets)) : { name = k, valueFrom = var.container.secrets[k] }]

    # The image is FROM scratch: the binary writes nothing to disk and runs as a fixed
    # unprivileged UID (matching the Dockerfile's USER).
    readonlyRootFilesystem = true
    user                   = var.container.user
    privileged             = false

    # Every Linux capability dropped: the app binds an unprivileged port and needs none.
    # Fargate allows adding only SYS_PTRACE, and does not accept `dockerSecurityOptions`
    # (so no `no-new-privileges` there: "This field isn't valid for containers in tasks using
    # the Fargate launch type", ECS ContainerDefinition reference); with no capabilities, a
    # non-root user and a FROM scratch image without setuid binaries, there is no privilege
    # to gain.
    linuxParameters = {
      capabilities = {
        add  = []
        drop = ["ALL"]
      }
    }

    # No shell in the image, so exec form: the binary probes its own /health.
    healthCheck = {
      command     = var.container.health_check
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }

    # Time between SIGTERM and SIGKILL; the app drains in-flight requests in that window.
    stopTimeout = var.container.stop_timeout

    # non-blocking: the driver buffers in memory (up to max-buffer-size, then drops lines)
    # rather than stalling the app's stdout when CloudWatch is slow; the app itself writes
    # its logs in 64 KiB batches (app/src/logging.rs).
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = local.container_name
        mode                  = "non-blocking"
        max-buffer-size       = "25m"
      }
    }
  }
}

################################################################################
# Task definition
################################################################################

resource "aws_ecs_task_definition" "app" {
  family                   = local.app_name
  requires_compatibilities = local.on_ec2 ? ["EC2"] : ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.container.cpu
  memory                   = var.container.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.container.cpu_architecture
  }

  container_definitions = jsonencode([local.container_definition])

  tags = merge(var.tags, { Name = local.app_name })
}

# The migration's family, `<app>-migrate`: the serving container with the command `migrate`, no
# port, no health check (it exits), the migration's environment and secrets on top. Deploys
# register its revisions with the new image (xtask/src/deploy/migration.rs), as for the service.
resource "aws_ecs_task_definition" "migrate" {
  count = var.migration == null ? 0 : 1

  family                   = "${local.app_name}-migrate"
  requires_compatibilities = local.on_ec2 ? ["EC2"] : ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.container.cpu
  memory                   = var.container.memory
  execution_role_arn       = aws_iam_role.migration_execution[0].arn
  # `app migrate` calls no AWS API: no task role.

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.container.cpu_architecture
  }

  container_definitions = jsonencode([merge(
    { for k, v in local.container_definition : k => v if !contains(["portMappings", "healthCheck"], k) },
    {
      command     = ["migrate"]
      environment = [for k in sort(keys(local.migration_environment)) : { name = k, value = local.migration_environment[k] }]
      secrets     = [for k in sort(keys(var.migration.secrets)) : { name = k, valueFrom = var.migration.secrets[k] }]
    }
  )])

  tags = merge(var.tags, { Name = "${local.app_name}-migrate" })
}

################################################################################
# Security group: app port only from the ALB
################################################################################

# name_prefix: a replacement (create_before_destroy) gets a new name instead of failing with
# InvalidGroup.Duplicate. The Name tag keeps the convention.
resource "aws_security_group" "app" {
  name_prefix = "${local.app_name}-"
  description = "Tasks of ${local.app_name}: app port from the ALB only"
  vpc_id      = var.network.vpc_id

  tags = merge(var.tags, { Name = local.app_name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "from_alb" {
  security_group_id            = aws_security_group.app.id
  description                  = "App port from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.container.port
  to_port                      = var.container.port
  referenced_security_group_id = var.load_balancer.security_group_id

  tags = var.tags
}

# HTTPS out: ECR image layers (S3), CloudWatch Logs and any AWS API, through the NAT gateway.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.app.id
  description       = "HTTPS to AWS APIs and ECR"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = var.tags
}

# Optional: TCP ports open to the whole VPC (none by default). Prefer a rule that names the
# dependency's security group, as the app layer does for the database (layers/app/database.tf):
# the app then reaches the database port on the database only.
resource "aws_vpc_security_group_egress_rule" "vpc" {
  for_each = toset([for p in var.service.egress_to_vpc_ports : tostring(p)])

  security_group_id = aws_security_group.app.id
  description       = "TCP ${each.value} inside the VPC"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv4         = var.network.vpc_cidr_block

  tags = var.tags
}

################################################################################
# Service
################################################################################

resource "aws_ecs_service" "app" {
  name             = local.app_name
  cluster          = var.cluster.arn
  task_definition  = aws_ecs_task_definition.app.arn
  desired_count    = var.service.desired_count
  launch_type      = local.on_ec2 ? null : "FARGATE"
  platform_version = local.on_ec2 ? null : "LATEST"

  # EC2: place through the capacity provider (managed scaling adds instances when a task does
  # not fit), spread over the zones. Fargate takes neither.
  dynamic "capacity_provider_strategy" {
    for_each = local.on_ec2 ? [var.capacity_provider] : []

    content {
      capacity_provider = capacity_provider_strategy.value
      weight            = 1
      base              = 0
    }
  }

  dynamic "ordered_placement_strategy" {
    for_each = local.on_ec2 ? ["attribute:ecs.availability-zone"] : []

    content {
      type  = "spread"
      field = ordered_placement_strategy.value
    }
  }

  # Rolling deploys never drop below the desired count (100) and may double it (200) while
  # the new revision warms up; a revision that cannot become healthy is rolled back by ECS.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  deployment_controller {
    type = "ECS"
  }

  # A release whose /health passes but whose API fails: the circuit breaker never sees it (the
  # tasks stay healthy), these alarms do. ECS ignores an alarm that is already in ALARM when the
  # deployment starts, and rolls back only to a deployment that reached COMPLETED.
  dynamic "alarms" {
    for_each = length(var.service.deployment_alarm_names) > 0 ? [1] : []

    content {
      alarm_names = var.service.deployment_alarm_names
      enable      = true
      rollback    = true
    }
  }

  health_check_grace_period_seconds = var.service.health_check_grace_period_seconds
  enable_execute_command            = var.service.enable_execute_command
  enable_ecs_managed_tags           = true
  propagate_tags                    = "SERVICE"

  network_configuration {
    subnets          = var.network.subnet_ids
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.load_balancer.target_group_arn
    container_name   = local.container_name
    container_port   = var.container.port
  }

  # Deploys (`cargo xtask deploy`) register new task definition revisions and autoscaling moves
  # the count; Terraform must not roll either back on the next apply. A change to the task
  # definition here (CPU, memory, environment, secrets, health check, logging) registers a new
  # revision of the family without touching the service; the next deploy builds its revision
  # from the family's newest ACTIVE one, so the change goes out with the next image.
  lifecycle {
    ignore_changes = [task_definition, desired_count]
  }

  tags = merge(var.tags, { Name = local.app_name })

  depends_on = [aws_iam_role_policy.execution]
}

################################################################################
# Autoscaling
################################################################################

resource "aws_appautoscaling_target" "this" {
  count = var.autoscaling.enabled ? 1 : 0

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${var.cluster.name}/${aws_ecs_service.app.name}"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity

  tags = var.tags
}

resource "aws_appautoscaling_policy" "cpu" {
  count = var.autoscaling.enabled ? 1 : 0

  name               = "${local.app_name}-cpu-${var.autoscaling.cpu_target_percent}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[0].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.cpu_target_percent
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
    scale_out_cooldown = var.autoscaling.scale_out_cooldown

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
