#!/usr/bin/env bash
# Runs a bats file of runc's own integration tests (default: checkpoint.bats) against a runc binary,
# e.g. plain runc and then hooks/extmount-runc, without network:
#
#   scripts/runc-bats.sh RUNC_CHECKOUT [RUNTIME [BATS_FILE]]
#   scripts/runc-bats.sh /tmp/runc-1.1.5 "$PWD/hooks/extmount-runc"
#
# RUNC_CHECKOUT is a runc source tree at the tag to test (tests/integration is read from it, never
# changed: the tests run from a copy). What runc's helpers would download or build is made here:
# get-images.sh prints a busybox rootfs tarball built from the host's static /bin/busybox, and
# contrib/cmd/recvtty/recvtty (Go) is replaced by a Python script with the same null mode.
# Needs root, bats (Debian's `bats`), jq, gawk, /usr/bin/python3, criu. Prints bats' TAP output; exits as bats does.
# Each test gets BATS_TEST_TIMEOUT seconds (default 180): `--lazy-pages` hangs on some kernels.
set -euo pipefail

checkout=${1:?usage: $0 RUNC_CHECKOUT [RUNTIME [BATS_FILE]]}
runtime=${2:-$(command -v runc)}
file=${3:-checkpoint.bats}
[ -d "$checkout/tests/integration" ] || { echo "$0: $checkout has no tests/integration" >&2; exit 2; }
for tool in bats jq gawk /usr/bin/python3 criu; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (apt-get install bats jq gawk python3)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/runc-bats.XXXXXX)
# Never rm -r through a mount (a holder left by a killed wrapper would take host content with it).
trap 'if grep -q " $work/" /proc/self/mountinfo; then echo "$0: mounts left below $work; not removed" >&2; else rm -rf "$work"; fi' EXIT
# When the runtime is hooks/extmount-runc: its state below the work dir, unless a config is given.
if [ -z "${EXTMOUNT_CONFIG:-}" ]; then
  mkdir -p "$work/extmount-state"
  printf '{"stateDir": "%s"}\n' "$work/extmount-state" > "$work/extmount-config.json"
  export EXTMOUNT_CONFIG="$work/extmount-config.json"
fi
mkdir -p "$work/tests" "$work/contrib/cmd/recvtty"
cp -r "$checkout/tests/integration" "$work/tests/integration"

# A busybox rootfs as runc's tests expect one: bin/busybox and its applets, the usual top folders.
rootfs="$work/busybox-rootfs"
mkdir -p "$rootfs/bin" "$rootfs"/{dev,etc,proc,sys,tmp,root,var,run}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
echo 'root:x:0:' > "$rootfs/etc/group"
tar -C "$rootfs" -cf "$work/busybox.tar" .
cat > "$work/tests/integration/get-images.sh" <<EOF
#!/bin/sh
echo "BUSYBOX_IMAGE=$work/busybox.tar"
echo "DEBIAN_IMAGE=/nonexistent/debian.tar.xz"
EOF
chmod +x "$work/tests/integration/get-images.sh"

# recvtty --pid-file F --mode null SOCKET: accept console fds sent over SOCKET (SCM_RIGHTS) and drain them.
cat > "$work/contrib/cmd/recvtty/recvtty" <<'EOF'
#!/usr/bin/python3 -S
import argparse, os, socket, threading
p = argparse.ArgumentParser()
p.add_argument('--pid-file'); p.add_argument('--mode', '-m', default='single'); p.add_argument('--no-stdin', action='store_true')
p.add_argument('socket')
a = p.parse_args()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(a.socket); s.listen(16)
if a.pid_file:
    with open(a.pid_file, 'w') as f: f.write(str(os.getpid()))
def drain(fd):
    try:
        while os.read(fd, 65536): pass
    except OSError: pass
while True:
    c, _ = s.accept()
    _, fds, _, _ = socket.recv_fds(c, 4096, 4)
    c.close()
    for fd in fds: threading.Thread(target=drain, args=(fd,), daemon=True).start()
EOF
chmod +x "$work/contrib/cmd/recvtty/recvtty"
# runc's helpers start recvtty in the background and run runc right away: load Python's modules into
# the page cache first, so that the socket is there in time (a Go recvtty starts in a millisecond).
/usr/bin/python3 -S -c 'import argparse, os, socket, threading'

cd "$work/tests/integration"
export RUNC="$runtime" BATS_TEST_TIMEOUT="${BATS_TEST_TIMEOUT:-180}"
bats --tap "$file"
