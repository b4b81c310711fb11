variable "name" {
  description = "Repository name, `{project}-{environment}-app` by convention."
  type        = string
}

variable "image_tag_mutability" {
  description = "IMMUTABLE: a pushed tag can never point at other content, so a deployed tag (the git SHA) always means the same image."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["IMMUTABLE", "MUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be IMMUTABLE or MUTABLE."
  }
}

variable "scan_on_push" {
  description = "Run ECR basic image scanning on every push."
  type        = bool
  default     = true
}

variable "encryption" {
  description = "At-rest encryption. KMS without `kms_key_arn` uses the AWS-managed `aws/ecr` key (no key to manage, no cost)."
  type = object({
    type        = optional(string, "KMS")
    kms_key_arn = optional(string)
  })
  default = {}

  validation {
    condition     = contains(["KMS", "AES256"], var.encryption.type)
    error_message = "encryption.type must be KMS or AES256."
  }
}

variable "lifecycle_rules" {
  description = "Image retention: keep the newest `keep_last_images` images; untagged layers (failed or superseded pushes) go after `untagged_expire_days`."
  type = object({
    keep_last_images     = optional(number, 30)
    untagged_expire_days = optional(number, 7)
  })
  default = {}
}

variable "force_delete" {
  description = "Allow `terraform destroy` to delete the repository while it still holds images."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "pull_account_ids" {
  description = "AWS accounts allowed to pull (copy) images from this repository, for cross-account promotion. Empty: no repository policy."
  type        = list(string)
  default     = []
}
