# The core layer's database as each env file sets it, planned with a mocked provider (no AWS).
# Run with the env file under test (xtask/tests/database_plan.rs):
#   terraform -chdir=infra/layers/core test -var-file=../../envs/prod.tfvars

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

# prod requires HTTPS (a variable every layer validates); the certificate is irrelevant here.
variables {
  alb_certificate_arn = "arn:aws:acm:eu-west-1:111122223333:certificate/test"
}

# The documented teardown of prod (docs/database.md "Teardown"): deletion protection off, then
# destroy. The plan of step one still takes the final snapshot and keeps the backups.
run "prod_teardown_keeps_the_final_snapshot" {
  command = plan

  variables {
    database_deletion_protection = false
  }

  assert {
    condition     = var.environment != "prod" || alltrue([for d in module.database : !d.protection.deletion_protection && !d.protection.skip_final_snapshot && !d.protection.delete_automated_backups && d.final_snapshot_identifier != ""])
    error_message = "prod with deletion protection off must still take a final snapshot and keep its automated backups"
  }
}

run "database_as_the_env_file_sets_it" {
  command = plan

  assert {
    condition     = var.environment == "local" || length(module.database) == 1
    error_message = "dev and prod run the database (database_enabled = true)"
  }
  assert {
    condition     = alltrue([for d in module.database : d.protection.backup_retention_period >= 1])
    error_message = "automated backups are on"
  }
  assert {
    condition     = var.environment != "prod" || alltrue([for d in module.database : d.protection.deletion_protection && !d.protection.skip_final_snapshot && !d.protection.delete_automated_backups])
    error_message = "prod: deletion protection on, a final snapshot on destroy, automated backups kept"
  }
}
