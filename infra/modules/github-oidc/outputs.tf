output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider (created or looked up)."
  value       = local.provider_arn
}

output "plan_role_arn" {
  description = "Role for `terraform plan` jobs (aws-actions/configure-aws-credentials `role-to-assume`)."
  value       = aws_iam_role.plan.arn
}

output "plan_role_name" {
  description = "Name of the plan role."
  value       = aws_iam_role.plan.name
}

output "deploy_role_arn" {
  description = "Role for image push and deploy jobs."
  value       = aws_iam_role.deploy.arn
}

output "deploy_role_name" {
  description = "Name of the deploy role."
  value       = aws_iam_role.deploy.name
}

output "deploy_subjects" {
  description = "Exact `sub` claims the deploy role trusts."
  value       = local.deploy_subjects
}

output "plan_subjects" {
  description = "`sub` claim patterns the plan role trusts."
  value       = local.plan_subjects
}

output "passable_role_arns" {
  description = "Role ARNs the deploy role may pass to ECS (built from the naming convention)."
  value       = local.pass_role_arns
}
