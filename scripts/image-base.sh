#!/usr/bin/env bash
# scripts/image-base.sh — builds (or reuses) the base image rootfs the Dockerfile is tested on.
#
# No container registry is reachable here, so the official node:20-bookworm-slim cannot be pulled.
# Its stand-in: debootstrap --variant=minbase of Debian trixie with Debian's own `nodejs` (20.19;
# bookworm's is 18, below package.json's engines), docs, man pages, locales and apt's caches removed.
# Nothing else: the image runs only the CLI, and what it runs in a container (migrate, show,
# detect --mountinfo) talks to the engines through their API sockets, never to CRIU or runc.
#
# Cached as <cache>/trixie/rootfs.tar (EXTMOUNT_IMAGE_CACHE, default /var/cache/extmount/image-base),
# built aside and renamed into place as scripts/stacks/build.sh does: a tar in the cache is always
# complete. Its stamp (<cache>/trixie/stamp: script version, suite, mirror, packages) decides reuse.
# `packages` beside it lists the installed versions. Prints the tar's path on stdout; import it with
# `docker import PATH NAME`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=stacks/common.sh
. "$here/stacks/common.sh"

# Bump when the build steps change (a changed package list rebuilds by itself).
BASE_VERSION=1
suite=trixie
packages=(nodejs)

require_root
cache=${EXTMOUNT_IMAGE_CACHE:-/var/cache/extmount/image-base}
mirror=$(debian_mirror)
dest="$cache/$suite"
stamp=$(printf 'version=%s\nsuite=%s\nmirror=%s\npackages=%s\n' "$BASE_VERSION" "$suite" "$mirror" "${packages[*]}")

mkdir -p "$cache"
exec 9>"$cache/.$suite.lock"
flock 9

if [ -f "$dest/stamp" ] && [ -f "$dest/rootfs.tar" ] && [ "$(cat "$dest/stamp")" = "$stamp" ]; then
  log "reusing $dest/rootfs.tar"
  printf '%s\n' "$dest/rootfs.tar"
  exit 0
fi

command -v debootstrap >/dev/null || die "debootstrap is missing (run scripts/provision.sh)"

# Leftovers of an interrupted build (we hold the lock: nobody else is building this base).
remove_leftovers "$cache/.$suite"

new=$(mktemp -d "$cache/.$suite.build.XXXXXX")
root="$new/root"
started=$(date +%s)
log "debootstrap $suite (${packages[*]}) from $mirror into $root"
# In a private mount namespace: whatever debootstrap mounts in the root (proc, sys) dies with it.
include=$(IFS=,; printf '%s' "${packages[*]}")
unshare -m --propagation private debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" \
  >"$new/debootstrap.log" 2>&1 || {
  tail -n 20 "$new/debootstrap.log" >&2; die "debootstrap failed (log: $new/debootstrap.log)"; }
chroot "$root" node --version >/dev/null || die "node does not run in $root"
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$new/packages"

# What an image does not need: the downloaded .debs, apt's lists and caches, docs, man pages, locales.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/*
# The engine mounts /dev, /proc and /sys: only the empty folders go into the image.
tar --numeric-owner --xattrs -C "$root" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* \
  -cf "$new/rootfs.tar" .
rm -rf --one-file-system "$root" "$new/debootstrap.log"
printf '%s\n' "$stamp" >"$new/stamp"

move_into_place "$new" "$dest" "$cache/.$suite"
log "built $dest/rootfs.tar ($(du -m "$dest/rootfs.tar" | cut -f1) MiB) in $(( $(date +%s) - started )) s"
printf '%s\n' "$dest/rootfs.tar"
