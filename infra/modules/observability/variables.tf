variable "name" {
  description = "Name prefix for alarms and the topic, `{project}-{environment}` by convention."
  type        = string
}

variable "alb" {
  description = "ARN suffixes of the ALB and the app target group (the CloudWatch metric dimensions)."
  type = object({
    arn_suffix              = string
    target_group_arn_suffix = string
  })
}

variable "ecs" {
  description = "Cluster and service whose CPU and memory are watched."
  type = object({
    cluster_name = string
    service_name = string
  })
}

variable "thresholds" {
  description = "Alarm thresholds. An alarm fires after `evaluation_periods` consecutive `period_seconds` windows breach."
  type = object({
    period_seconds                 = optional(number, 60)
    evaluation_periods             = optional(number, 5)
    alb_5xx_count                  = optional(number, 10)
    target_5xx_count               = optional(number, 10)
    unhealthy_targets              = optional(number, 0)
    p99_response_time_seconds      = optional(number, 1)
    ecs_cpu_utilization_percent    = optional(number, 80)
    ecs_memory_utilization_percent = optional(number, 80)
    # "Nothing serves" alarms: a rolling deploy or a scale-out starts tasks within minutes.
    nothing_serves_periods      = optional(number, 3)
    tasks_below_desired_periods = optional(number, 10)
    # Deployment alarm error-rate: 5xx above this share of requests, for this many periods,
    # counted only in periods with at least `error_rate_min_requests` requests.
    error_rate_percent      = optional(number, 5)
    error_rate_periods      = optional(number, 3)
    error_rate_min_requests = optional(number, 20)
  })
  default = {}
}

variable "notifications" {
  description = <<-EOT
    Where alarms go. `create_topic` makes an SNS topic `<name>-alarms` (subscribe to it out of
    band, or list `email_endpoints`), encrypted with a customer-managed KMS key whose policy lets
    CloudWatch publish (created here unless `kms_key_id` names one that already allows it);
    `extra_alarm_actions` are appended as they are.
  EOT
  type = object({
    create_topic        = optional(bool, true)
    email_endpoints     = optional(list(string), [])
    extra_alarm_actions = optional(list(string), [])
    kms_key_id          = optional(string)
  })
  default = {}
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
