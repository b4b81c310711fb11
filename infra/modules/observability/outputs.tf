output "alarm_arns" {
  description = "Alarm ARNs by short name (alb-5xx, target-5xx, unhealthy-targets, p99-latency, ecs-cpu, ecs-memory)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.arn }
}

output "alarm_names" {
  description = "Alarm names by short name."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name }
}

output "sns_topic_arn" {
  description = "ARN of the alarm topic, or null when not created."
  value       = try(aws_sns_topic.alarms[0].arn, null)
}
