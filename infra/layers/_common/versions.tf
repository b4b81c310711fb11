terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: bucket/region/encrypt/use_lockfile come from
  # `-backend-config=../../envs/<env>.s3.tfbackend`, the key from
  # `-backend-config=key=<env>/<layer>.tfstate` (see infra/README.md).
  backend "s3" {}
}
