locals {
  t = var.thresholds

  alarm_actions = concat(aws_sns_topic.alarms[*].arn, var.notifications.extra_alarm_actions)

  alb_dimensions = { LoadBalancer = var.alb.arn_suffix }
  tg_dimensions = {
    LoadBalancer = var.alb.arn_suffix
    TargetGroup  = var.alb.target_group_arn_suffix
  }
  ecs_dimensions = {
    ClusterName = var.ecs.cluster_name
    ServiceName = var.ecs.service_name
  }

  # One map drives every alarm so they share naming, actions and missing-data handling.
  # Request-driven metrics are absent when there is no traffic: missing data is "fine".
  alarms = {
    alb-5xx = {
      description = "ALB itself answered 5xx (no healthy target, timeouts, ...)"
      namespace   = "AWS/ApplicationELB"
      metric      = "HTTPCode_ELB_5XX_Count"
      statistic   = "Sum"
      extended    = null
      threshold   = local.t.alb_5xx_count
      dimensions  = local.alb_dimensions
    }
    target-5xx = {
      description = "The app answered 5xx"
      namespace   = "AWS/ApplicationELB"
      metric      = "HTTPCode_Target_5XX_Count"
      statistic   = "Sum"
      extended    = null
      threshold   = local.t.target_5xx_count
      dimensions  = local.tg_dimensions
    }
    unhealthy-targets = {
      description = "Targets failing the /health check"
      namespace   = "AWS/ApplicationELB"
      metric      = "UnHealthyHostCount"
      statistic   = "Maximum"
      extended    = null
      threshold   = local.t.unhealthy_targets
      dimensions  = local.tg_dimensions
    }
    p99-latency = {
      description = "p99 target response time above ${local.t.p99_response_time_seconds} s"
      namespace   = "AWS/ApplicationELB"
      metric      = "TargetResponseTime"
      statistic   = null
      extended    = "p99"
      threshold   = local.t.p99_response_time_seconds
      dimensions  = local.tg_dimensions
    }
    ecs-cpu = {
      description = "Service CPU above ${local.t.ecs_cpu_utilization_percent} %"
      namespace   = "AWS/ECS"
      metric      = "CPUUtilization"
      statistic   = "Average"
      extended    = null
      threshold   = local.t.ecs_cpu_utilization_percent
      dimensions  = local.ecs_dimensions
    }
    ecs-memory = {
      description = "Service memory above ${local.t.ecs_memory_utilization_percent} %"
      namespace   = "AWS/ECS"
      metric      = "MemoryUtilization"
      statistic   = "Average"
      extended    = null
      threshold   = local.t.ecs_memory_utilization_percent
      dimensions  = local.ecs_dimensions
    }
  }
}

resource "aws_sns_topic" "alarms" {
  count = var.notifications.create_topic ? 1 : 0

  name = "${var.name}-alarms"
  # Not encrypted with the AWS-managed aws/sns key on purpose: CloudWatch alarms cannot publish
  # to a topic under that key (its key policy cannot grant cloudwatch.amazonaws.com), so alarms
  # would be dropped silently. Pass a customer-managed key that allows CloudWatch instead.
  kms_master_key_id = var.notifications.kms_key_id

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.notifications.create_topic ? toset(var.notifications.email_endpoints) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  extended_statistic  = each.value.extended
  dimensions          = each.value.dimensions
  period              = local.t.period_seconds
  evaluation_periods  = local.t.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = var.tags
}
