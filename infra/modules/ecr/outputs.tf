output "repository_name" {
  description = "Name of the repository."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "ARN of the repository (for IAM policies that push or pull)."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "Repository URL, `<account>.dkr.ecr.<region>.amazonaws.com/<name>`; append `:<tag>` for an image reference."
  value       = aws_ecr_repository.this.repository_url
}

output "registry_id" {
  description = "Account ID of the registry holding the repository."
  value       = aws_ecr_repository.this.registry_id
}
