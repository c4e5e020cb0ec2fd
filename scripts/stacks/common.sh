# Shared by scripts/stacks/*.sh and scripts/image-base.sh (sourced): where the stacks live and small helpers.
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

# Build aside, rename into place (a root or tar in a cache is always complete). PREFIX is the
# cache's hidden name for one build, e.g. "$STACKS_CACHE/.trixie": PREFIX.build.* are builds,
# PREFIX.old.* replaced ones. Callers hold the build's flock.

# remove_leftovers PREFIX: what an interrupted build left.
remove_leftovers() {
  local old
  for old in "$1.build."* "$1.old."*; do
    [ -e "$old" ] || continue
    if grep -qF " $old" /proc/self/mountinfo; then die "mounts are left below $old; not removing it"; fi
    rm -rf --one-file-system "$old"
  done
}

# move_into_place NEW DEST PREFIX: NEW becomes DEST; a previous DEST is removed once NEW is there.
move_into_place() {
  local new=$1 dest=$2 gone
  if [ -e "$dest" ]; then
    gone=$(mktemp -u "$3.old.XXXXXX")
    mv "$dest" "$gone"
    mv "$new" "$dest"
    rm -rf --one-file-system "$gone"
  else
    mv "$new" "$dest"
  fi
}
