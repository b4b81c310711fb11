################################################################################
# WAF (optional): a per-IP rate limit counted across all tasks, and AWS's common rule set
################################################################################

# The app's own limits are per task; this one is counted at the edge, for every task at once.
# Cost (eu-west-1 list prices, 2026): $5/month per web ACL + $1 per rule (3 rules; the managed
# common rule set carries no extra subscription) + $0.60 per million requests: about $8/month
# plus $0.60 per million requests (docs/PERFORMANCE.md, "Hostile traffic").
# WAF request logging (CKV2_AWS_31) needs a delivery destination and its own retention and
# cost; the ALB's access logs (prod) already record every request, so it stays off for now.
resource "aws_wafv2_web_acl" "this" {
  #checkov:skip=CKV2_AWS_31:the ALB's access logs record every request; WAF logging is a follow-up
  count = var.waf == null ? 0 : 1

  name  = "${var.name}-waf"
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-per-ip"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit                 = var.waf.rate_limit_per_5_minutes
        aggregate_key_type    = "IP"
        evaluation_window_sec = 300
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-per-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-common"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-common"
      sampled_requests_enabled   = true
    }
  }

  # Log4Shell and other known-bad request patterns (CKV_AWS_192, CKV2_AWS_76).
  rule {
    name     = "aws-known-bad-inputs"
    priority = 3

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-waf"
    sampled_requests_enabled   = true
  }

  tags = merge(var.tags, { Name = "${var.name}-waf" })
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf == null ? 0 : 1

  resource_arn = aws_lb.this.arn
  web_acl_arn  = aws_wafv2_web_acl.this[0].arn
}
