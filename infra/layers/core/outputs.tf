output "vpc_id" {
  description = "ID of the VPC."
  value       = module.network.vpc_id
}

output "vpc_cidr_block" {
  description = "CIDR of the VPC."
  value       = module.network.vpc_cidr_block
}

output "azs" {
  description = "Availability zones in use."
  value       = module.network.azs
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT gateways)."
  value       = module.network.public_subnet_ids
}

output "private_subnet_ids" {
  description = "Private subnets (tasks, database)."
  value       = module.network.private_subnet_ids
}

output "nat_public_ips" {
  description = "Egress IPs of the private subnets."
  value       = module.network.nat_public_ips
}

output "flow_log_group_name" {
  description = "CloudWatch Logs group of the VPC flow logs (null when disabled)."
  value       = module.network.flow_log_group_name
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.ecs_cluster.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = module.ecs_cluster.arn
}

output "database" {
  description = "The database (null when database_enabled = false): address, port, db_name, secret_arn (RDS-managed master secret, JSON with username and password), security_group_id (no rules: the app layer adds them), identifier, resource_id (DbiResourceId, for rds-db:connect)."
  value = var.database_enabled ? {
    identifier        = module.database[0].identifier
    address           = module.database[0].address
    port              = module.database[0].port
    db_name           = module.database[0].db_name
    secret_arn        = module.database[0].master_user_secret_arn
    resource_id       = module.database[0].resource_id
    security_group_id = module.database[0].security_group_id
  } : null
}
