output "state_bucket" {
  description = "Name of the state bucket (must equal `bucket` in envs/<env>.s3.tfbackend)."
  value       = aws_s3_bucket.state.bucket
}

output "state_bucket_arn" {
  description = "ARN of the state bucket."
  value       = aws_s3_bucket.state.arn
}

output "state_bucket_region" {
  description = "Region of the state bucket (must equal `region` in envs/<env>.s3.tfbackend)."
  value       = aws_s3_bucket.state.region
}
