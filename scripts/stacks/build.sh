#!/usr/bin/env bash
# scripts/stacks/build.sh SUITE — builds (or reuses) the Debian SUITE root the stack tests run in.
#
# debootstrap --variant=minbase from this machine's Debian mirror, then the suite's own Docker,
# containerd, runc, CRIU, Node.js and the tools the tests call. Built in a temp folder beside the
# cache and renamed into place: a root in the cache is always complete. Its stamp
# (/etc/extmount-stack) records this script's version, the mirror and the package list; a root
# whose stamp differs is rebuilt, otherwise it is reused. Prints the root's path on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

# Bump when the build steps change (a changed package list rebuilds by itself).
STACK_VERSION=1

suite=${1:-}
check_suite "$suite"
require_root

# What the suite's tests and runtime need: dockerd/containerd/runc/CRIU under test, Node.js and npm
# to build and run the suite, and the commands the tests call (sh, mount, umount, unshare, nsenter,
# setsid, mknod, grep, xargs, find, sort, tar, docker, pivot_root).
packages=(docker.io containerd runc criu busybox-static nodejs npm ca-certificates util-linux mount
  iptables tar procps findutils grep coreutils)
# Installed where the suite has them: sid's docker.io no longer ships the `docker` command, and
# pivot_root moved to util-linux-extra.
optional=(docker-cli util-linux-extra)
# For the Podman tests (test/integration/podman-runtime.test.ts): trixie's Podman 5.4, sid's 5.8; and
# crun behind the wrapper (runtime-crun.test.ts): CRIU runs ip(8) to dump and restore a network namespace
# crun does not declare external (runc declares Docker's as external), hence iproute2.
# zstd: `extmount restore --import` reads Podman's zstd archives through it (podman-import.test.ts).
# gcc, libc6-dev: the live migration test builds its static memory workload (test/fixtures/live/memclock.c).
# openssl (migrate --live makes its page server's TLS certificate with it) comes with ca-certificates.
# The CRI test bed (test/integration/cri-*.test.ts; sid only: its containerd 2.1 has CRI checkpoint and
# restore): a loopback registry, CNI plugins, checkpointctl to read the archives, and the CRI proto.
extra=(podman crun conmon libcriu2 iproute2 zstd gcc libc6-dev
  docker-registry containernetworking-plugins checkpointctl golang-github-kubernetes-cri-api-dev)

mirror=$(debian_mirror)
root=$(stack_root "$suite")
stamp=$(printf 'version=%s\nsuite=%s\nmirror=%s\npackages=%s\noptional=%s\nextra=%s\n' \
  "$STACK_VERSION" "$suite" "$mirror" "${packages[*]}" "${optional[*]}" "${extra[*]}")

mkdir -p "$STACKS_CACHE"
exec 9>"$STACKS_CACHE/.$suite.lock"
flock 9

if [ -f "$root/etc/extmount-stack" ] && [ "$(cat "$root/etc/extmount-stack")" = "$stamp" ]; then
  log "reusing $root"
  printf '%s\n' "$root"
  exit 0
fi

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# Leftovers of an interrupted build (we hold the lock: nobody else is building this suite).
remove_leftovers "$STACKS_CACHE/.$suite"

new=$(mktemp -d "$STACKS_CACHE/.$suite.build.XXXXXX")
started=$(date +%s)
log "debootstrap $suite from $mirror into $new"
debootstrap --variant=minbase "$suite" "$new" "$mirror" >"$new.debootstrap.log" 2>&1 || {
  tail -n 20 "$new.debootstrap.log" >&2; die "debootstrap failed (log: $new.debootstrap.log)"; }
rm -f "$new.debootstrap.log"

# The machine's clock is past the Release files' Valid-Until; no daemon may start from a postinst.
printf 'Acquire::Check-Valid-Until "false";\n' >"$new/etc/apt/apt.conf.d/99extmount"
printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
chmod 755 "$new/usr/sbin/policy-rc.d"
# The machine's extra CA certificates (without them npm fails with SELF_SIGNED_CERT_IN_CHAIN).
mkdir -p "$new/usr/local/share/ca-certificates"
for crt in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$crt" ] && cp "$crt" "$new/usr/local/share/ca-certificates/"
done

# apt and the postinsts run chrooted in a private mount namespace: its proc/sys/dev mounts die with it.
# shellcheck disable=SC2016
inroot='
set -euo pipefail
root=$1; shift
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"
exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive "$@"
'
in_new() { unshare -m --propagation private bash -c "$inroot" bash "$new" "$@"; }

in_new apt-get update -qq
have=()
for p in "${optional[@]}" "${extra[@]}"; do
  # a candidate version, not only a name other packages mention
  # (output kept first: grep -q leaving early would make a pipefail pipeline fail with SIGPIPE)
  policy=$(in_new apt-cache policy "$p" 2>/dev/null || true)
  if grep -q 'Candidate: [^(]' <<<"$policy"; then have+=("$p"); fi
done
want=("${packages[@]}")
for p in "${have[@]}"; do
  case " ${extra[*]} " in *" $p "*) ;; *) want+=("$p") ;; esac
done
log "installing ${want[*]}"
in_new apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
extras=()
for p in "${have[@]}"; do case " ${extra[*]} " in *" $p "*) extras+=("$p") ;; esac; done
if [ ${#extras[@]} -gt 0 ]; then
  log "installing ${extras[*]} (optional)"
  in_new apt-get install -y -qq --no-install-recommends "${extras[@]}" >/dev/null ||
    log "could not install ${extras[*]}; the stack is built without them"
fi
in_new update-ca-certificates >/dev/null
in_new apt-get clean

for cmd in sh bash mount umount unshare nsenter setsid mknod pivot_root grep xargs find sort tar \
  dockerd containerd runc criu docker node npm busybox iptables ps; do
  in_new sh -c 'command -v "$1" >/dev/null' sh "$cmd" || die "$suite root has no $cmd"
done
mkdir -p "$new/.oldroot" "$new${BUSYBOX_DIR}"
in_new dpkg-query -W -f '${Package} ${Version}\n' >"$new/etc/extmount-stack.packages"
printf '%s\n' "$stamp" >"$new/etc/extmount-stack"

move_into_place "$new" "$root" "$STACKS_CACHE/.$suite"
log "built $root in $(( $(date +%s) - started )) s"
printf '%s\n' "$root"
