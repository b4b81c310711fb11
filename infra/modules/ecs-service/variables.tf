variable "name" {
  description = <<-EOT
    Name prefix, `{project}-{environment}` by convention. Derived names (other code relies on them):
    service and task family `<name>-app`, roles `<name>-task` and `<name>-task-execution`,
    security group `<name>-app`, log group `/ecs/<name>-app`.
  EOT
  type        = string
}

variable "cluster" {
  description = "ECS cluster the service runs in (from the core layer)."
  type = object({
    name = string
    arn  = string
  })
}

variable "network" {
  description = "Where the tasks run: private subnets (no public IPs), reaching the internet through NAT."
  type = object({
    vpc_id         = string
    vpc_cidr_block = string
    subnet_ids     = list(string)
  })
}

variable "capacity_provider" {
  description = "null: the service runs on Fargate (launch type FARGATE). A capacity provider name (the ecs-ec2-capacity module's output): the service runs on its EC2 instances (task definition requires EC2, placement spread over zones). Changing between the two replaces the service and the task definition."
  type        = string
  default     = null
}

variable "load_balancer" {
  description = "ALB in front of the service: its security group is the only allowed source of app traffic."
  type = object({
    security_group_id = string
    target_group_arn  = string
  })
}

variable "ecr_repository" {
  description = "Repository the image comes from; the execution role may pull from it and nothing else."
  type = object({
    arn = string
    url = string
  })
}

variable "container" {
  description = <<-EOT
    The single container, always named "app". The image is FROM scratch with the binary at /app
    and no shell, so the health check is an exec-form command. `image_tag` only seeds the first
    task definition revision: deploys register new revisions and the service ignores drift.
  EOT
  type = object({
    image_tag    = optional(string, "bootstrap")
    port         = optional(number, 5000)
    cpu          = optional(number, 256)
    memory       = optional(number, 512)
    app_version  = optional(string, "bootstrap")
    user         = optional(string, "10001")
    environment  = optional(map(string), {})
    secrets      = optional(map(string), {})
    health_check = optional(list(string), ["CMD", "/app", "healthcheck"])
    stop_timeout = optional(number, 30)
    # The ALB is one proxy hop: the app keys rate limits on the address it appended.
    trusted_proxy_hops = optional(number, 1)
    cpu_architecture   = optional(string, "X86_64")
  })
  default = {}
}

variable "task_role_statements" {
  description = "The app's own permissions, as IAM statements on the task role (e.g. rds-db:connect for IAM database authentication). Empty: the role has none."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  default = []
}

variable "migration" {
  description = <<-EOT
    The migration task (`app migrate`): a task definition family `<name>-app-migrate` with the
    app container, the command `migrate`, the serving environment plus `environment`, minus the
    names in `secrets` and `remove_environment`, and `secrets` (e.g. the database master
    credentials) read by an execution role of its own. Null: no migration task definition.
  EOT
  type = object({
    environment        = optional(map(string), {})
    remove_environment = optional(list(string), [])
    secrets            = optional(map(string), {})
  })
  default = null
}

variable "service" {
  description = "Service settings. `desired_count` is the initial count only (ignored afterwards: autoscaling and deploys own it)."
  type = object({
    desired_count                     = optional(number, 1)
    health_check_grace_period_seconds = optional(number, 60)
    enable_execute_command            = optional(bool, false)
    egress_to_vpc_ports               = optional(list(number), [])
    # CloudWatch alarms ECS watches during a deployment (and its bake time after it): one in
    # ALARM fails the deployment and ECS rolls back to the last COMPLETED one. Empty: none.
    deployment_alarm_names = optional(list(string), [])
  })
  default = {}
}

variable "autoscaling" {
  description = "Target tracking on average service CPU. Off: the service keeps `service.desired_count`."
  type = object({
    enabled            = optional(bool, false)
    min_capacity       = optional(number, 1)
    max_capacity       = optional(number, 2)
    cpu_target_percent = optional(number, 50)
    scale_in_cooldown  = optional(number, 300)
    scale_out_cooldown = optional(number, 60)
  })
  default = {}

  validation {
    condition     = var.autoscaling.min_capacity <= var.autoscaling.max_capacity
    error_message = "autoscaling.min_capacity must not exceed autoscaling.max_capacity."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the container log group."
  type        = number
  default     = 30
}

variable "log_kms_key_id" {
  description = "Optional KMS key ARN for the container log group."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
