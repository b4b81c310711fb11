output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider (created or looked up)."
  value       = local.provider_arn
}

output "plan_role_arn" {
  description = "Role for `terraform plan` and drift jobs on the plan branches (GitHub variable `AWS_PLAN_ROLE_ARN_<ENV>`)."
  value       = aws_iam_role.plan.arn
}

output "plan_role_name" {
  description = "Name of the plan role."
  value       = aws_iam_role.plan.name
}

output "apply_role_arn" {
  description = "Role for `terraform apply` jobs of the apply environments (GitHub environment variable `AWS_APPLY_ROLE_ARN`)."
  value       = aws_iam_role.apply.arn
}

output "apply_role_name" {
  description = "Name of the apply role."
  value       = aws_iam_role.apply.name
}

output "deploy_role_arn" {
  description = "Role for image push/promote and deploy jobs (GitHub environment variable `AWS_DEPLOY_ROLE_ARN`)."
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
  description = "Exact `sub` claims the plan role trusts (branches only, never pull requests)."
  value       = local.plan_subjects
}

output "apply_subjects" {
  description = "Exact `sub` claims the apply role trusts (GitHub environments only)."
  value       = local.apply_subjects
}

output "passable_role_arns" {
  description = "Role ARNs the deploy role may pass to ECS (built from the naming convention)."
  value       = local.pass_role_arns
}

output "subject_claim_keys" {
  description = "The repository's OIDC subject template these trust policies expect (`gh api -X PUT repos/<owner>/<repo>/actions/oidc/customization/sub`, docs/github.md)."
  value       = local.subject_claim_keys
}
