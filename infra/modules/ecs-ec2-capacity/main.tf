# EC2 capacity for an ECS cluster: an Auto Scaling group of ECS-optimized Amazon Linux 2023
# instances in private subnets, wrapped in a capacity provider with managed scaling, managed
# termination protection and managed draining, and attached to the cluster as its default
# strategy. Tasks keep awsvpc networking: every task gets its own ENI and the service's own
# security group, so the instances themselves accept no inbound traffic at all.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# The provider's default_tags reach neither the tags an ASG propagates to its instances nor a
# launch template's tag specifications: copy them there explicitly.
data "aws_default_tags" "current" {}

# The public parameter AWS updates with every ECS-optimized AMI release; never a hard-coded id.
# Read at plan time: a new release shows up in the plan as a new launch template version, and
# the ASG's instance refresh then replaces the instances (draining their tasks first).
data "aws_ssm_parameter" "ami" {
  name = var.instances.ami_ssm_parameter
}

locals {
  ec2_name      = "${var.name}-ec2"
  instance_tags = merge(data.aws_default_tags.current.tags, var.tags, { Name = local.ec2_name })

  container_instances_arn = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:container-instance/${var.cluster.name}/*"

  # ECS agent settings. ECS_AWSVPC_BLOCK_IMDS: awsvpc tasks cannot reach the instance metadata
  # service (so not the instance role's credentials); they get their own task role credentials
  # from the agent at 169.254.170.2.
  user_data = <<-EOT
    #!/bin/bash
    cat >> /etc/ecs/ecs.config <<'CONFIG'
    ECS_CLUSTER=${var.cluster.name}
    ECS_AWSVPC_BLOCK_IMDS=true
    ECS_ENABLE_TASK_IAM_ROLE=true
    CONFIG
  EOT
}

################################################################################
# Instance role: the ECS agent for this cluster, plus Session Manager. No image pulls or log
# writes here: the task execution role does those for awsvpc tasks.
################################################################################

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name               = local.ec2_name
  description        = "ECS container instances of ${var.cluster.name}: ECS agent + Session Manager"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json

  tags = var.tags
}

# Written out instead of AmazonEC2ContainerServiceforEC2Role, which also allows creating
# clusters, pulling from every ECR repository and writing to every log group of the account.
data "aws_iam_policy_document" "ecs_agent" {
  statement {
    sid       = "DiscoverPollEndpoint"
    actions   = ["ecs:DiscoverPollEndpoint"]
    resources = ["*"] # DiscoverPollEndpoint has no resource-level permissions.
  }

  # Split by the resource type each action takes in AWS's Service Authorization Reference
  # (xtask/src/permissions/reference.rs checks it): the cluster for these ...
  statement {
    sid = "AgentInThisCluster"
    actions = [
      "ecs:DeregisterContainerInstance",
      "ecs:RegisterContainerInstance",
      "ecs:SubmitAttachmentStateChanges",
      "ecs:SubmitContainerStateChange",
      "ecs:SubmitTaskStateChange",
    ]
    resources = [var.cluster.arn]
  }

  # ... and this cluster's container instances for these.
  statement {
    sid = "AgentOnItsInstances"
    actions = [
      "ecs:Poll",
      "ecs:StartTelemetrySession",
      "ecs:UpdateContainerInstancesState",
    ]
    resources = [local.container_instances_arn]
  }

  statement {
    sid       = "TagOwnRegistration"
    actions   = ["ecs:TagResource"]
    resources = [local.container_instances_arn]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterContainerInstance"]
    }
  }
}

resource "aws_iam_role_policy" "ecs_agent" {
  name   = "ecs-agent"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.ecs_agent.json
}

# Session Manager is the only way onto an instance (no SSH, no key pair, no inbound port).
resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "instance" {
  name = local.ec2_name
  role = aws_iam_role.instance.name

  tags = var.tags
}

################################################################################
# Security group of the instances' primary ENI: nothing in, HTTPS out (ECS, SSM, ECR endpoints
# through NAT). Task traffic uses the tasks' own ENIs and the service's security group.
################################################################################

resource "aws_security_group" "instances" {
  name_prefix = "${local.ec2_name}-"
  description = "ECS container instances of ${var.cluster.name}: no inbound, HTTPS out"
  vpc_id      = var.network.vpc_id

  tags = merge(var.tags, { Name = local.ec2_name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.instances.id
  description       = "HTTPS to the ECS, SSM and ECR endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = var.tags
}

################################################################################
# Launch template
################################################################################

resource "aws_launch_template" "this" {
  name                   = local.ec2_name
  description            = "ECS-optimized Amazon Linux 2023 for ${var.cluster.name}"
  image_id               = data.aws_ssm_parameter.ami.insecure_value
  instance_type          = var.instances.instance_type
  update_default_version = true
  ebs_optimized          = true
  user_data              = base64encode(local.user_data)

  # No key_name: there is no SSH; Session Manager is the way in.

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }

  network_interfaces {
    device_index                = 0
    associate_public_ip_address = false
    delete_on_termination       = true
    security_groups             = [aws_security_group.instances.id]
  }

  # IMDSv2 only, hop limit 1: the ECS and SSM agents run on the host network and reach IMDS in
  # one hop. A container behind a bridge (docker0) needs a second hop, so 1 keeps any such
  # container away from the instance role's credentials; awsvpc tasks are blocked separately
  # (ECS_AWSVPC_BLOCK_IMDS) and use their task role.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda" # the root device of the ECS-optimized AL2023 AMI

    ebs {
      encrypted             = true
      volume_type           = "gp3"
      volume_size           = var.instances.root_volume_gib
      delete_on_termination = true
    }
  }

  # 1-minute CPU metrics, so the ASG's CPU target tracking reacts within minutes.
  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = local.instance_tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.instance_tags
  }

  tags = merge(var.tags, { Name = local.ec2_name })
}

################################################################################
# Auto Scaling group
################################################################################

resource "aws_autoscaling_group" "this" {
  name                = local.ec2_name
  vpc_zone_identifier = var.network.subnet_ids
  min_size            = var.instances.min_size
  max_size            = var.instances.max_size
  desired_capacity    = var.instances.desired_capacity

  # Managed termination protection requires it: ECS lifts the protection only from instances
  # that run no task, so a scale-in never picks an instance that is serving.
  protect_from_scale_in = true

  health_check_type         = "EC2"
  health_check_grace_period = 120

  # Destroy must not wait on instances that are still protected from scale-in.
  force_delete = true

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # A new launch template version (new AMI, instance type, user data) replaces the instances:
  # launch the new one first (max 200 %), never drop below the current capacity (min 100 %),
  # include protected instances (they are drained by ECS through its managed-draining hook).
  instance_refresh {
    strategy = "Rolling"

    preferences {
      min_healthy_percentage       = 100
      max_healthy_percentage       = 200
      instance_warmup              = var.scaling.instance_warmup_seconds
      scale_in_protected_instances = "Refresh"
      standby_instances            = "Terminate"
      skip_matching                = true
    }
  }

  enabled_metrics = [
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupMaxSize",
    "GroupMinSize",
    "GroupTotalInstances",
  ]

  # AmazonECSManaged: ECS adds it when managed scaling is on; declaring it avoids a diff.
  dynamic "tag" {
    for_each = merge(local.instance_tags, { AmazonECSManaged = "true" })

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  # Managed scaling moves the desired capacity; tfvars only seed it.
  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

# Average CPU of the group at the target (50 % by default), as the ASGs this replaces had. It
# adds headroom when instances run hot; managed scaling adds instances when tasks cannot be
# placed. Scale-in only happens when both agree, and only on instances without tasks.
resource "aws_autoscaling_policy" "cpu" {
  name                      = "${local.ec2_name}-cpu-${var.scaling.cpu_target_percent}"
  autoscaling_group_name    = aws_autoscaling_group.this.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = var.scaling.instance_warmup_seconds

  target_tracking_configuration {
    target_value = var.scaling.cpu_target_percent

    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
  }
}

################################################################################
# Capacity provider, attached to the cluster as its default strategy
################################################################################

resource "aws_ecs_capacity_provider" "this" {
  name = local.ec2_name

  auto_scaling_group_provider {
    auto_scaling_group_arn = aws_autoscaling_group.this.arn

    # Instances with running tasks stay protected from scale-in...
    managed_termination_protection = "ENABLED"
    # ...and any instance that is terminated anyway (scale-in, instance refresh) is drained
    # first: ECS puts a lifecycle hook on the group, stops the tasks gracefully (deregistered
    # from the target group, SIGTERM, stopTimeout) and replaces them elsewhere.
    managed_draining = "ENABLED"

    managed_scaling {
      status                    = "ENABLED"
      target_capacity           = var.scaling.target_capacity_percent
      minimum_scaling_step_size = 1
      maximum_scaling_step_size = var.scaling.maximum_scaling_step_size
      instance_warmup_period    = var.scaling.instance_warmup_seconds
    }
  }

  tags = merge(var.tags, { Name = local.ec2_name })
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = var.cluster.name
  capacity_providers = [aws_ecs_capacity_provider.this.name]

  default_capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.this.name
    weight            = 1
    base              = 0
  }
}
