# prod in its own account (222222222222): merge into infra/envs/prod.tfvars.

account_environments = []

create_github_oidc_provider = true

# `cargo xtask image --promote` copies the digest that ran in dev from dev's account.
image_promoted_from            = "dev"
image_promoted_from_account_id = "111111111111"
