output "name" {
  description = "Name of the cluster."
  value       = aws_ecs_cluster.this.name
}

output "arn" {
  description = "ARN of the cluster."
  value       = aws_ecs_cluster.this.arn
}

output "id" {
  description = "ID of the cluster (same as its ARN)."
  value       = aws_ecs_cluster.this.id
}
