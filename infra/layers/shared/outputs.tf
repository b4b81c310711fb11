output "ecr_repository_name" {
  description = "ECR repository of the app image."
  value       = module.ecr.repository_name
}

output "ecr_repository_url" {
  description = "Push target: `<url>:<tag>`."
  value       = module.ecr.repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the ECR repository."
  value       = module.ecr.repository_arn
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider."
  value       = module.github_oidc.oidc_provider_arn
}

output "github_plan_role_arn" {
  description = "Role for `terraform plan` in GitHub Actions."
  value       = module.github_oidc.plan_role_arn
}

output "github_deploy_role_arn" {
  description = "Role for image push and deploy in GitHub Actions."
  value       = module.github_oidc.deploy_role_arn
}

output "cluster_name" {
  description = "ECS cluster name by convention (created by the core layer)."
  value       = local.names.cluster
}

output "service_name" {
  description = "ECS service name by convention (created by the app layer)."
  value       = local.names.service
}

output "task_definition_family" {
  description = "Task definition family by convention (created by the app layer)."
  value       = local.names.task_family
}

output "state_bucket" {
  description = "Terraform state bucket of this environment."
  value       = local.state_bucket
}

output "region" {
  description = "AWS region of the environment."
  value       = var.region
}
