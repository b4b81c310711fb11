terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Local state on purpose: this creates the bucket every other state lives in. Pass
  # `-backend-config=path=<file>` to keep one state file per environment.
  backend "local" {}
}
