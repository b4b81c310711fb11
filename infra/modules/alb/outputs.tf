output "arn" {
  description = "ARN of the ALB."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix of the ALB (the `LoadBalancer` dimension of its CloudWatch metrics)."
  value       = aws_lb.this.arn_suffix
}

output "name" {
  description = "Name of the ALB."
  value       = aws_lb.this.name
}

output "dns_name" {
  description = "Public DNS name of the ALB."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 hosted zone of the ALB, for alias records."
  value       = aws_lb.this.zone_id
}

output "url" {
  description = "Base URL of the app: https://<domain> with a domain, https://<ALB DNS name> with a certificate only, else http://<ALB DNS name>."
  value       = var.domain != null ? "https://${var.domain.name}" : "${local.https_enabled ? "https" : "http"}://${aws_lb.this.dns_name}"
}

output "certificate_arn" {
  description = "Certificate of the HTTPS listener (issued here with `domain`, or the one passed in), or null."
  value       = local.https_enabled ? local.certificate_arn : null
}

output "security_group_id" {
  description = "Security group of the ALB; the app security group admits traffic from it only."
  value       = aws_security_group.this.id
}

output "target_group_arn" {
  description = "ARN of the app target group (type ip)."
  value       = aws_lb_target_group.app.arn
  # ECS refuses to attach a service to a target group that no listener uses yet; waiting for
  # the listeners here spares every caller a depends_on.
  depends_on = [aws_lb_listener.http, aws_lb_listener.https]
}

output "target_group_name" {
  description = "Name of the app target group."
  value       = aws_lb_target_group.app.name
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group (the `TargetGroup` dimension of its CloudWatch metrics)."
  value       = aws_lb_target_group.app.arn_suffix
}

output "http_listener_arn" {
  description = "ARN of the port-80 listener."
  value       = aws_lb_listener.http.arn
}

output "https_listener_arn" {
  description = "ARN of the port-443 listener, or null without a certificate."
  value       = try(aws_lb_listener.https[0].arn, null)
}

output "access_logs_bucket" {
  description = "Bucket the access logs go to (null: off)."
  value       = try(local.access_logs.bucket, null)
}

output "private_paths" {
  description = "The listener rule that answers the private paths with a fixed 404 from outside: `{ listener, paths, status_code }` (`listener`: `http` or `https`, the one that forwards), or null when there are none."
  value = try({
    listener    = local.https_enabled ? "https" : "http"
    paths       = one(aws_lb_listener_rule.private_paths[0].condition).path_pattern[0].values
    status_code = one(aws_lb_listener_rule.private_paths[0].action).fixed_response[0].status_code
  }, null)
}

output "waf" {
  description = "The WAF on the ALB: `{ name, rules, rate_limit_per_5_minutes }`, or null without one."
  value = try({
    name                     = aws_wafv2_web_acl.this[0].name
    rules                    = sort([for r in aws_wafv2_web_acl.this[0].rule : r.name])
    rate_limit_per_5_minutes = var.waf.rate_limit_per_5_minutes
  }, null)
}
