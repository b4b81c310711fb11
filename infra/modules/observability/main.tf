locals {
  t = var.thresholds

  create_key = var.notifications.create_topic && var.notifications.kms_key_id == null

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

  # One map drives the threshold alarms so they share naming, actions and missing-data handling.
  # Request-driven metrics are absent when there is no traffic: missing data is "fine" here
  # (the two "nothing serves" alarms below treat it as breaching).
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

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# The topic is encrypted with a customer-managed key because CloudWatch alarms cannot publish
# to a topic under the AWS-managed aws/sns key (its policy cannot grant cloudwatch.amazonaws.com):
# alarms would be dropped silently. This key's policy lets CloudWatch use it.
data "aws_iam_policy_document" "alarm_key" {
  # A key policy's "*" resource means this key only; the account statement is AWS's default key
  # policy (IAM decides), CloudWatch's is limited to this account by aws:SourceAccount.
  # checkov:skip=CKV_AWS_111:key policy: "*" is this key, see above
  # checkov:skip=CKV_AWS_356:key policy: "*" is this key, see above
  # checkov:skip=CKV_AWS_109:key policy: the account root statement is AWS's default key policy
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchPublishesAlarms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  count = local.create_key ? 1 : 0

  description             = "${var.name} alarm topic (CloudWatch may publish)"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.alarm_key.json

  tags = var.tags
}

resource "aws_kms_alias" "alarms" {
  count = local.create_key ? 1 : 0

  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms[0].key_id
}

resource "aws_sns_topic" "alarms" {
  count = var.notifications.create_topic ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = local.create_key ? aws_kms_key.alarms[0].arn : var.notifications.kms_key_id

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

################################################################################
# "Nothing serves" alarms: missing data is breaching here. A service with zero tasks, or a
# target group with no registered target, reports no data at all; it must not stay silent.
################################################################################

resource "aws_cloudwatch_metric_alarm" "no_healthy_targets" {
  alarm_name          = "${var.name}-no-healthy-targets"
  alarm_description   = "No target of the app's target group passes the /health check: the ALB answers 503"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  statistic           = "Minimum"
  dimensions          = local.tg_dimensions
  period              = local.t.period_seconds
  evaluation_periods  = local.t.nothing_serves_periods
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = var.tags
}

# Needs Container Insights on the cluster (core layer: container_insights = "enabled").
resource "aws_cloudwatch_metric_alarm" "tasks_below_desired" {
  alarm_name          = "${var.name}-tasks-below-desired"
  alarm_description   = "The service runs fewer tasks than it wants (crash loop, failed placement, failed image pull)"
  evaluation_periods  = local.t.tasks_below_desired_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "breaching"

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "Desired minus running tasks"
    return_data = true
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = local.ecs_dimensions
      period      = local.t.period_seconds
      stat        = "Maximum"
    }
  }

  metric_query {
    id = "running"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = local.ecs_dimensions
      period      = local.t.period_seconds
      stat        = "Minimum"
    }
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = var.tags
}

################################################################################
# Deployment alarms: the ECS service names these two (deployment_alarm_names) in its
# `alarms { enable = true, rollback = true }`, so a release whose /health passes but whose API
# fails is rolled back by ECS. They read only the ALB's target-group metrics, never the ECS
# service: the service refers to them, so they must not refer back (a dependency cycle).
#
# target-5xx: a count, for a high-traffic release that fails a part of its requests.
# error-rate: 5xx as a share of requests, for a low-traffic release whose count never reaches
# the target-5xx threshold. A share of ALB metrics rather than a metric filter on the app's
# access-log lines: the access log is configurable (ACCESS_LOG=off logs nothing, and a filter
# that never matches is an alarm that can never fire, with nothing to show it), while the ALB
# counts every request the app answered. Below `error_rate_min_requests` per period the rate
# reads 0: one failed request out of two is noise, not a verdict.
################################################################################

moved {
  from = aws_cloudwatch_metric_alarm.this["target-5xx"]
  to   = aws_cloudwatch_metric_alarm.target_5xx
}

resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  alarm_name          = "${var.name}-target-5xx"
  alarm_description   = "The app answered 5xx (also a deployment alarm: ECS rolls a deployment back on it)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  statistic           = "Sum"
  dimensions          = local.tg_dimensions
  period              = local.t.period_seconds
  evaluation_periods  = local.t.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.t.target_5xx_count
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${var.name}-error-rate"
  alarm_description   = "More than ${local.t.error_rate_percent} % of the app's answers are 5xx (also a deployment alarm: ECS rolls a deployment back on it)"
  evaluation_periods  = local.t.error_rate_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.t.error_rate_percent
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "rate"
    expression  = "IF(requests >= ${local.t.error_rate_min_requests}, 100 * FILL(errors, 0) / requests, 0)"
    label       = "Target 5xx, % of requests"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.tg_dimensions
      period      = local.t.period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.tg_dimensions
      period      = local.t.period_seconds
      stat        = "Sum"
    }
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = var.tags
}
