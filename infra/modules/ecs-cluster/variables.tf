variable "name" {
  description = "Cluster name, `{project}-{environment}-cluster` by convention."
  type        = string
}

variable "container_insights" {
  description = "Container Insights level: \"enabled\", \"enhanced\" (per-task/container metrics, costs more) or \"disabled\"."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enabled", "enhanced", "disabled"], var.container_insights)
    error_message = "container_insights must be enabled, enhanced or disabled."
  }
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
