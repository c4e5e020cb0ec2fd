// Makes a CRIU failure actionable: the Error lines of its log, the mount they name, and the fix.
import { ExtmountError } from '../errors.js';

// Lines CRIU prints on every run on some machines; they are not the failure (ENVIRONMENT.md).
const NOISE = [/rlimit: Can't setup RLIMIT_NOFILE/];

// Errors that follow from an earlier one, never its cause: the summary, the restore's cgroup daemon losing
// the task that failed, the RPC answer to a runc that has gone, the action script runc's exit broke.
const CONSEQUENCES = [
  /Dumping FAILED|Restoring FAILED/,
  /cgroupd: recv req error/,
  /Can't send response/,
  /action scripts failed/,
];

// "(00.052336) Error (…)" from the main process, "(00.052336)      1: Error (…)" from a restored task
// (criu/log.c prints the pid of any process but the first); older logs have no timestamp.
const ERROR_LINE = /^(?:\((\d+\.\d+)\))?\s*(?:\d+:\s*)?Error\b/;
const ERROR_PREFIX = /^(?:\(\d+\.\d+\))?\s*(?:\d+:\s*)?Error \([^)]*\):\s*/;

const FIXES: Array<[RegExp, string]> = [
  [
    /doesn't have a proper root mount/,
    'the mount is external: map it with --external mnt[MOUNTPOINT]:KEY (extmount detect finds these)',
  ],
  [
    /has unreachable sharing/,
    'its peer group lies outside the container: dump with --enable-external-masters (extmount adds it when it detects this)',
  ],
  [
    /Failed to copy sharing from/,
    'the restore source has no peer group to copy: map the key to a path inside a shared host mount, or restore without keeping propagation',
  ],
  [
    /No mapping for .* mountpoint|ext mount.*not found|Unable to find external mount/i,
    'a key in the images has no mapping: pass --map KEY=PATH',
  ],
  [
    /The root task has another root than mntns/,
    'the tree was entered with chroot: use pivot_root (as container runtimes do)',
  ],
  [
    /Can't dump ghost file|Can't lookup mount=\d+ for fd=/,
    'a process holds a file on a mount CRIU cannot see: close it or make the mount visible in the tree',
  ],
];

export interface CriuFailure {
  errorLines: string[];
  /** Mount IDs and mountpoints the Error lines mention, e.g. "86 ./prop/sub". */
  mounts: string[];
  fixes: string[];
}

export function analyzeCriuLog(log: string): CriuFailure {
  const errorLines = log
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => ERROR_LINE.test(line) && !NOISE.some((n) => n.test(line)));
  const mounts = [
    ...new Set(
      errorLines.flatMap((line) =>
        [...line.matchAll(/(?:Mount |mnt: )(\d+):?\s*(\.?\/\S*)/g)].map((m) => `${m[1]} ${m[2]}`),
      ),
    ),
  ];
  const fixes = [
    ...new Set(errorLines.flatMap((line) => FIXES.filter(([pattern]) => pattern.test(line)).map(([, fix]) => fix))),
  ];
  return { errorLines, mounts, fixes };
}

/**
 * The error that came first and is not a known consequence of another: by CRIU's timestamp where the lines
 * have one (several processes write the log), else in log order.
 */
export function firstCause(errorLines: readonly string[]): string | undefined {
  const at = (line: string) => Number(ERROR_LINE.exec(line)?.[1] ?? Number.NaN);
  const causes = errorLines.filter((l) => !CONSEQUENCES.some((c) => c.test(l)));
  const pool = causes.length > 0 ? causes : [...errorLines];
  return pool.reduce<string | undefined>(
    (best, line) => (best === undefined || at(line) < at(best) ? line : best),
    undefined,
  );
}

/** The error extmount reports for a failed `criu dump`/`criu restore` (or runc checkpoint/restore). */
export function criuFailureError(
  action: string,
  log: string,
  logPath: string | undefined,
  cause?: unknown,
): ExtmountError {
  const failure = analyzeCriuLog(log);
  const where = failure.mounts.length ? ` (mount ${failure.mounts.join(', ')})` : '';
  const first = firstCause(failure.errorLines);
  const summary = first ? first.replace(ERROR_PREFIX, '') : 'no Error line in the log';
  return new ExtmountError('criu-failed', `${action} failed: ${summary}${where}`, {
    hint: [failure.fixes[0], logPath ? `full log: ${logPath}` : undefined].filter(Boolean).join('; '),
    details: failure.errorLines.slice(0, 8),
    cause,
  });
}
