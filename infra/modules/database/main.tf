locals {
  identifier = "${var.name}-db"
}

resource "aws_db_subnet_group" "this" {
  name        = local.identifier
  description = "Private subnets of ${local.identifier}"
  subnet_ids  = var.subnet_ids

  tags = merge(var.tags, { Name = local.identifier })
}

# name_prefix: a replacement (create_before_destroy) gets a new name instead of failing with
# InvalidGroup.Duplicate. The Name tag keeps the convention.
resource "aws_security_group" "this" {
  name_prefix = "${local.identifier}-"
  description = "PostgreSQL of ${var.name}: port ${var.instance.port} from the app only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = local.identifier })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "from_app" {
  # count, not for_each: the IDs are usually unknown until the app security group exists.
  count = length(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from the app"
  ip_protocol                  = "tcp"
  from_port                    = var.instance.port
  to_port                      = var.instance.port
  referenced_security_group_id = var.allowed_security_group_ids[count.index]

  tags = var.tags
}

resource "aws_db_instance" "this" {
  identifier     = local.identifier
  engine         = "postgres"
  engine_version = var.instance.engine_version
  instance_class = var.instance.instance_class
  port           = var.instance.port
  db_name        = var.instance.db_name
  username       = var.instance.username

  # RDS generates the password and keeps it (rotated) in Secrets Manager; it never appears in
  # Terraform state or variables.
  manage_master_user_password = true

  allocated_storage     = var.instance.allocated_storage
  max_allocated_storage = var.instance.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.instance.kms_key_id

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false
  multi_az               = var.instance.multi_az

  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  copy_tags_to_snapshot               = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  performance_insights_enabled        = var.performance_insights_enabled

  backup_retention_period = var.backup.retention_days
  backup_window           = var.backup.window
  maintenance_window      = var.backup.maintenance_window

  deletion_protection = var.deletion_protection
  # A protected database also gets a final snapshot; an unprotected (dev) one is disposable.
  # The identifier carries the creation time, so every instance (a re-created one included)
  # has its own and a second destroy never collides with the first one's snapshot. It is
  # always set (skip_final_snapshot decides whether it is used) and fixed at creation.
  skip_final_snapshot       = !var.deletion_protection
  final_snapshot_identifier = "${local.identifier}-final-${formatdate("YYYYMMDDhhmmss", timestamp())}"

  tags = merge(var.tags, { Name = local.identifier })

  lifecycle {
    # timestamp() changes on every plan; the value chosen at creation is the one that counts.
    ignore_changes = [final_snapshot_identifier]
  }
}
