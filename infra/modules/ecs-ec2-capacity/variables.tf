variable "name" {
  description = <<-EOT
    Name prefix, `{project}-{environment}` by convention. Derived names: capacity provider,
    Auto Scaling group, launch template, instance role/profile and security group are all
    `<name>-ec2`; the ASG CPU policy is `<name>-ec2-cpu-<target>`.
  EOT
  type        = string
}

variable "cluster" {
  description = "ECS cluster the instances join (ECS_CLUSTER in their user data) and the capacity provider is attached to, as its default strategy."
  type = object({
    name = string
    arn  = string
  })
}

variable "network" {
  description = "Private subnets the instances run in (no public IPs; egress through NAT) and their VPC."
  type = object({
    vpc_id     = string
    subnet_ids = list(string)
  })
}

variable "instances" {
  description = <<-EOT
    The Auto Scaling group. `desired_capacity` is the initial size only: managed scaling owns it
    afterwards (`ignore_changes`). `ami_ssm_parameter` is the public SSM parameter the AMI is
    read from at plan time (ECS-optimized Amazon Linux 2023, x86_64); a new AMI there makes a
    new launch template version and an instance refresh. `root_volume_gib` must be at least the
    AMI's snapshot size (30 GiB for ECS-optimized AL2023).
  EOT
  type = object({
    instance_type     = string
    min_size          = number
    max_size          = number
    desired_capacity  = number
    ami_ssm_parameter = optional(string, "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")
    root_volume_gib   = optional(number, 30)
  })

  validation {
    condition     = var.instances.min_size <= var.instances.max_size
    error_message = "instances.min_size must not exceed instances.max_size."
  }

  validation {
    condition     = var.instances.desired_capacity >= var.instances.min_size && var.instances.desired_capacity <= var.instances.max_size
    error_message = "instances.desired_capacity must lie between instances.min_size and instances.max_size."
  }
}

variable "scaling" {
  description = <<-EOT
    Managed scaling on the capacity provider (ECS adds instances when tasks cannot be placed and
    removes empty ones; `target_capacity_percent` 100 = no spare instance) plus a target-tracking
    policy on the group's average CPU (`cpu_target_percent`). Scale-in needs both to agree and
    never terminates an instance with tasks (managed termination protection + managed draining).
  EOT
  type = object({
    target_capacity_percent   = optional(number, 100)
    cpu_target_percent        = optional(number, 50)
    maximum_scaling_step_size = optional(number, 2)
    instance_warmup_seconds   = optional(number, 180)
  })
  default = {}

  validation {
    condition     = var.scaling.target_capacity_percent >= 1 && var.scaling.target_capacity_percent <= 100
    error_message = "scaling.target_capacity_percent must be between 1 and 100."
  }

  validation {
    condition     = var.scaling.cpu_target_percent > 0 && var.scaling.cpu_target_percent <= 100
    error_message = "scaling.cpu_target_percent must be between 1 and 100."
  }
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags, which are also copied onto the ASG's propagated tags and the launch template's instance/volume tags)."
  type        = map(string)
  default     = {}
}
