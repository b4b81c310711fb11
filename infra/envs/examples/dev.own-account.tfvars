# dev in its own account (111111111111): merge into infra/envs/dev.tfvars.

# Alone in the account: drop `account_environments` (default []), so the boundary names no
# other environment. It still denies IAM outside `rdeploy-dev-*` and anything tagged with
# another Environment.
account_environments = []

# The account's own GitHub OIDC provider.
create_github_oidc_provider = true

# prod (222222222222) copies images out of dev's repository by digest: the repository policy
# grants that account's deploy role the pull.
ecr_pull_account_ids = ["222222222222"]
