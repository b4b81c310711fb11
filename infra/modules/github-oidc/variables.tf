variable "name" {
  description = "Name prefix, `{project}-{environment}` by convention. Roles are `<name>-github-plan`, `<name>-github-apply` and `<name>-github-deploy`."
  type        = string
}

variable "project" {
  description = "Project name, the first part of `name` (`{project}-{environment}`); the boundary denies `{project}-<other environment>-*`."
  type        = string
}

variable "environment" {
  description = "This environment's name: the boundary denies resources tagged with another `Environment`."
  type        = string
}

variable "other_environments" {
  description = "Environments that share this AWS account (empty: one account per environment, the recommended layout). The plan and apply roles' boundary denies every action on their `{project}-<env>-*` resources."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.other_environments, var.environment)
    error_message = "other_environments must not list this environment itself."
  }
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
    Which workflows may assume the roles, matched exactly (StringEquals) on the token's `sub`
    claim (`repo:<owner>/<repo>:<context>`). A job that names a GitHub `environment:` gets
    `environment:<name>` as context instead of `ref:refs/heads/<branch>`.
    - deploy: `deploy_branches` and `deploy_environments`;
    - plan (and drift): `plan_branches` only. Pull requests never get a role: a pull request can
      change the Terraform to read anything the role may read, and the state holds secrets;
    - apply: `apply_environments` only (jobs of an approved GitHub environment).
    Environment jobs are trusted only on `environment_branches` (`["main"]`): the repository's
    subject template includes the ref (`repo`, `context`, `ref`; docs/github.md), so the `sub`
    of a job of environment E on branch B is `repo:<owner>/<repo>:environment:E:ref:refs/heads/B`.
  EOT
  type = object({
    repository           = string
    deploy_branches      = optional(list(string), ["main"])
    deploy_environments  = optional(list(string), [])
    plan_branches        = optional(list(string), ["main"])
    apply_environments   = optional(list(string), [])
    environment_branches = optional(list(string), ["main"])
  })

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github.repository))
    error_message = "github.repository must look like owner/repo."
  }

  validation {
    condition     = length(var.github.deploy_branches) + length(var.github.deploy_environments) > 0
    error_message = "At least one deploy branch or deploy environment is needed, or nothing could assume the deploy role."
  }

  validation {
    condition     = length(var.github.environment_branches) > 0
    error_message = "environment_branches must not be empty, or no environment job could assume a role."
  }

  validation {
    condition     = length(var.github.plan_branches) > 0 && length(var.github.apply_environments) > 0
    error_message = "plan_branches and apply_environments must not be empty, or nothing could assume the plan or apply role."
  }
}

variable "deploy_targets" {
  description = <<-EOT
    What the deploy role may touch. These are names, not references, because the service and the
    task roles are created by a later layer: ARNs are built from the account ID and the names, so
    they must follow the `{project}-{environment}-...` convention (see infra/README.md).
    `migration_task_family`: the migration task's family (it alone carries the database master
    credentials), registered, run and deregistered like the service's.
    `promote_from_repository_arns`: repositories `cargo xtask image --promote` may copy images from
    (read-only; another account's repository must also grant this role in its repository policy).
  EOT
  type = object({
    ecr_repository_arn           = string
    ecs_cluster_name             = string
    ecs_service_name             = string
    task_definition_family       = string
    migration_task_family        = optional(string)
    pass_role_names              = list(string)
    promote_from_repository_arns = optional(list(string), [])
  })
}

variable "emulator_iam_wildcards" {
  description = "Emulator only: scope the deploy role's ECS statements to \"*\" because moto matches ECS calls against the resource \"*\". Never set for a real account (a test checks dev and prod)."
  type        = bool
  default     = false
}

variable "state_bucket" {
  description = "Terraform state bucket: the plan role may read state and take the S3 lock (`*.tflock`). Null: no state access."
  type        = string
  default     = null
}

variable "plan_policy_arns" {
  description = "Managed policies for the plan role. Null: `ReadOnlyAccess` (of the current partition)."
  type        = list(string)
  default     = null
}

variable "apply_policy_arns" {
  description = "Managed policies for the apply role. Null: `AdministratorAccess` (it creates IAM roles; restrict it with a permissions boundary if your account needs one)."
  type        = list(string)
  default     = null
}

variable "max_session_duration" {
  description = "Maximum session length of the three roles, in seconds. It must cover the longest job that assumes them (the workflows ask for `role-duration-seconds` = the job's timeout + 15 min; the apply job: 60 + 15 min), or credentials expire mid-apply and leave the state lock held. xtask/tests/session_budget.rs compares them."
  type        = number
  default     = 7200

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be 3600..43200 seconds (IAM's limits)."
  }
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
