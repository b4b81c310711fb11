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
  description = "GitHub repository variable `AWS_PLAN_ROLE_ARN_<ENV>`: plan and drift from main."
  value       = module.github_oidc.plan_role_arn
}

output "github_apply_role_arn" {
  description = "GitHub environment `<env>` variable `AWS_APPLY_ROLE_ARN`: terraform apply."
  value       = module.github_oidc.apply_role_arn
}

output "github_deploy_role_arn" {
  description = "GitHub environment `<env>` variable `AWS_DEPLOY_ROLE_ARN`: image push/promote and deploy."
  value       = module.github_oidc.deploy_role_arn
}

output "image_promoted_from_repository_arns" {
  description = "Repositories `cargo xtask image --promote` copies this environment's images from."
  value       = local.promote_from_repository_arns
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

output "github_oidc_subject_claim_keys" {
  description = "Claim keys of the repository's OIDC subject template the trust policies expect; set once with `gh api` (docs/github.md), checked by `cargo xtask doctor`."
  value       = module.github_oidc.subject_claim_keys
}
