output "service_name" {
  description = "Name of the ECS service (`<name>-app`)."
  value       = aws_ecs_service.app.name
}

output "service_arn" {
  description = "ARN of the ECS service."
  value       = aws_ecs_service.app.id
}

output "container_name" {
  description = "Name of the app container in the task definition (deploys replace its image)."
  value       = local.container_name
}

output "container_port" {
  description = "Port the app container listens on."
  value       = var.container.port
}

output "task_definition_family" {
  description = "Task definition family (`<name>-app`); deploys register new revisions in it."
  value       = aws_ecs_task_definition.app.family
}

output "task_definition_arn" {
  description = "ARN of the revision Terraform registered (the service may run a newer one after deploys)."
  value       = aws_ecs_task_definition.app.arn
}

output "task_role_arn" {
  description = "ARN of the task (application) role."
  value       = aws_iam_role.task.arn
}

output "task_role_name" {
  description = "Name of the task role; attach app permissions to it."
  value       = aws_iam_role.task.name
}

output "task_execution_role_arn" {
  description = "ARN of the task execution role."
  value       = aws_iam_role.execution.arn
}

output "task_execution_role_name" {
  description = "Name of the task execution role."
  value       = aws_iam_role.execution.name
}

output "security_group_id" {
  description = "Security group of the tasks; grant it access to dependencies (e.g. the database)."
  value       = aws_security_group.app.id
}

output "log_group_name" {
  description = "CloudWatch Logs group of the app container."
  value       = aws_cloudwatch_log_group.app.name
}

output "autoscaling_enabled" {
  description = "Whether CPU target tracking is configured."
  value       = var.autoscaling.enabled
}

output "placement" {
  description = "Where the tasks run: launch type (FARGATE, or null on EC2 capacity), capacity provider names, and the task definition's required compatibilities."
  value = {
    launch_type              = aws_ecs_service.app.launch_type
    capacity_providers       = [for s in aws_ecs_service.app.capacity_provider_strategy : s.capacity_provider]
    requires_compatibilities = aws_ecs_task_definition.app.requires_compatibilities
    network_mode             = aws_ecs_task_definition.app.network_mode
    target_group_arn         = one(aws_ecs_service.app.load_balancer).target_group_arn
    assign_public_ip         = one(aws_ecs_service.app.network_configuration).assign_public_ip
  }
}

output "container_environment" {
  description = "The app container's plain environment variables as registered (name -> value)."
  value       = local.environment
}

output "container_secrets" {
  description = "The app container's secrets as registered (name -> valueFrom): values the ECS agent reads with the execution role when a task starts."
  value       = var.container.secrets
}

output "egress_cidr_rules" {
  description = "The tasks' CIDR egress rules (from_port, to_port, cidr): HTTPS to AWS APIs, plus any `service.egress_to_vpc_ports`. Dependencies with a security group get a rule to that group instead (not listed here)."
  value = concat(
    [{ from_port = aws_vpc_security_group_egress_rule.https.from_port, to_port = aws_vpc_security_group_egress_rule.https.to_port, cidr = aws_vpc_security_group_egress_rule.https.cidr_ipv4 }],
    [for r in aws_vpc_security_group_egress_rule.vpc : { from_port = r.from_port, to_port = r.to_port, cidr = r.cidr_ipv4 }],
  )
}

output "deployment_alarms" {
  description = "The service's deployment alarms as configured: names, enable, rollback (null without alarms)."
  value = one([for a in aws_ecs_service.app.alarms : {
    alarm_names = a.alarm_names
    enable      = a.enable
    rollback    = a.rollback
  }])
}

output "container_security" {
  description = "The app container's privilege settings as rendered in the task definition: `{ privileged, user, readonly_root_filesystem, capabilities = { add, drop } }`."
  value = {
    privileged               = jsondecode(aws_ecs_task_definition.app.container_definitions)[0].privileged
    user                     = jsondecode(aws_ecs_task_definition.app.container_definitions)[0].user
    readonly_root_filesystem = jsondecode(aws_ecs_task_definition.app.container_definitions)[0].readonlyRootFilesystem
    capabilities             = jsondecode(aws_ecs_task_definition.app.container_definitions)[0].linuxParameters.capabilities
  }
}

output "task_role_policy" {
  description = "The task role's rendered policy (JSON; null when it has no permissions)."
  value       = length(var.task_role_statements) > 0 ? data.aws_iam_policy_document.task[0].json : null
}

output "migration" {
  description = "The migration task (null without one): its family, its execution role (arn, name), the container's environment, secrets and command as registered."
  value = var.migration == null ? null : {
    task_definition_family = aws_ecs_task_definition.migrate[0].family
    execution_role_arn     = aws_iam_role.migration_execution[0].arn
    execution_role_name    = aws_iam_role.migration_execution[0].name
    container_environment  = local.migration_environment
    container_secrets      = var.migration.secrets
    command                = jsondecode(aws_ecs_task_definition.migrate[0].container_definitions)[0].command
  }
}
