# shellcheck shell=bash
# This project's machines are offline: where their Terraform provider mirror and RustSec
# advisory database are. Sourced by .ci/run (and by .ci/clean-machine.sh, which copies both
# into its root); a variable already set wins. Run from the repository root.

# Terraform providers: these machines have no registry access, only a filesystem mirror.
if [ -z "${XTASK_TF_MIRROR:-}" ]; then
  # Skip working copies and scratch space: only a mirror installed on the machine counts.
  mirror=$(find / -xdev \( -path /proc -o -path /tmp -o -path /work -o -path /var/tmp -o -path "$HOME" \
    -o -name .terraform -o -name target \) -prune -o -type d -name registry.terraform.io -print 2>/dev/null | head -n 1 || true)
  if [ -n "$mirror" ]; then
    XTASK_TF_MIRROR=$(dirname "$mirror")
    export XTASK_TF_MIRROR
  fi
fi

# The RustSec advisory database snapshot beside the clone (no network to fetch it).
if [ -z "${XTASK_ADVISORY_DB:-}" ] && [ -d ../shared/rustsec-advisory-db ]; then
  XTASK_ADVISORY_DB="$(cd ../shared/rustsec-advisory-db && pwd)"
  export XTASK_ADVISORY_DB
fi
