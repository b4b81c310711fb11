variable "name" {
  description = "Name prefix, `{project}-{environment}` by convention. The instance is `<name>-db`."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (at least two zones) for the DB subnet group."
  type        = list(string)
}

variable "instance" {
  description = "Instance settings."
  type = object({
    engine_version        = optional(string, "16")
    instance_class        = optional(string, "db.t4g.micro")
    allocated_storage     = optional(number, 20)
    max_allocated_storage = optional(number, 100)
    multi_az              = optional(bool, false)
    db_name               = optional(string, "app")
    username              = optional(string, "app")
    port                  = optional(number, 5432)
    kms_key_id            = optional(string)
  })
  default = {}
}

variable "ca_cert_identifier" {
  description = "The CA that signs the server certificate, stated so that it is not whatever RDS's default is on the day of creation (the RDS global bundle holds every one of these). A variable of its own, not an `instance` field, so that checkov's CKV_AWS_211 can read the default."
  type        = string
  default     = "rds-ca-rsa2048-g1"
  validation {
    condition     = contains(["rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"], var.ca_cert_identifier)
    error_message = "ca_cert_identifier must be one of the current RDS CAs: rds-ca-rsa2048-g1, rds-ca-rsa4096-g1, rds-ca-ecc384-g1."
  }
}

variable "backup" {
  description = "Automated backups and maintenance windows (UTC)."
  type = object({
    retention_days     = optional(number, 7)
    window             = optional(string, "03:00-04:00")
    maintenance_window = optional(string, "sun:04:30-sun:05:30")
  })
  default = {}

  validation {
    condition     = var.backup.retention_days >= 1 && var.backup.retention_days <= 35
    error_message = "backup.retention_days must be 1..35: automated backups stay on (0 would switch them off)."
  }
}

variable "deletion_protection" {
  description = "Block deletion through the API. On in production. (The final snapshot is final_snapshot's.)"
  type        = bool
  default     = true
}

variable "final_snapshot" {
  description = "Take a final snapshot when the instance is destroyed (independent of deletion_protection). On in production."
  type        = bool
  default     = true
}

variable "retain_automated_backups" {
  description = "Keep the automated backups (for their retention period) after the instance is deleted: delete_automated_backups = false. On in production."
  type        = bool
  default     = true
}

variable "apply_immediately" {
  description = "Apply instance changes (class, storage, parameter group) at once, with the restart or failover they need, instead of in the next maintenance window."
  type        = bool
  default     = false
}

variable "allow_major_version_upgrade" {
  description = "Allow a change of engine_version's major version (an upgrade with downtime; the parameter group family follows it)."
  type        = bool
  default     = false
}

variable "logs" {
  description = "The RDS log-export groups (/aws/rds/instance/<id>/postgresql, /upgrade): retention in days and an optional KMS key."
  type = object({
    retention_in_days = optional(number, 30)
    kms_key_id        = optional(string)
  })
  default = {}
}

variable "performance_insights_enabled" {
  description = "Performance Insights (7-day retention is free on supported classes)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
