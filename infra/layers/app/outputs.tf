output "alb_dns_name" {
  description = "Public DNS name of the ALB."
  value       = module.alb.dns_name
}

output "app_url" {
  description = "Base URL of the app (https://<domain_name> with a domain; https when a certificate is configured)."
  value       = module.alb.url
}

output "certificate_arn" {
  description = "Certificate of the HTTPS listener, or null (HTTP only)."
  value       = module.alb.certificate_arn
}

output "alb_arn" {
  description = "ARN of the ALB."
  value       = module.alb.arn
}

output "alb_security_group_id" {
  description = "Security group of the ALB."
  value       = module.alb.security_group_id
}

output "target_group_arn" {
  description = "ARN of the app target group."
  value       = module.alb.target_group_arn
}

output "cluster_name" {
  description = "ECS cluster the service runs in."
  value       = local.core.cluster_name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = local.core.cluster_arn
}

output "service_name" {
  description = "ECS service name (deploys call UpdateService on it)."
  value       = module.service.service_name
}

output "service_arn" {
  description = "ARN of the ECS service."
  value       = module.service.service_arn
}

output "task_definition_family" {
  description = "Task definition family deploys register revisions in."
  value       = module.service.task_definition_family
}

output "task_definition_arn" {
  description = "Revision registered by Terraform (the seed for deploys). `deploy --keep` never deregisters it: Terraform would then see it deleted and plan a new one every day."
  value       = module.service.task_definition_arn
}

output "container_name" {
  description = "Container whose image deploys replace."
  value       = module.service.container_name
}

output "container_port" {
  description = "Port the app listens on."
  value       = module.service.container_port
}

output "app_security_group_id" {
  description = "Security group of the tasks."
  value       = module.service.security_group_id
}

output "task_role_arn" {
  description = "Task (application) role."
  value       = module.service.task_role_arn
}

output "task_execution_role_arn" {
  description = "Task execution role."
  value       = module.service.task_execution_role_arn
}

output "log_group_name" {
  description = "CloudWatch Logs group of the app."
  value       = module.service.log_group_name
}

output "ecr_repository_url" {
  description = "ECR repository of the app image (from the shared layer)."
  value       = local.shared.ecr_repository_url
}

output "alarm_names" {
  description = "CloudWatch alarm names by short name."
  value       = module.observability.alarm_names
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.observability.sns_topic_arn
}

output "database_endpoint" {
  description = "`host:port` of the database (core layer), or null when disabled."
  value       = local.database == null ? null : "${local.database.address}:${local.database.port}"
}

output "database_secret_arn" {
  description = "Secrets Manager secret with the database master credentials (core layer), or null when disabled."
  value       = local.database == null ? null : local.database.secret_arn
}

output "deployment_alarm_names" {
  description = "The alarms the ECS service watches during a deployment, rolling back when one fires."
  value       = module.observability.deployment_alarm_names
}
