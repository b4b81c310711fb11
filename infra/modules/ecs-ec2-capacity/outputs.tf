output "capacity_provider_name" {
  description = "Capacity provider for the service's strategy. Available once it is attached to the cluster (a service using it depends on that)."
  value       = aws_ecs_capacity_provider.this.name

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

output "capacity_provider_arn" {
  description = "ARN of the capacity provider."
  value       = aws_ecs_capacity_provider.this.arn
}

output "autoscaling_group_name" {
  description = "Name of the Auto Scaling group."
  value       = aws_autoscaling_group.this.name
}

output "autoscaling_group_arn" {
  description = "ARN of the Auto Scaling group."
  value       = aws_autoscaling_group.this.arn
}

output "launch_template_id" {
  description = "ID of the launch template."
  value       = aws_launch_template.this.id
}

output "ami_id" {
  description = "AMI of the current launch template version (from the SSM parameter)."
  value       = aws_launch_template.this.image_id
}

output "instance_role_name" {
  description = "Name of the instance role (ECS agent + Session Manager)."
  value       = aws_iam_role.instance.name
}

output "instance_role_arn" {
  description = "ARN of the instance role."
  value       = aws_iam_role.instance.arn
}

output "security_group_id" {
  description = "Security group of the instances' primary network interface (no inbound rules)."
  value       = aws_security_group.instances.id
}

output "autoscaling_group" {
  description = "The Auto Scaling group as configured: name, arn, sizes (desired is the initial one), subnets, the CPU target of its target-tracking policy, scale-in protection and the instance refresh settings."
  value = {
    name               = aws_autoscaling_group.this.name
    arn                = aws_autoscaling_group.this.arn
    min_size           = aws_autoscaling_group.this.min_size
    max_size           = aws_autoscaling_group.this.max_size
    desired_capacity   = aws_autoscaling_group.this.desired_capacity
    subnet_ids         = aws_autoscaling_group.this.vpc_zone_identifier
    cpu_target_percent = one(aws_autoscaling_policy.cpu.target_tracking_configuration).target_value
    # Managed termination protection needs it; instance refresh must include protected instances.
    protect_from_scale_in        = aws_autoscaling_group.this.protect_from_scale_in
    instance_refresh_strategy    = one(aws_autoscaling_group.this.instance_refresh).strategy
    scale_in_protected_instances = one(one(aws_autoscaling_group.this.instance_refresh).preferences).scale_in_protected_instances
    min_healthy_percentage       = one(one(aws_autoscaling_group.this.instance_refresh).preferences).min_healthy_percentage
  }
}

output "launch_template" {
  description = "The launch template's security-relevant settings: AMI, instance type, IMDS, key pair, public IP, root volume encryption."
  value = {
    id                          = aws_launch_template.this.id
    image_id                    = aws_launch_template.this.image_id
    instance_type               = aws_launch_template.this.instance_type
    http_tokens                 = one(aws_launch_template.this.metadata_options).http_tokens
    http_put_response_hop_limit = one(aws_launch_template.this.metadata_options).http_put_response_hop_limit
    key_name                    = aws_launch_template.this.key_name
    associate_public_ip_address = one(aws_launch_template.this.network_interfaces).associate_public_ip_address
    root_volume_encrypted       = one(one(aws_launch_template.this.block_device_mappings).ebs).encrypted
  }
}

output "capacity_provider" {
  description = "The capacity provider's name and managed settings."
  value = {
    name                           = aws_ecs_capacity_provider.this.name
    managed_termination_protection = one(aws_ecs_capacity_provider.this.auto_scaling_group_provider).managed_termination_protection
    managed_draining               = one(aws_ecs_capacity_provider.this.auto_scaling_group_provider).managed_draining
    managed_scaling                = one(one(aws_ecs_capacity_provider.this.auto_scaling_group_provider).managed_scaling).status
  }
}
