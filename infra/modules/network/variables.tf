variable "name" {
  description = "Name prefix for every resource, `{project}-{environment}` by convention."
  type        = string
}

variable "cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0))
    error_message = "cidr must be a valid IPv4 CIDR block."
  }
}

variable "azs" {
  description = "Availability zones to spread the subnets over; one public and one private subnet per zone."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2
    error_message = "At least two availability zones are required (an ALB needs subnets in two)."
  }
}

variable "subnets" {
  description = <<-EOT
    Subnet layout. When the CIDR lists are empty they are carved out of `cidr` as /24s
    (public: netnum 0..n-1, private: netnum 10..10+n-1), one per zone in `azs`.
  EOT
  type = object({
    public_cidrs  = optional(list(string), [])
    private_cidrs = optional(list(string), [])
  })
  default = {}
}

variable "nat_gateway" {
  description = <<-EOT
    Egress for the private subnets. `mode`: "per_az" (one NAT gateway per zone: survives a zone
    outage), "single" (one NAT gateway shared by all zones: cheaper, a zone outage cuts egress),
    or "none" (private subnets have no route to the internet).
  EOT
  type = object({
    mode = optional(string, "per_az")
  })
  default = {}

  validation {
    condition     = contains(["per_az", "single", "none"], var.nat_gateway.mode)
    error_message = "nat_gateway.mode must be one of per_az, single, none."
  }
}

variable "flow_logs" {
  description = "VPC flow logs delivered to a CloudWatch Logs group created here."
  type = object({
    enabled                  = optional(bool, true)
    traffic_type             = optional(string, "ALL")
    retention_in_days        = optional(number, 30)
    kms_key_id               = optional(string)
    max_aggregation_interval = optional(number, 600)
  })
  default = {}
}

variable "tags" {
  description = "Tags merged into every resource of this module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
