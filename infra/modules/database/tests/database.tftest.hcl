# The database module without AWS (mocked provider), run by xtask/tests/database_plan.rs:
#   terraform -chdir=infra/modules/database init -backend=false
#   terraform -chdir=infra/modules/database test
#
# - every creation of the instance (a replacement included) gets its own final snapshot name,
#   even two creations within the same second, and a later plan keeps the name chosen at
#   creation (no perpetual diff);
# - TLS is enforced by the server (rds.force_ssl = 1 in the instance's parameter group);
# - backups stay on, and the group admits nothing by itself.

mock_provider "aws" {}

variables {
  name                = "rdeploy-test"
  vpc_id              = "vpc-0123456789abcdef0"
  subnet_ids          = ["subnet-0000000000000000c", "subnet-0000000000000000d"]
  deletion_protection = true
}

run "first_creation" {
  command = apply

  assert {
    # RDS: 1-255 letters, digits, hyphens; a letter first; no "--"; no trailing hyphen.
    condition     = can(regex("^rdeploy-test-db-final-[0-9]{14}-[0-9a-f]{8}$", output.final_snapshot_identifier)) && length(output.final_snapshot_identifier) <= 255
    error_message = "final snapshot name must be <identifier>-final-<YYYYMMDDhhmmss>-<8 hex>, a valid RDS snapshot identifier: ${output.final_snapshot_identifier}"
  }
  assert {
    condition     = output.log_groups == { postgresql = "/aws/rds/instance/rdeploy-test-db/postgresql", upgrade = "/aws/rds/instance/rdeploy-test-db/upgrade" } && alltrue([for g in aws_cloudwatch_log_group.exports : g.retention_in_days == 30])
    error_message = "Terraform owns the RDS log-export groups (the names RDS writes to), with a retention"
  }
  assert {
    condition     = aws_db_instance.this.skip_final_snapshot == false && aws_db_instance.this.delete_automated_backups == false
    error_message = "by default a destroy takes a final snapshot and keeps the automated backups"
  }
  assert {
    condition     = aws_db_parameter_group.this.family == "postgres16" && aws_db_instance.this.parameter_group_name == aws_db_parameter_group.this.name
    error_message = "the instance uses the module's postgres16 parameter group"
  }
  assert {
    condition     = aws_db_instance.this.ca_cert_identifier == "rds-ca-rsa2048-g1"
    error_message = "the server certificate's CA is set explicitly (rds-ca-rsa2048-g1), not left to RDS's default"
  }
  assert {
    condition     = [for p in aws_db_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"] == ["1"]
    error_message = "rds.force_ssl = 1: the server refuses connections without TLS"
  }
  assert {
    condition     = aws_db_instance.this.manage_master_user_password == true && aws_db_instance.this.password == null
    error_message = "RDS manages the master password (Secrets Manager); Terraform never holds it"
  }
  assert {
    condition     = aws_db_instance.this.backup_retention_period == 7 && aws_db_instance.this.publicly_accessible == false && aws_db_instance.this.storage_encrypted == true
    error_message = "backups on (7 days by default), private, encrypted"
  }
}

# A later plan of the same instance keeps the name chosen at creation.
run "replan_keeps_the_name" {
  command = plan

  assert {
    condition     = aws_db_instance.this.final_snapshot_identifier == run.first_creation.final_snapshot_identifier
    error_message = "the final snapshot name must stay what it was at creation (ignore_changes): ${aws_db_instance.this.final_snapshot_identifier} vs ${run.first_creation.final_snapshot_identifier}"
  }
}

# A second creation (the instance replaced, e.g. after a destroy or a forced replacement),
# milliseconds after the first: its name differs from the first instance's.
run "second_creation" {
  command = apply

  plan_options {
    replace = [aws_db_instance.this]
  }

  assert {
    condition     = output.final_snapshot_identifier != run.first_creation.final_snapshot_identifier
    error_message = "two creations got the same final snapshot name (${output.final_snapshot_identifier}): the second destroy would collide with the first snapshot"
  }
  assert {
    condition     = can(regex("^rdeploy-test-db-final-[0-9]{14}-[0-9a-f]{8}$", output.final_snapshot_identifier))
    error_message = "the replacement's name has the same shape: ${output.final_snapshot_identifier}"
  }
}

run "backups_cannot_be_switched_off" {
  command = plan

  variables {
    backup = { retention_days = 0 }
  }

  expect_failures = [var.backup]
}

run "unprotected_still_takes_the_final_snapshot" {
  command = plan

  variables {
    deletion_protection = false
  }

  assert {
    condition     = aws_db_instance.this.deletion_protection == false && aws_db_instance.this.skip_final_snapshot == false && aws_db_instance.this.delete_automated_backups == false
    error_message = "turning deletion protection off (step one of a teardown) must keep the final snapshot and the backups"
  }
}

run "disposable_skips_snapshot_and_backups" {
  command = plan

  variables {
    deletion_protection      = false
    final_snapshot           = false
    retain_automated_backups = false
  }

  assert {
    condition     = aws_db_instance.this.skip_final_snapshot == true && aws_db_instance.this.delete_automated_backups == true
    error_message = "only the explicit switches make a database disposable"
  }
}
