#!/usr/bin/env bash
# scripts/stacks/test.sh (npm run test:stacks) — the whole EXTMOUNT_E2E=required suite on newer
# Debian stacks. For each suite in EXTMOUNT_STACKS (comma list; default trixie,sid): build or reuse
# its root (build.sh), copy this working tree in (git ls-files: tracked and untracked-not-ignored
# files, no node_modules or build), `npm ci` and `npm test` there (run.sh: the root as `/` of a
# private mount and PID namespace), keep the full log, and print one summary line per stack.
# Exit 1 when any stack fails or cannot run.
#
# EXTMOUNT_STACK_TESTS="build/test/integration/a.test.js …" runs just those files (after a build)
# instead of the whole suite: for a developer chasing one failure; CI never sets it.
# EXTMOUNT_STACK_BENCH="freeze-cri" (a bench/run.ts --only list) runs those benchmark cases instead
# (after a build; no tests), e.g. the CRI freeze, which needs the sid stack's containerd: the summary
# line says whether it ran, and the table it printed follows. CI never sets it either.
#
# Logs: $EXTMOUNT_STACKS_LOGS (default /var/cache/extmount/stacks/logs)/SUITE-<UTC time>.log, and
# SUITE.log pointing at the newest. npm's cache lives in the root (/root/.npm): reruns are fast.
# Integration suites must not overlap on this machine: the caller holds /tmp/extmount-e2e.lock
# (EXTMOUNT_STACKS_LOCK=1 makes this script take it itself, around each stack's suite).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"
project=$(cd "$here/../.." && pwd)
require_root

IFS=',' read -r -a suites <<<"${EXTMOUNT_STACKS:-trixie,sid}"
for suite in "${suites[@]}"; do check_suite "$suite"; done
logs=${EXTMOUNT_STACKS_LOGS:-$STACKS_CACHE/logs}
mkdir -p "$logs"
[ -x "$BUSYBOX_DIR/busybox" ] || bash "$project/scripts/provision.sh"
# The Dockerfile test's base (built here, on the machine: the stacks have no debootstrap); run.sh
# binds it into each stack read-only, the test takes it from EXTMOUNT_IMAGE_BASE.
EXTMOUNT_IMAGE_BASE=${EXTMOUNT_IMAGE_BASE:-$(bash "$project/scripts/image-base.sh")}
export EXTMOUNT_IMAGE_BASE

# What runs inside the stack, as root in /; $1 is where the project is unpacked (from stdin).
# shellcheck disable=SC2016
inside='
set -u
dir=$1
mkdir -p "$dir" && tar -x -C "$dir" || { echo "stack: could not unpack the project" >&2; exit 3; }
cd "$dir"
ver() { "$@" 2>/dev/null | sed -n 1p | grep -oE "[0-9]+\.[0-9]+(\.[0-9]+)?" | head -n1; }
printf "stack-versions: dockerd %s containerd %s runc %s criu %s node %s npm %s\n" \
  "$(ver dockerd --version)" "$(ver containerd --version)" "$(ver runc --version)" \
  "$(ver criu --version)" "$(ver node --version)" "$(ver npm --version)"
echo "stack-step: npm ci"
npm ci --no-audit --no-fund || { echo "stack: npm ci failed" >&2; exit 3; }
echo "stack-step: criu check"
criu check || echo "stack: criu check failed (the suite will say so)" >&2
if [ -n "${EXTMOUNT_STACK_BENCH:-}" ]; then
  echo "stack-step: npm run build; node build/bench/run.js --only $EXTMOUNT_STACK_BENCH"
  npm run build && node build/bench/run.js --only "$EXTMOUNT_STACK_BENCH"
elif [ -n "${EXTMOUNT_STACK_TESTS:-}" ]; then
  echo "stack-step: npm run build; node --test $EXTMOUNT_STACK_TESTS"
  npm run build && EXTMOUNT_E2E=required node --test --test-concurrency=1 $EXTMOUNT_STACK_TESTS
else
  echo "stack-step: npm test"
  EXTMOUNT_E2E=required npm test
fi
'

# The project files of the working tree (deleted ones left out), as a tar stream.
project_tar() {
  (cd "$project" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do
      if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
    done | tar --null -T - -c)
}

# The failing tests of a tap log, each with its diagnostics (bounded): CI keeps only this script's
# output, not the log, so a red stack must say here what failed.
# Node 24 writes the spec reporter's closing "failing tests:" section; Node 20 writes tap "not ok" blocks.
failures() {
  if grep -aq 'failing tests:$' "$1"; then
    sed -n '/failing tests:$/,$p' "$1" | head -n 300
  else
    awk '
      /^ *not ok / { shown++; if (shown > 8) exit; printing = 1; lines = 0 }
      printing { print; if (++lines >= 40 || /^ *\.\.\.$/) { printing = 0; print "" } }
    ' "$1"
  fi
}

# node --test's totals: "# pass N" (tap reporter) or "ℹ pass N" (spec reporter).
count() { { grep -aE "^(#|ℹ) $1 [0-9]+$" "$2" || true; } | tail -n1 | grep -oE '[0-9]+$' || echo 0; }

failed=0
summaries=()
for suite in "${suites[@]}"; do
  started=$(date +%s)
  if ! bash "$here/build.sh" "$suite" >/dev/null; then
    summaries+=("stack $suite: could not build the root (see above)")
    failed=1
    continue
  fi
  built=$(date +%s)
  log_file="$logs/$suite-$(date -u +%Y%m%dT%H%M%SZ).log"
  ln -sfn "${log_file##*/}" "$logs/$suite.log"
  log "$suite: root ready in $((built - started)) s; suite log: $log_file"
  run=(bash "$here/run.sh" "$suite" -- bash -c "$inside" bash /tmp/extmount)
  if [ "${EXTMOUNT_STACKS_LOCK:-}" = 1 ]; then run=(flock /tmp/extmount-e2e.lock "${run[@]}"); fi
  set +e
  project_tar | "${run[@]}" >"$log_file" 2>&1
  rc=$?
  set -e
  finished=$(date +%s)
  versions=$(sed -n 's/^stack-versions: //p' "$log_file" | head -n1)
  tests=$(count tests "$log_file"); pass=$(count pass "$log_file"); fail=$(count fail "$log_file")
  if [ -n "${EXTMOUNT_STACK_BENCH:-}" ]; then
    # The table, and what a case said on stderr (e.g. why it did not run here); the log's end when it failed.
    if [ "$rc" = 0 ] && ! grep -aq 'NOT RUN' "$log_file"; then
      result="bench $EXTMOUNT_STACK_BENCH ran"
    else
      failed=1
      result="bench $EXTMOUNT_STACK_BENCH failed or did not run (exit $rc)"
      tail -n 40 "$log_file" >&2
    fi
    grep -aE '^\||NOT RUN' "$log_file" || true
  elif [ "$rc" = 0 ] && [ "$fail" = 0 ] && [ "$tests" -gt 0 ]; then
    result="$pass/$tests pass"
  else
    failed=1
    if [ "$tests" -gt 0 ]; then result="$pass/$tests pass, $fail fail"; else result="did not run ($(grep -E '^stack: ' "$log_file" | tail -n1 || true); exit $rc)"; fi
  fi
  if [ "$fail" != 0 ]; then
    log "$suite: the failing tests:"
    failures "$log_file" >&2
  fi
  summaries+=("stack $suite: ${versions:-versions unknown}: $result (suite $((finished - built)) s; log $log_file)")
  log "${summaries[-1]}"
done

printf '%s\n' "${summaries[@]}"
exit "$failed"
