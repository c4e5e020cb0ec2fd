#!/usr/bin/env bash
# scripts/lazy-pages-probe.sh MODE [MIB] — does CRIU post-copy (lazy pages) work with this CRIU and kernel?
#
# Starts scripts/lazy-pages-memhog.c (MIB MiB, default 64, each page checked every MEMHOG_MS ms) as
# pid 1 of its own PID namespace (as in a container), checkpoints and restores it on this machine,
# and reports what each CRIU step did and when. MODE is one of CRIU's own (test/zdtm.py) ways:
#   copy    stop-and-copy baseline: criu dump (all pages to disk), criu restore
#   local   criu dump (all pages), criu lazy-pages (reads the images), criu restore --lazy-pages
#   disk    criu dump (all pages), `criu page-server --lazy-pages` serves them from the images over
#           TCP, the images copied to a second dir, criu lazy-pages --page-server, restore --lazy-pages
#   remote  the migration case (zdtm --lazy-migrate): criu dump --lazy-pages --port P keeps the
#           frozen task's memory and serves it; the images (no lazy pages) copied to a second dir;
#           criu lazy-pages --page-server … ; criu restore --lazy-pages
# Env: CRIU (default criu), PORT (27100), MEMHOG_MS (50), WAIT_S (60: how long the lazy daemon and
# the source may take), KILL_SOURCE_MS (disk/remote: kill the source's page server that many ms
# after the restore returned, then watch the restored task), KEEP=1 keeps the work dir, MEMHOG (a
# prebuilt static lazy-pages-memhog, else gcc builds one), PIPE_MAX_SIZE (bytes: set
# /proc/sys/fs/pipe-max-size for the run, the old value is put back on exit; CRIU's lazy page
# server needs 3354624 = 4 MiB rounded, unless it has CAP_SYS_RESOURCE: docs/lazy-pages.md).
# Prints "key: value" lines, log excerpts, and "RESULT: ok|FAILED …". Exit 0 if the restored task
# ran on and checked every page, 1 otherwise. Needs root. Hold /tmp/extmount-e2e.lock around it on a
# shared machine. Runs inside a stack root too (only bash, coreutils, util-linux, criu needed).
set -uo pipefail

mode=${1:?usage: $0 copy|local|disk|remote [MIB]}
mib=${2:-64}
criu=${CRIU:-criu}
port=${PORT:-27100}
export MEMHOG_MS=${MEMHOG_MS:-50}
wait_s=${WAIT_S:-60}
here=$(cd "$(dirname "$0")" && pwd)
case $mode in copy|local|disk|remote) ;; *) echo "$0: unknown mode $mode" >&2; exit 2 ;; esac

W=$(mktemp -d /tmp/lazy-probe.XXXXXX)
started=()          # pids of everything started here (criu processes, the tasks' pidns inits)
old_pipe_max=
cleanup() {
  for p in "${started[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$old_pipe_max" ] && echo "$old_pipe_max" > /proc/sys/fs/pipe-max-size
  if [ "${KEEP:-}" = 1 ]; then echo "workdir: $W (kept)"; else rm -rf "$W"; fi
}
trap cleanup EXIT

memhog=${MEMHOG:-$W/memhog}
if [ ! -x "$memhog" ]; then
  gcc -O2 -static -o "$memhog" "$here/lazy-pages-memhog.c" || { echo "$0: cannot build memhog (gcc)" >&2; exit 2; }
fi

now() { date +%s%3N; }
# Waits until something listens on TCP port $1 (reads /proc/net/tcp: no ss needed).
wait_listen() {
  local hex i
  hex=$(printf '%04X' "$1")
  for ((i = 0; i < 500; i++)); do
    awk -v h=":$hex" '$2 ~ h"$" && $4 == "0A" {f=1} END {exit !f}' /proc/net/tcp && return 0
    sleep 0.02
  done
  return 1
}
wait_file() { local i; for ((i = 0; i < 500; i++)); do [ -e "$1" ] && return 0; sleep 0.02; done; return 1; }
# wait_pid PID SECONDS: 0 when PID (a child) exited in time (its status in $wait_rc), 1 otherwise.
wait_pid() {
  local i
  for ((i = 0; i < $2 * 50; i++)); do
    if ! kill -0 "$1" 2>/dev/null; then wait "$1"; wait_rc=$?; return 0; fi
    sleep 0.02
  done
  return 1
}
errors() { # the log's error lines, without the one every CRIU here prints
  grep -hE 'Error|FAIL|Warn' "$@" 2>/dev/null | grep -v 'RLIMIT_NOFILE' | head -${ERR_LINES:-12}
}
# Lines of the restored task only (T: pid in $4, C: in $6); the source logs to the same file.
restored_log() { awk -v r="$restored" '($1 == "T" && $4 == r) || ($1 == "C" && $6 == r)' "$W/hog.log"; }
first_after() { restored_log | awk -v k="$1" -v t="$2" '(k == "any" || $1 == k) && $3 > t {print $3; exit}'; }

if [ -n "${PIPE_MAX_SIZE:-}" ]; then
  old_pipe_max=$(cat /proc/sys/fs/pipe-max-size)
  echo "$PIPE_MAX_SIZE" > /proc/sys/fs/pipe-max-size
fi
echo "mode: $mode  MiB: $mib  criu: $($criu --version | head -1)  kernel: $(uname -r)"
echo "pipe-max-size: $(cat /proc/sys/fs/pipe-max-size)  CAP_SYS_RESOURCE: $(( 0x$(awk '/^CapEff/ {print $2}' /proc/self/status) >> 24 & 1 ))  $("$memhog" setpipe 3354624)"

# The task: pid 1 of a new PID namespace (setsid: no controlling terminal, nothing for --shell-job).
# Inherited fds are closed: one opened outside a stack root (run.sh) names a mount CRIU cannot see.
(
  for fd in $(ls "/proc/$BASHPID/fd"); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
  exec unshare -p --fork setsid "$memhog" "$mib" "$W/hog.log" </dev/null >/dev/null 2>&1
) &
disown $!  # no "Killed" job notice when cleanup kills it
init_parent=$!
started+=("$init_parent")
for ((i = 0; i < 250; i++)); do
  hog=$(cat "/proc/$init_parent/task/$init_parent/children" 2>/dev/null | tr -d ' ')
  [ -n "$hog" ] && grep -q '^C 2 ' "$W/hog.log" 2>/dev/null && break
  sleep 0.02
done
[ -n "$hog" ] || { echo "RESULT: FAILED: memhog did not start"; exit 1; }
started+=("$hog")
echo "source pid: $hog  rss: $(awk '/VmRSS/ {print $2, $3}' "/proc/$hog/status")"

mkdir "$W/img" "$W/rimg"
t_dump=$(now)
dump_rc=0
if [ "$mode" = remote ]; then
  $criu dump -t "$hog" -D "$W/img" -o dump.log -v4 --lazy-pages --address 127.0.0.1 --port "$port" &
  source_pid=$!
  started+=("$source_pid")
  wait_listen "$port" || { echo "RESULT: FAILED: lazy dump did not listen"; errors "$W/img/dump.log"; exit 1; }
else
  $criu dump -t "$hog" -D "$W/img" -o dump.log -v4 || dump_rc=$?
fi
t_dumped=$(now)
echo "dump: rc=$dump_rc  $((t_dumped - t_dump)) ms until $([ "$mode" = remote ] && echo "its page server listened" || echo "it returned")"
echo "images: $(du -sh "$W/img" | cut -f1)  pages-*.img: $(cat "$W/img"/pages-*.img 2>/dev/null | wc -c) bytes"
[ "$dump_rc" = 0 ] || { echo "RESULT: FAILED: dump"; errors "$W/img/dump.log"; exit 1; }

rdir=$W/img
case $mode in
  disk)
    $criu page-server -D "$W/img" -o page-server.log -v4 --lazy-pages --address 127.0.0.1 --port "$port" &
    source_pid=$!
    started+=("$source_pid")
    wait_listen "$port" || { echo "RESULT: FAILED: page-server did not listen"; errors "$W/img/page-server.log"; exit 1; }
    cp -a "$W/img/." "$W/rimg/"; rdir=$W/rimg ;;
  remote)
    cp -a "$W/img/." "$W/rimg/"; rdir=$W/rimg ;;
esac

lazy_pid=
if [ "$mode" != copy ]; then
  ps_opts=()
  [ "$mode" = local ] || ps_opts=(--page-server --address 127.0.0.1 --port "$port")
  $criu lazy-pages -D "$rdir" -o lazy.log -v4 "${ps_opts[@]}" &
  lazy_pid=$!
  started+=("$lazy_pid")
  wait_file "$rdir/lazy-pages.socket" || { echo "RESULT: FAILED: no lazy-pages.socket"; errors "$rdir/lazy.log"; exit 1; }
fi

t_restore=$(now)
restore_rc=0
$criu restore -D "$rdir" -o restore.log -v4 -d --pidfile "$W/restored.pid" \
  $([ "$mode" = copy ] || echo --lazy-pages) || restore_rc=$?
t_restored=$(now)
restored=$(cat "$W/restored.pid" 2>/dev/null)
[ -n "$restored" ] && started+=("$restored")
echo "restore: rc=$restore_rc  $((t_restored - t_restore)) ms  restored pid: ${restored:-none}"
[ "$restore_rc" = 0 ] || { echo "RESULT: FAILED: restore"; errors "$rdir/restore.log" "$rdir/lazy.log" "$W/img/dump.log"; exit 1; }

if [ -n "${KILL_SOURCE_MS:-}" ] && [ -n "${source_pid:-}" ]; then
  sleep "$(awk -v m="$KILL_SOURCE_MS" 'BEGIN {print m / 1000}')"
  echo "killing the source's page server (pid $source_pid) $KILL_SOURCE_MS ms after the restore"
  kill -KILL "$source_pid"; wait "$source_pid" 2>/dev/null
  t_killed=$(now)
  sleep 5
  echo "after 5 s: restored task state: $(awk '{print $3}' "/proc/$restored/stat" 2>/dev/null || echo gone)  wchan: $(cat "/proc/$restored/wchan" 2>/dev/null)"
  echo "after 5 s: lazy-pages daemon: $(kill -0 "$lazy_pid" 2>/dev/null && echo running || echo exited)"
  echo "restored task's lines after the kill: T $(restored_log | awk -v t="$t_killed" '$1 == "T" && $3 > t' | wc -l)  C ok $(restored_log | awk -v t="$t_killed" '$1 == "C" && $3 > t && $4 == "ok"' | wc -l)  C BAD $(restored_log | awk -v t="$t_killed" '$1 == "C" && $3 > t && $4 != "ok"' | wc -l)"
  echo "source task's lines after the kill: $(awk -v s="$hog" -v t="$t_killed" '$3 > t && (($1 == "T" && $4 == s) || ($1 == "C" && $6 == s))' "$W/hog.log" | wc -l) (not 0: the source ran on too)"
  echo "last log line: $(tail -1 "$W/hog.log")"
  [ -r "/proc/$restored/stack" ] && { echo "kernel stack of the restored task:"; sed 's/^/  /' "/proc/$restored/stack"; }
  ERR_LINES=6 errors "$rdir/lazy.log" | sed 's/^/  lazy: /'
  kill -KILL "$restored" 2>/dev/null
  t_gone=$(now)
  sleep 0.5
  echo "SIGKILL to the restored task: $(kill -0 "$restored" 2>/dev/null && echo "still there after 0.5 s (state $(awk '{print $3}' "/proc/$restored/stat"))" || echo "gone within 0.5 s")"
  wait_pid "$lazy_pid" 5 && echo "lazy-pages daemon exited rc=$wait_rc" || echo "lazy-pages daemon still running 5 s after the task was killed"
  echo "RESULT: source killed (see above)"
  exit 0
fi

# How long until the lazy daemon (every page on the target) and the source are done.
lazy_rc=- t_lazy=-
if [ -n "$lazy_pid" ]; then
  if wait_pid "$lazy_pid" "$wait_s"; then lazy_rc=$wait_rc; t_lazy=$(now); else lazy_rc="still running after ${wait_s}s"; fi
fi
src_rc=- t_src=-
if [ -n "${source_pid:-}" ]; then
  if wait_pid "$source_pid" "$wait_s"; then src_rc=$wait_rc; t_src=$(now); else src_rc="still running after ${wait_s}s"; fi
fi
sleep $(awk -v m="$MEMHOG_MS" 'BEGIN {print 3 * m / 1000 + 0.3}')

# resumed = the restored task's first line (the source may still log in the first ms of the dump,
# while CRIU starts); the gap = from the last line before it (up to MEMHOG_MS of it is the task's
# own sleep). A first C line means the task was frozen in its check and finished it.
resumed=$(first_after any "$t_restore")
checked=$(first_after C "$t_restore")
last_before=$(awk -v t="$t_restore" '$3 <= t {l=$3} END {print l}' "$W/hog.log")
echo "lazy-pages daemon: rc=$lazy_rc$([ "$t_lazy" = - ] || echo "  done $((t_lazy - t_restored)) ms after the restore returned")"
echo "source: rc=$src_rc$([ "$t_src" = - ] || echo "  exited $((t_src - t_dump)) ms after the dump started")"
echo "freeze: dump start -> task ran again (its first log line): ${resumed:+$((resumed - t_dump)) ms}; gap in the task's log: ${resumed:+$((resumed - ${last_before:-resumed})) ms}"
echo "first full check after the restore: ${checked:+$((checked - t_dump)) ms after the dump started, $((checked - resumed)) ms after the task ran again  $(restored_log | awk '$1 == "C" {print $4, $5; exit}')}"
echo "checks by the restored task: $(restored_log | awk '$1 == "C" && $4 == "ok"' | wc -l) ok, $(restored_log | awk '$1 == "C" && $4 != "ok"' | wc -l) bad$(restored_log | awk '$1 == "C" && $4 != "ok" {printf " (first: %s bad pages)", $5; exit}')"
echo "lines by the source task after the restore started: $(awk -v s="$hog" -v t="$t_restore" '$3 > t && (($1 == "T" && $4 == s) || ($1 == "C" && $6 == s))' "$W/hog.log" | wc -l) (not 0: the source ran on)"
grep -hE 'UFFD transferred pages|Found [0-9]+ pages to be handled|splice|tee:|transfer FAILED|Lazy pages' "$rdir/lazy.log" "$W/img/dump.log" "$W/img/page-server.log" 2>/dev/null | tail -6 | sed 's/^/  log: /'
errs=$(errors "$W/img/dump.log" "$W/img/page-server.log" "$rdir/restore.log" "$rdir/lazy.log")
[ -n "$errs" ] && echo "$errs" | sed 's/^/  error: /'

if [ -n "$checked" ] && restored_log | awk '$1 == "C" && $4 != "ok" {b=1} END {exit b}' \
   && { [ "$lazy_rc" = - ] || [ "$lazy_rc" = 0 ]; } && { [ "$src_rc" = - ] || [ "$src_rc" = 0 ]; }; then
  echo "RESULT: ok"; exit 0
fi
echo "RESULT: FAILED"; exit 1
