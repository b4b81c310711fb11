output "identifier" {
  description = "RDS instance identifier (`<name>-db`)."
  value       = aws_db_instance.this.identifier
}

output "arn" {
  description = "ARN of the instance."
  value       = aws_db_instance.this.arn
}

output "address" {
  description = "Hostname of the instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the instance."
  value       = aws_db_instance.this.port
}

output "endpoint" {
  description = "`host:port` of the instance."
  value       = aws_db_instance.this.endpoint
}

output "db_name" {
  description = "Name of the initial database."
  value       = aws_db_instance.this.db_name
}

output "username" {
  description = "Master user name."
  value       = aws_db_instance.this.username
}

output "resource_id" {
  description = "The instance's DbiResourceId (db-...), the resource of IAM database authentication: arn:aws:rds-db:<region>:<account>:dbuser:<resource_id>/<user>."
  value       = aws_db_instance.this.resource_id
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret holding the master credentials (JSON with `username` and `password`)."
  value       = try(aws_db_instance.this.master_user_secret[0].secret_arn, null)
}

output "security_group_id" {
  description = "Security group of the instance; it has no rules: the client adds ingress from its own group on `port` (and its egress to this group)."
  value       = aws_security_group.this.id
}

output "parameter_group_name" {
  description = "Parameter group of the instance (`rds.force_ssl = 1`)."
  value       = aws_db_parameter_group.this.name
}

output "final_snapshot_identifier" {
  description = "Name of the snapshot a destroy takes (used unless final_snapshot = false), fixed at creation."
  value       = aws_db_instance.this.final_snapshot_identifier
}

output "log_groups" {
  description = "The RDS log-export CloudWatch log groups, by export (postgresql, upgrade)."
  value       = { for k, g in aws_cloudwatch_log_group.exports : k => g.name }
}

output "protection" {
  description = "What guards the data: deletion_protection, skip_final_snapshot, delete_automated_backups, backup_retention_period (days)."
  value = {
    deletion_protection      = aws_db_instance.this.deletion_protection
    skip_final_snapshot      = aws_db_instance.this.skip_final_snapshot
    delete_automated_backups = aws_db_instance.this.delete_automated_backups
    backup_retention_period  = aws_db_instance.this.backup_retention_period
  }
}
