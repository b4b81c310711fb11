variable "name" {
  description = "Name prefix, `{project}-{environment}` by convention. The ALB is `<name>-alb`; the target group is `app-<unique>` (AWS allows a 6-character prefix) tagged `Name = <name>-app`."
  type        = string

  validation {
    condition     = length(var.name) <= 28
    error_message = "name must be at most 28 characters so that `<name>-alb` fits the 32-character ALB name limit."
  }
}

variable "vpc_id" {
  description = "VPC to create the ALB security group and target group in."
  type        = string
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC; the ALB may only send traffic to targets inside it."
  type        = string
}

variable "subnet_ids" {
  description = "Public subnets (at least two zones) for the internet-facing ALB."
  type        = list(string)
}

variable "ingress_cidr_blocks" {
  description = "IPv4 ranges allowed to reach ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "certificate_arn" {
  description = "ACM certificate ARN. Set: HTTPS listener on 443 and HTTP redirects to it. Null: plain HTTP listener forwarding to the app (no TLS, for environments without a domain)."
  type        = string
  default     = null
}

variable "domain" {
  description = "Serve HTTPS for `name` (e.g. `app.example.com`) from an ACM certificate this module requests and validates through DNS in the existing public hosted zone `zone_name`, plus an alias A record to the ALB. Alternative to `certificate_arn`."
  type = object({
    name      = string
    zone_name = string
  })
  default = null
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener. Default: AWS's recommended TLS 1.3 + 1.2 policy with post-quantum hybrid key exchange (neither the AWS provider 5.100 nor the emulator validates the name; the permission contract test checks it against the emulator's copy of DescribeSSLPolicies)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
}

variable "deletion_protection" {
  description = "Refuse to delete the ALB through the API (must be false before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "idle_timeout" {
  description = "Seconds a connection may stay idle before the ALB closes it (client and target side). Keep the targets' own keep-alive timeout LONGER than this: a target that closes an idle connection first makes the ALB answer 502 when it reuses that connection. It must also exceed the targets' longest request."
  type        = number
  default     = 60

  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000
    error_message = "idle_timeout must be 1..4000 seconds (the ALB's limits)."
  }
}

variable "create_access_logs_bucket" {
  description = "Create `<name>-alb-logs` (lifecycle: expire after access_logs_retention_days; SSE-S3; writable only by the region's ELB log delivery) and ship access logs there. Takes precedence over `access_logs`."
  type        = bool
  default     = false
}

variable "access_logs_retention_days" {
  description = "Days the module's access-logs bucket keeps each log object."
  type        = number
  default     = 90

  validation {
    condition     = var.access_logs_retention_days >= 1
    error_message = "access_logs_retention_days must be at least 1."
  }
}

variable "access_logs" {
  description = "Ship ALB access logs to an existing S3 bucket (its policy must allow the regional ELB account). Null disables them (unless create_access_logs_bucket)."
  type = object({
    bucket = string
    prefix = optional(string)
  })
  default = null
}

variable "target_group" {
  description = "The app's target group. Fargate tasks register by IP (awsvpc networking), hence target type `ip`."
  type = object({
    port                 = optional(number, 5000)
    deregistration_delay = optional(number, 30)
    health_check = optional(object({
      path                = optional(string, "/health")
      matcher             = optional(string, "200")
      interval            = optional(number, 15)
      timeout             = optional(number, 5)
      healthy_threshold   = optional(number, 2)
      unhealthy_threshold = optional(number, 3)
    }), {})
  })
  default = {}
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "private_paths" {
  description = "Paths the forwarding listener answers itself with a fixed 404 (JSON `not_found`), so they never reach a target from outside: the app's probes. Target group health checks reach the targets directly and still work. At most 5 (one listener rule's limit for path patterns); empty: no rule."
  type        = list(string)
  default     = ["/health", "/ready"]

  validation {
    condition     = length(var.private_paths) <= 5
    error_message = "private_paths takes at most 5 paths (the ALB's limit of condition values per rule)."
  }
}

variable "waf" {
  description = "A WAF web ACL on the ALB: a per-IP rate-based rule (requests per 5 minutes, counted across all tasks; over it, 403) AWSManagedRulesCommonRuleSet and AWSManagedRulesKnownBadInputsRuleSet. Null: no WAF. About $8/month plus $0.60 per million requests."
  type = object({
    rate_limit_per_5_minutes = optional(number, 1000)
  })
  default = null

  validation {
    condition     = var.waf == null ? true : (var.waf.rate_limit_per_5_minutes >= 10 && var.waf.rate_limit_per_5_minutes <= 2000000000)
    error_message = "waf.rate_limit_per_5_minutes must be 10..2000000000 (WAF's limits)."
  }
}
