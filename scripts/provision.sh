#!/usr/bin/env bash
# Installs what extmount's tests, demo and benchmarks need on a Debian 12 machine (as root):
# dockerd/runc (docker.io), a CRIU that passes `criu check` on the running kernel, busybox-static.
# Idempotent: a second run only checks. See ../shared/ENVIRONMENT.md for why CRIU comes from trixie.
set -euo pipefail

CRIU_PREFIX=${EXTMOUNT_CRIU_PREFIX:-/opt/extmount/criu}
CRIU_WRAPPER=/usr/local/sbin/criu
log() { printf 'provision: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root (dockerd and CRIU need it)"; exit 2
fi

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v busybox >/dev/null || [ -x /bin/busybox ] || need_apt+=(busybox-static)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

criu_works() { command -v criu >/dev/null && criu check >/dev/null 2>&1; }

if criu_works; then
  log "criu ok: $(criu --version | head -n1)"
  exit 0
fi

# Debian 12's criu 3.17 fails on newer kernels ("vdso: Unexpected rt vDSO area bounds").
# Debian 13's criu 4.x works but needs glibc >= 2.38: unpack it with its own libraries into a
# private prefix and run it through that prefix's dynamic loader. Never install trixie system-wide.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d /tmp/extmount-criu.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb $mirror trixie main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Get::List-Cleanup=0)
log "fetching CRIU 4.x from trixie ($mirror)"
apt-get "${apt_opts[@]}" update -qq
pkgs=(criu libcompel1 libc6 libgnutls30t64 libnftables1 libnl-3-200 libprotobuf-c1 libbsd0 libnet1
  libuuid1 libmd0 libnettle8t64 libhogweed6t64 libp11-kit0 libtasn1-6 libunistring5 libidn2-0
  libgmp10 libmnl0 libnftnl11 libjansson4 libxtables12 libffi8 libedit2 libtinfo6 libgcc-s1)
(cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq "${pkgs[@]}")
rm -rf "$CRIU_PREFIX.new"
mkdir -p "$CRIU_PREFIX.new"
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$CRIU_PREFIX.new"; done
rm -rf "$CRIU_PREFIX"
mv "$CRIU_PREFIX.new" "$CRIU_PREFIX"

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
