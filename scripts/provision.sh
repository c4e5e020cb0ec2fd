#!/usr/bin/env bash
# Installs what extmount's tests, demo and benchmarks need on a Debian 12 machine (as root):
# dockerd/runc (docker.io), Podman (podman, crun, conmon), a CRIU that passes `criu check` on the running kernel, busybox-static,
# debootstrap (for scripts/image-base.sh),
# and the one busybox binary every test image uses (on this host and in every scripts/stacks root).
# Idempotent: a second run only checks. See ../shared/ENVIRONMENT.md for why CRIU comes from trixie.
set -euo pipefail

CRIU_PREFIX=${EXTMOUNT_CRIU_PREFIX:-/opt/extmount/criu}
CRIU_WRAPPER=/usr/local/sbin/criu
BUSYBOX_DIR=${EXTMOUNT_BUSYBOX_DIR:-/opt/extmount/busybox}
# The test image's busybox is pinned to one suite's build: trixie's 1.37 `sleep` exits right after a
# CRIU restore and its `nc` dies after a failed dump. Tests must test extmount, not busybox.
BUSYBOX_SUITE=bookworm
BUSYBOX_WANT='BusyBox v1.35.'
log() { printf 'provision: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root (dockerd and CRIU need it)"; exit 2
fi

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v busybox >/dev/null || [ -x /bin/busybox ] || need_apt+=(busybox-static)
command -v curl >/dev/null || need_apt+=(curl)
# scripts/image-base.sh (the Dockerfile test's base image) debootstraps a Debian root.
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
# Podman (with crun and conmon) for the Podman runtime tests; its units do not run without systemd.
command -v podman >/dev/null || need_apt+=(podman crun conmon)
# `extmount restore --import` reads Podman's default (zstd) checkpoint archives through zstd(1).
command -v zstd >/dev/null || need_apt+=(zstd)
# The live migration test builds its memory workload (test/fixtures/live/memclock.c) as a static binary.
{ command -v gcc >/dev/null && [ -f "$(gcc -print-file-name=libc.a)" ]; } || need_apt+=(gcc libc6-dev)
# migrate --live makes its page server's TLS certificate with openssl(1).
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d /tmp/extmount-provision.XXXXXX)
trap 'rm -rf "$work"' EXIT

# fetch SUITE DEST PKG…: downloads the packages' .debs from SUITE with a private apt state (the
# system's sources, lists and cache are not touched) and unpacks them into DEST.new, then DEST.
fetch() {
  local suite=$1 dest=$2 state="$work/$1"; shift 2
  mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs"
  echo "deb $mirror $suite main" > "$state/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache" -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  (cd "$state/debs" && apt-get "${apt_opts[@]}" download -qq "$@")
  rm -rf "$dest.new"
  mkdir -p "$dest.new"
  for deb in "$state"/debs/*.deb; do dpkg -x "$deb" "$dest.new"; done
  rm -rf "$dest"
  mv "$dest.new" "$dest"
}

busybox_banner() { { "$BUSYBOX_DIR/busybox" --help 2>&1 || true; } | sed -n 1p; }
busybox_works() { [ -x "$BUSYBOX_DIR/busybox" ] && [[ $(busybox_banner) == "$BUSYBOX_WANT"* ]]; }
if ! busybox_works; then
  log "fetching busybox-static from $BUSYBOX_SUITE ($mirror) for the test images"
  fetch "$BUSYBOX_SUITE" "$BUSYBOX_DIR.pkg" busybox-static
  rm -rf "$BUSYBOX_DIR"
  mkdir -p "$BUSYBOX_DIR"
  mv "$BUSYBOX_DIR.pkg/bin/busybox" "$BUSYBOX_DIR/busybox"
  dpkg-deb -f "$work/$BUSYBOX_SUITE"/debs/busybox-static_*.deb Package Version > "$BUSYBOX_DIR/VERSION"
  rm -rf "$BUSYBOX_DIR.pkg"
  busybox_works || { log "$BUSYBOX_DIR/busybox is not $BUSYBOX_WANT"; exit 1; }
fi
log "test busybox: $(busybox_banner) ($BUSYBOX_DIR/busybox)"

criu_works() { command -v criu >/dev/null && criu check >/dev/null 2>&1; }

if criu_works; then
  log "criu ok: $(criu --version | head -n1)"
  exit 0
fi

# Debian 12's criu 3.17 fails on newer kernels ("vdso: Unexpected rt vDSO area bounds").
# Debian 13's criu 4.x works but needs glibc >= 2.38: unpack it with its own libraries into a
# private prefix and run it through that prefix's dynamic loader. Never install trixie system-wide.
log "fetching CRIU 4.x from trixie ($mirror)"
fetch trixie "$CRIU_PREFIX" criu libcompel1 libc6 libgnutls30t64 libnftables1 libnl-3-200 libprotobuf-c1 \
  libbsd0 libnet1 libuuid1 libmd0 libnettle8t64 libhogweed6t64 libp11-kit0 libtasn1-6 libunistring5 \
  libidn2-0 libgmp10 libmnl0 libnftnl11 libjansson4 libxtables12 libffi8 libedit2 libtinfo6 libgcc-s1

lib="$CRIU_PREFIX/usr/lib/x86_64-linux-gnu"
mkdir -p "$(dirname "$CRIU_WRAPPER")"
cat > "$CRIU_WRAPPER" <<WRAP
#!/bin/sh
# Installed by extmount scripts/provision.sh: trixie's CRIU with its own libraries.
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$CRIU_PREFIX/usr/sbin/criu" "\$@"
WRAP
chmod 755 "$CRIU_WRAPPER"
hash -r
if ! criu_works; then
  log "criu check still fails:"; criu check >&2 || true; exit 1
fi
log "criu ok: $(criu --version | head -n1)"
