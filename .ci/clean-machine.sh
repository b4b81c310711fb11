#!/usr/bin/env bash
# The clean-machine test of the README's two commands: a Debian root filesystem made by
# debootstrap (no image can be pulled on this project's machines), rustup's toolchain copied in
# from this machine, nothing else, then `cargo run -p app` (until /health answers) and
# `.ci/run` (the machine's offline settings + `cargo xtask ci`), each timed.
#
# Run as root from the repository: .ci/clean-machine.sh [SUITE]   (default: stable)
# It takes ~40+ minutes of both cores (a cold build of everything, twice) and ~10 GB of disk in
# $CLEAN_ROOT (default /var/tmp/rdeploy-clean). Delete that directory afterwards.
# CLEAN_UNTIL=prerequisites stops before the two commands (checks the procedure in minutes);
# CLEAN_UNTIL=command-one stops after the first.
#
# What "nothing else" means here: the README's prerequisites (a C compiler and git, installed with
# apt inside) and, because these machines are offline, what .ci/run points at: the Terraform
# binary, the provider mirror and the RustSec snapshot (terraform has no Debian package). Every
# other system package is installed by `cargo xtask ci` itself: that is what this proves.
set -euo pipefail
suite=${1:-stable}
root=${CLEAN_ROOT:-/var/tmp/rdeploy-clean}
repo=$(cd "$(dirname "$0")/.." && pwd)
toolchain=$(rustup show active-toolchain | cut -d' ' -f1)
log() { printf '\n== %s  %s\n' "$(date +%T)" "$*"; }

command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
if [ ! -x "$root/bin/bash" ]; then
  log "debootstrap $suite into $root"
  debootstrap --variant=minbase "$suite" "$root" http://deb.debian.org/debian
fi

log "rustup's toolchain ($toolchain) and cargo's binaries, nothing from cargo's caches"
mkdir -p "$root/root/.rustup/toolchains" "$root/root/.cargo/bin"
cp -a "$HOME/.rustup/toolchains/$toolchain" "$root/root/.rustup/toolchains/"
cp -a "$HOME/.rustup/settings.toml" "$root/root/.rustup/"
cp -a "$HOME/.cargo/bin/." "$root/root/.cargo/bin/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This machine's network: extra CAs the host trusts (a TLS-intercepting egress proxy here);
# without them cargo cannot reach crates.io from inside.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi

log "the offline settings .ci/run points at (terraform, provider mirror, advisory database)"
# Found as .ci/run finds them: without them the first `cargo audit` fails (no network here).
cd "$repo"
# shellcheck source=.ci/offline-env.sh
source .ci/offline-env.sh
cd - >/dev/null
if [ -z "${XTASK_TF_MIRROR:-}" ] || [ -z "${XTASK_ADVISORY_DB:-}" ]; then
  echo "clean-machine: no provider mirror or advisory database found; set XTASK_TF_MIRROR and XTASK_ADVISORY_DB" >&2
  exit 2
fi
echo "XTASK_TF_MIRROR=$XTASK_TF_MIRROR XTASK_ADVISORY_DB=$XTASK_ADVISORY_DB"
install -m 0755 "$(command -v terraform)" "$root/usr/local/bin/terraform"
mkdir -p "$root/opt/tf-plugins" && cp -a "$XTASK_TF_MIRROR/." "$root/opt/tf-plugins/"
mkdir -p "$root/work/shared"
rm -rf "$root/work/shared/rustsec-advisory-db"
cp -a "$XTASK_ADVISORY_DB" "$root/work/shared/rustsec-advisory-db"

log "a fresh clone of $(git -C "$repo" rev-parse --short HEAD)"
rm -rf "$root/work/rdeploy"
git clone -q "$repo" "$root/work/rdeploy"

# The root a mount point of its own: podman's layer unpacking remounts / private (MS_REC |
# MS_PRIVATE), which fails with EINVAL inside a chroot whose / is a plain directory.
mountpoint -q "$root" || mount --bind "$root" "$root"
# /sys with its submounts (--rbind): runc finds the cgroup hierarchy under /sys/fs/cgroup, and a
# plain bind of /sys leaves that empty ("no cgroup mount found in mountinfo").
for fs in proc dev dev/pts; do
  mountpoint -q "$root/$fs" || mount --bind "/$fs" "$root/$fs"
done
mountpoint -q "$root/sys" || { mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"; }
# On exit: first every process still rooted in the chroot (a test's leftover server keeps /dev
# busy), then the mounts, innermost first. Delete $root only once `mount | grep "$root"` is empty:
# while /dev is bound in, rm -rf would reach the host's /dev.
cleanup() {
  local p
  for p in /proc/[0-9]*; do
    case $(readlink "$p/root" 2>/dev/null) in "$root" | "$root"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;; esac
  done
  sleep 1
  umount -R "$root/sys" 2>/dev/null || true
  findmnt -rn -o TARGET | grep -F "$root/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  umount "$root" 2>/dev/null || true
}
trap cleanup EXIT

# Each step runs the way a container runtime would start it, not in a bare chroot: a mount
# namespace whose root is $root (pivot_root) and a PID namespace with its own /proc. `runc exec`
# (podman exec, podman healthcheck run) called from a chroot cannot find the container's files
# (opencontainers/runc#1499: "stat /app: no such file or directory"), and when the step ends
# the kernel ends every process it left behind (a test's emulator, a container's conmon).
inside() {
  # shellcheck disable=SC2016 # expanded by the namespace's shell
  unshare --mount --pid --fork /bin/sh -ec '
    root=$1
    shift
    mount --make-rprivate /
    cd "$root"
    mkdir -p .host
    pivot_root . .host
    cd /
    mount -t proc proc /proc
    umount -l /.host
    rmdir /.host
    exec "$@"' inside "$root" /usr/bin/env -i HOME=/root TERM=dumb \
    PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    XTASK_TF_MIRROR=${XTASK_TF_MIRROR:+/opt/tf-plugins} \
    /bin/bash -euo pipefail -c "$1"
}

# The chroot shares the host's network namespace. When the host's own podman has left its bridge
# on podman's default subnet (10.88.0.0/16, e.g. cni-podman0), the host's route wins and the
# chroot's containers are unreachable ("no answer on /health"). A subnet of the chroot's own
# avoids that; a real machine has only one podman and needs nothing.
mkdir -p "$root/etc/containers/containers.conf.d"
printf '[network]\ndefault_subnet = "10.99.0.0/16"\n' >"$root/etc/containers/containers.conf.d/40-clean-machine-subnet.conf"

log "the README's prerequisites: a C compiler and git"
inside 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev git ca-certificates curl >/dev/null && update-ca-certificates >/dev/null'

if [ "${CLEAN_UNTIL:-}" = prerequisites ]; then
  inside 'cc --version | head -n 1; git --version; cargo --version; rustc -vV | grep LLVM; command -v python3 podman chromium initdb || true'
  log "stopped before the two commands (CLEAN_UNTIL=prerequisites)"
  exit 0
fi

log "README command one: cargo run -p app, until /health answers"
# shellcheck disable=SC2016 # expanded inside the chroot
inside 'cd /work/rdeploy
  start=$(date +%s)
  PORT=5099 BIND=127.0.0.1 cargo run -p app > /tmp/app.log 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:5099/health; do
    kill -0 "$pid" 2>/dev/null || { cat /tmp/app.log; exit 1; }
    sleep 1
  done
  echo; echo "command one: first 200 after $(( $(date +%s) - start )) s"
  curl -s -o /dev/null -w "guestbook %{http_code}\n" http://127.0.0.1:5099/guestbook
  kill -TERM "$pid"; wait "$pid"'

if [ "${CLEAN_UNTIL:-}" = command-one ]; then
  log "stopped after command one (CLEAN_UNTIL=command-one)"
  exit 0
fi

log "README command two, through .ci/run (offline settings, then cargo xtask ci)"
# shellcheck disable=SC2016 # expanded inside the chroot
inside 'cd /work/rdeploy && start=$(date +%s) && .ci/run && echo "command two: green after $(( $(date +%s) - start )) s"'
