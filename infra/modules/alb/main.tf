locals {
  https_enabled = var.certificate_arn != null || var.domain != null
  # The listener waits for DNS validation when the module issues the certificate itself.
  certificate_arn = var.domain != null ? aws_acm_certificate_validation.this[0].certificate_arn : var.certificate_arn
}

################################################################################
# TLS from a domain: ACM certificate validated through Route 53, alias record to the ALB
################################################################################

data "aws_route53_zone" "this" {
  count = var.domain != null ? 1 : 0

  name         = var.domain.zone_name
  private_zone = false
}

resource "aws_acm_certificate" "this" {
  count = var.domain != null ? 1 : 0

  domain_name       = var.domain.name
  validation_method = "DNS"

  tags = merge(var.tags, { Name = var.domain.name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = var.domain == null ? {} : {
    for o in aws_acm_certificate.this[0].domain_validation_options : o.domain_name => o
  }

  zone_id         = data.aws_route53_zone.this[0].zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count = var.domain != null ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

resource "aws_route53_record" "alias" {
  count = var.domain != null ? 1 : 0

  zone_id = data.aws_route53_zone.this[0].zone_id
  name    = var.domain.name
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}

################################################################################
# Security group: 80/443 in from the internet, only the app port out to the VPC
################################################################################

# name_prefix: a replacement (create_before_destroy) gets a new name instead of failing with
# InvalidGroup.Duplicate. The Name tag keeps the convention.
resource "aws_security_group" "this" {
  name_prefix = "${var.name}-alb-"
  description = "Internet-facing ALB of ${var.name}: HTTP/HTTPS in, app port out to the VPC"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  for_each = toset(var.ingress_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "HTTP (redirected to HTTPS when a certificate is configured)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  for_each = toset(var.ingress_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value

  tags = var.tags
}

# Egress by VPC CIDR rather than by the app security group: the app SG references this one,
# and referencing it back would create a dependency cycle between the two modules.
resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id = aws_security_group.this.id
  description       = "Forward to targets and health-check them"
  ip_protocol       = "tcp"
  from_port         = var.target_group.port
  to_port           = var.target_group.port
  cidr_ipv4         = var.vpc_cidr_block

  tags = var.tags
}

################################################################################
# Load balancer
################################################################################

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_76:the WAF carries KnownBadInputs (Log4Shell); AnonymousIpList would block every VPN and Tor reader of a public guestbook
  name               = "${var.name}-alb"
  internal           = false
  load_balancer_type = "application"
  security_groups    = [aws_security_group.this.id]
  subnets            = var.subnet_ids

  # Requests with header names that are not valid HTTP are dropped instead of being passed to
  # the app (request-smuggling hardening).
  drop_invalid_header_fields = true
  # The app trusts exactly one proxy hop (TRUSTED_PROXY_HOPS=1): the ALB must append the
  # client's address to X-Forwarded-For, never pass a client-supplied header through as is.
  xff_header_processing_mode = "append"
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = var.idle_timeout

  dynamic "access_logs" {
    for_each = local.access_logs == null ? [] : [local.access_logs] # access_logs.tf

    content {
      enabled = true
      bucket  = access_logs.value.bucket
      prefix  = access_logs.value.prefix
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-alb" })
}

# name_prefix + create_before_destroy: changing the port, protocol or target type replaces the
# target group; a fixed name would make the new one collide (ResourceInUse) with the old one,
# which the listener still uses. The Name tag keeps the convention.
resource "aws_lb_target_group" "app" {
  name_prefix = "app-"
  target_type = "ip"
  protocol    = "HTTP"
  port        = var.target_group.port
  vpc_id      = var.vpc_id

  # Short drain: the app finishes in-flight requests on SIGTERM well inside 30 s, and the
  # default 300 s would make every rolling deploy take minutes longer.
  deregistration_delay = var.target_group.deregistration_delay

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.target_group.health_check.path
    matcher             = var.target_group.health_check.matcher
    interval            = var.target_group.health_check.interval
    timeout             = var.target_group.health_check.timeout
    healthy_threshold   = var.target_group.health_check.healthy_threshold
    unhealthy_threshold = var.target_group.health_check.unhealthy_threshold
  }

  tags = merge(var.tags, { Name = "${var.name}-app" })

  lifecycle {
    create_before_destroy = true
  }
}

################################################################################
# Listeners
################################################################################

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https_enabled ? "redirect" : "forward"
    target_group_arn = local.https_enabled ? null : aws_lb_target_group.app.arn

    dynamic "redirect" {
      for_each = local.https_enabled ? [1] : []

      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-http" })
}

resource "aws_lb_listener" "https" {
  count = local.https_enabled ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = local.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }

  tags = merge(var.tags, { Name = "${var.name}-https" })
}

################################################################################
# Probes are not public
################################################################################

# The app's probes (`/health`, `/ready`) are for the ALB's own health checks and the container's,
# which reach the targets directly (target group health checks do not pass through listeners).
# From outside, the listener that forwards traffic answers them with a fixed 404 before any
# target sees the request: a probe flood from the internet costs the app nothing. On the HTTP
# listener of an HTTPS ALB everything is redirected anyway, so the rule sits on the forwarding one.
resource "aws_lb_listener_rule" "private_paths" {
  count = length(var.private_paths) > 0 ? 1 : 0

  listener_arn = local.https_enabled ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
  priority     = 1

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "application/json"
      status_code  = "404"
      message_body = jsonencode({ error = { code = "not_found", message = "no such path" } })
    }
  }

  condition {
    path_pattern {
      values = var.private_paths
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-private-paths" })
}
