# Shared by scripts/stacks/*.sh (sourced): where the stacks live and small helpers.
# A stack is a Debian root (debootstrap) that run.sh makes `/` of a private mount namespace.

STACKS_CACHE=${EXTMOUNT_STACKS_CACHE:-/var/cache/extmount/stacks}
# Pinned test-image busybox, fetched by scripts/provision.sh and bound read-only into every stack.
BUSYBOX_DIR=${EXTMOUNT_BUSYBOX_DIR:-/opt/extmount/busybox}

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "$*"; exit 2; }

# The suites the test bed knows; anything else is refused before it becomes a path.
check_suite() {
  case ${1:-} in
    trixie|sid) ;;
    *) die "unknown suite '${1:-}' (known: trixie, sid)" ;;
  esac
}

stack_root() { printf '%s/%s\n' "$STACKS_CACHE" "$1"; }

# The Debian mirror this machine's own apt uses.
debian_mirror() {
  local m
  m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

require_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }
