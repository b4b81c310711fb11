locals {
  identifier = "${var.name}-db"

  # "16" or "16.4" -> postgres16: the parameter group family follows the major version.
  parameter_group_family = "postgres${split(".", var.instance.engine_version)[0]}"

  log_exports = ["postgresql", "upgrade"]
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

# No rules here: the client side adds the pair (ingress on this group from its own security
# group, egress from its group to this one; infra/layers/app/database.tf), because the client's
# group lives in a later layer. A group without rules admits nothing.

# TLS is enforced by the server: a connection without TLS is refused (the default of the
# postgres15+ default parameter groups, stated here so that it cannot silently change with the
# engine version or a parameter group swap).
resource "aws_db_parameter_group" "this" {
  name_prefix = "${local.identifier}-"
  family      = local.parameter_group_family
  description = "${local.identifier}: TLS required"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  tags = merge(var.tags, { Name = local.identifier })

  lifecycle {
    create_before_destroy = true
  }
}

# The groups RDS writes its log exports to (enabled_cloudwatch_logs_exports below). Made here,
# before the instance, so they have a retention and are Terraform's: created by RDS on first
# export they would keep logs forever and outlive a destroy.
resource "aws_cloudwatch_log_group" "exports" {
  for_each = toset(local.log_exports)

  name              = "/aws/rds/instance/${local.identifier}/${each.key}"
  retention_in_days = var.logs.retention_in_days
  kms_key_id        = var.logs.kms_key_id

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

  # RDS generates the password and keeps it (rotated every 7 days) in Secrets Manager; it never
  # appears in Terraform state or variables. The secret is encrypted with the AWS-managed key
  # aws/secretsmanager (master_user_secret_kms_key_id unset): its key policy lets any principal
  # of the account that may read the secret decrypt it through Secrets Manager, so readers need
  # secretsmanager:GetSecretValue on this one secret and no KMS grant (README: "Credentials").
  manage_master_user_password = true

  allocated_storage     = var.instance.allocated_storage
  max_allocated_storage = var.instance.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.instance.kms_key_id

  db_subnet_group_name   = aws_db_subnet_group.this.name
  parameter_group_name   = aws_db_parameter_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false
  multi_az               = var.instance.multi_az

  ca_cert_identifier                  = var.ca_cert_identifier
  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  copy_tags_to_snapshot               = true
  enabled_cloudwatch_logs_exports     = local.log_exports
  performance_insights_enabled        = var.performance_insights_enabled

  backup_retention_period = var.backup.retention_days
  backup_window           = var.backup.window
  maintenance_window      = var.backup.maintenance_window

  deletion_protection = var.deletion_protection
  # Each guard has its own variable: turning deletion protection off (the documented first step
  # of a teardown) must not also drop the final snapshot or the automated backups.
  # The final snapshot's name is fixed when the instance is created (ignore_changes below) and carries the
  # creation time plus 8 random hex digits (uuid()): every creation, a replacement included,
  # gets its own name, so destroying a re-created instance never collides with an earlier
  # instance's snapshot, even within the same second (modules/database/tests/).
  skip_final_snapshot         = !var.final_snapshot
  delete_automated_backups    = !var.retain_automated_backups
  apply_immediately           = var.apply_immediately
  allow_major_version_upgrade = var.allow_major_version_upgrade
  final_snapshot_identifier   = "${local.identifier}-final-${formatdate("YYYYMMDDhhmmss", timestamp())}-${substr(uuid(), 0, 8)}"

  tags = merge(var.tags, { Name = local.identifier })

  depends_on = [aws_cloudwatch_log_group.exports]

  lifecycle {
    # timestamp() and uuid() change on every plan; the value chosen at creation is the one that
    # counts (and a plan must not show a change for it every time).
    ignore_changes = [final_snapshot_identifier]
  }
}
