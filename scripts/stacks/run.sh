#!/usr/bin/env bash
# scripts/stacks/run.sh SUITE -- CMD [ARG…] — runs CMD with the SUITE root (build.sh) as `/`.
#
# A private mount namespace and a private PID namespace (unshare -m -p --fork --kill-child): every
# process CMD starts dies with it, and every mount made inside (dockerd's layers, the tests' binds)
# goes with the namespace. A plain chroot is not enough: CRIU refuses a task whose root is not its
# mount namespace's root ("The root task has another root than mntns") and `docker exec` would
# land in the machine's real root; so the root is bound onto itself and pivot_root'ed into, as
# container runtimes do. Inside: a fresh proc, /sys and /dev of the machine (rslave: nothing
# unmounted inside reaches the machine), tmpfs on /run and /tmp, no cgroup2 at
# /sys/fs/cgroup/unified (crun refuses hybrid cgroups), the machine's resolv.conf, and the pinned
# test busybox (scripts/provision.sh) read-only at the same path, and so the Dockerfile test's base
# rootfs tar when EXTMOUNT_IMAGE_BASE names one (scripts/image-base.sh; stacks have no debootstrap).
#
# CMD gets a clean environment: PATH, HOME=/root, LANG, TERM, NODE_EXTRA_CA_CERTS, proxy variables
# if set, plus every EXTMOUNT_* variable of the caller. stdin/stdout/stderr are CMD's. Exit: CMD's.
# Afterwards, cgroups that the stack's engines left empty are removed (no others are touched).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

suite=${1:-}
check_suite "$suite"
shift
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || die "usage: run.sh SUITE -- CMD [ARG…]"
require_root
root=$(stack_root "$suite")
[ -f "$root/etc/extmount-stack" ] || die "no $suite root at $root; run scripts/stacks/build.sh $suite"
[ -x "$BUSYBOX_DIR/busybox" ] || die "no pinned busybox at $BUSYBOX_DIR/busybox; run scripts/provision.sh"

envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
  "TERM=${TERM:-dumb}" NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  "EXTMOUNT_BUSYBOX=$BUSYBOX_DIR/busybox")
for name in $(compgen -e); do
  case $name in
    EXTMOUNT_BUSYBOX) ;;
    EXTMOUNT_*|http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY) envs+=("$name=${!name}") ;;
  esac
done

mkdir -p "$root/.oldroot" "$root$BUSYBOX_DIR"
base_tar=${EXTMOUNT_IMAGE_BASE:-}
if [ -n "$base_tar" ]; then
  case $base_tar in /*) ;; *) die "EXTMOUNT_IMAGE_BASE must be an absolute path: $base_tar" ;; esac
  [ -f "$base_tar" ] || die "EXTMOUNT_IMAGE_BASE=$base_tar is not a file; run scripts/image-base.sh"
  mkdir -p "$root$(dirname "$base_tar")"
  [ -f "$root$base_tar" ] || : >"$root$base_tar"
fi

# The cgroups present before: only folders that appear during the run are candidates for cleanup.
cgroups_before=$(mktemp /tmp/extmount-stack-cgroups.XXXXXX)
trap 'rm -f "$cgroups_before"' EXIT
find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$cgroups_before" || true

# Runs as PID 1 of the new namespaces, still seeing the machine's files until pivot_root.
# shellcheck disable=SC2016
inner='
set -eu
root=$1; busybox=$2; base_tar=$3; shift 3
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
if mountpoint -q "$root/sys/fs/cgroup/unified"; then umount "$root/sys/fs/cgroup/unified"; fi
if [ -f "$root/etc/resolv.conf" ] && [ ! -L "$root/etc/resolv.conf" ] && [ -f /etc/resolv.conf ]; then
  mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
  mount -o remount,bind,ro "$root/etc/resolv.conf"
fi
mount --bind "$busybox" "$root$busybox"
mount -o remount,bind,ro "$root$busybox"
if [ -n "$base_tar" ]; then
  mount --bind "$base_tar" "$root$base_tar"
  mount -o remount,bind,ro "$root$base_tar"
fi
cd "$root"
pivot_root . .oldroot
cd /
umount -l /.oldroot
# PID 1 stays a shell that reaps orphans (containerd shims re-parent to it); CMD is its child.
# (an explicit stdin: bash without job control gives a background command /dev/null otherwise)
"$@" <&0 &
child=$!
trap "kill -TERM $child 2>/dev/null" TERM INT HUP
set +e
wait "$child"; rc=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
exit "$rc"
'
set +e
unshare --mount --propagation private --pid --fork --kill-child=SIGKILL \
  env -i "${envs[@]}" bash -c "$inner" bash "$root" "$BUSYBOX_DIR" "$base_tar" "$@"
rc=$?
set -e

# Cgroups the stack's dockerd/containerd made and left behind (empty: rmdir refuses any other).
find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort | comm -13 "$cgroups_before" - |
  sort -r | while IFS= read -r dir; do rmdir "$dir" 2>/dev/null || true; done
exit "$rc"
