################################################################################
# Access logs: an S3 bucket of this module's own (create_access_logs_bucket), with a lifecycle
# rule, written only by the region's ELB log delivery. Kept in this file, apart from the
# listeners and rules in main.tf.
################################################################################

data "aws_caller_identity" "logs" {
  count = var.create_access_logs_bucket ? 1 : 0
}

data "aws_partition" "logs" {
  count = var.create_access_logs_bucket ? 1 : 0
}

# The ELB account of this region (regions opened before August 2022 deliver logs as that
# account; newer ones as the log delivery service principal: the policy allows both).
data "aws_elb_service_account" "this" {
  count = var.create_access_logs_bucket ? 1 : 0
}

locals {
  access_logs_prefix = var.name
  # What the load balancer ships to: this module's bucket, or the caller's existing one. The
  # bucket is named through its policy, so logging is switched on only once the policy allows it
  # (AWS checks that it may write when access logs are enabled).
  access_logs = var.create_access_logs_bucket ? {
    bucket = aws_s3_bucket_policy.access_logs[0].bucket
    prefix = local.access_logs_prefix
  } : var.access_logs
}

resource "aws_s3_bucket" "access_logs" {
  count = var.create_access_logs_bucket ? 1 : 0
  # checkov:skip=CKV_AWS_21:write-once log objects expired by the lifecycle rule; versions would only keep expired logs
  # checkov:skip=CKV_AWS_145:ALB access logs support only SSE-S3 (AES256) on the target bucket, not KMS

  bucket = "${var.name}-alb-logs"
  # With deletion protection off (dev, the emulator) the environment can be destroyed whole.
  force_destroy = !var.deletion_protection

  tags = merge(var.tags, { Name = "${var.name}-alb-logs" })
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  count = var.create_access_logs_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.access_logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  count = var.create_access_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# ALB access logs support only SSE-S3 (not KMS) on the target bucket.
resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  count = var.create_access_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  count = var.create_access_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {
      prefix = ""
    }

    expiration {
      days = var.access_logs_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "access_logs" {
  count = var.create_access_logs_bucket ? 1 : 0

  statement {
    sid       = "ElbAccountDelivers"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs[0].arn}/${local.access_logs_prefix}/AWSLogs/${data.aws_caller_identity.logs[0].account_id}/*"]

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this[0].arn]
    }
  }

  statement {
    sid       = "LogDeliveryServiceDelivers"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs[0].arn}/${local.access_logs_prefix}/AWSLogs/${data.aws_caller_identity.logs[0].account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.access_logs[0].arn,
      "${aws_s3_bucket.access_logs[0].arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  count = var.create_access_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  policy = data.aws_iam_policy_document.access_logs[0].json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
