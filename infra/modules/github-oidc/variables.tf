variable "name" {
  description = "Name prefix, `{project}-{environment}` by convention. Roles are `<name>-github-plan` and `<name>-github-deploy`."
  type        = string
}

variable "create_oidc_provider" {
  description = <<-EOT
    Create the account-wide `token.actions.githubusercontent.com` OIDC provider. An account holds
    it once: when two environments share an account, set this false in the second one and the
    existing provider is looked up instead.
  EOT
  type        = bool
  default     = true
}

variable "github" {
  description = <<-EOT
    Which workflows may assume the roles, matched on the token's `sub` claim
    (`repo:<owner>/<repo>:<context>`). A job that names a GitHub `environment:` gets
    `environment:<name>` as context instead of `ref:refs/heads/<branch>`.
    - deploy: exact matches only, built from `deploy_branches` and `deploy_environments`;
    - plan: `plan_contexts` patterns (StringLike), by default pull requests and the main branch.
  EOT
  type = object({
    repository          = string
    deploy_branches     = optional(list(string), ["main"])
    deploy_environments = optional(list(string), [])
    plan_contexts       = optional(list(string), ["pull_request", "ref:refs/heads/main"])
  })

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github.repository))
    error_message = "github.repository must look like owner/repo."
  }

  validation {
    condition     = length(var.github.deploy_branches) + length(var.github.deploy_environments) > 0
    error_message = "At least one deploy branch or deploy environment is needed, or nothing could assume the deploy role."
  }
}

variable "deploy_targets" {
  description = <<-EOT
    What the deploy role may touch. These are names, not references, because the service and the
    task roles are created by a later layer: ARNs are built from the account ID and the names, so
    they must follow the `{project}-{environment}-...` convention (see infra/README.md).
  EOT
  type = object({
    ecr_repository_arn = string
    ecs_cluster_name   = string
    ecs_service_name   = string
    pass_role_names    = list(string)
  })
}

variable "state_bucket" {
  description = "Terraform state bucket: the plan role may read state and take the S3 lock (`*.tflock`). Null: no state access."
  type        = string
  default     = null
}

variable "plan_policy_arns" {
  description = "Managed policies for the plan role (read-only by default)."
  type        = list(string)
  default     = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
}

variable "max_session_duration" {
  description = "Maximum session length of both roles, in seconds."
  type        = number
  default     = 3600
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
