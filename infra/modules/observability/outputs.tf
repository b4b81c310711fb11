output "alarm_arns" {
  description = "Alarm ARNs by short name (alb-5xx, target-5xx, error-rate, unhealthy-targets, p99-latency, ecs-cpu, ecs-memory, no-healthy-targets, tasks-below-desired)."
  value = merge({ for k, a in aws_cloudwatch_metric_alarm.this : k => a.arn }, {
    target-5xx          = aws_cloudwatch_metric_alarm.target_5xx.arn
    error-rate          = aws_cloudwatch_metric_alarm.error_rate.arn
    no-healthy-targets  = aws_cloudwatch_metric_alarm.no_healthy_targets.arn
    tasks-below-desired = aws_cloudwatch_metric_alarm.tasks_below_desired.arn
  })
}

output "alarm_names" {
  description = "Alarm names by short name."
  value = merge({ for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name }, {
    target-5xx          = aws_cloudwatch_metric_alarm.target_5xx.alarm_name
    error-rate          = aws_cloudwatch_metric_alarm.error_rate.alarm_name
    no-healthy-targets  = aws_cloudwatch_metric_alarm.no_healthy_targets.alarm_name
    tasks-below-desired = aws_cloudwatch_metric_alarm.tasks_below_desired.alarm_name
  })
}

output "kms_key_arn" {
  description = "KMS key of the alarm topic (created here or passed in), or null without a topic."
  value       = var.notifications.create_topic ? (local.create_key ? aws_kms_key.alarms[0].arn : var.notifications.kms_key_id) : null
}

output "sns_topic_arn" {
  description = "ARN of the alarm topic, or null when not created."
  value       = try(aws_sns_topic.alarms[0].arn, null)
}

output "deployment_alarm_names" {
  description = "The alarms an ECS service watches during a deployment, rolling back when one fires (target-5xx, error-rate). They depend on the ALB only, so a service may refer to them."
  value       = [aws_cloudwatch_metric_alarm.target_5xx.alarm_name, aws_cloudwatch_metric_alarm.error_rate.alarm_name]
}

output "alarm_actions" {
  description = "What an alarm of this stack notifies (the topic, when created, plus extra_alarm_actions): for alarms defined outside this module."
  value       = local.alarm_actions
}
