// Makes a CRIU failure actionable: the Error lines of its log, the mount they name, and the fix.
import { ExtmountError } from '../errors.js';

// Lines CRIU prints on every run on some machines; they are not the failure (ENVIRONMENT.md).
const NOISE = [/rlimit: Can't setup RLIMIT_NOFILE/];

const FIXES: Array<[RegExp, string]> = [
  [/doesn't have a proper root mount/, 'the mount is external: map it with --external mnt[MOUNTPOINT]:KEY (extmount detect finds these)'],
  [/has unreachable sharing/, 'its peer group lies outside the container: dump with --enable-external-masters (extmount adds it when it detects this)'],
  [/Failed to copy sharing from/, 'the restore source has no peer group to copy: map the key to a path inside a shared host mount, or restore without keeping propagation'],
  [/No mapping for .* mountpoint|ext mount.*not found|Unable to find external mount/i, 'a key in the images has no mapping: pass --map KEY=PATH'],
  [/The root task has another root than mntns/, 'the tree was entered with chroot: use pivot_root (as container runtimes do)'],
  [/Can't dump ghost file|Can't lookup mount=\d+ for fd=/, 'a process holds a file on a mount CRIU cannot see: close it or make the mount visible in the tree'],
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
    .filter((line) => /^\(?[\d.]*\)?\s*Error|^Error \(/.test(line.trim()))
    .map((line) => line.trim())
    .filter((line) => !NOISE.some((n) => n.test(line)));
  const mounts = [...new Set(errorLines.flatMap((line) => [...line.matchAll(/(?:Mount |mnt: )(\d+):?\s*(\.?\/\S*)/g)].map((m) => `${m[1]} ${m[2]}`)))];
  const fixes = [...new Set(errorLines.flatMap((line) => FIXES.filter(([pattern]) => pattern.test(line)).map(([, fix]) => fix)))];
  return { errorLines, mounts, fixes };
}

/** The error extmount reports for a failed `criu dump`/`criu restore` (or runc checkpoint/restore). */
export function criuFailureError(action: string, log: string, logPath: string | undefined, cause?: unknown): ExtmountError {
  const failure = analyzeCriuLog(log);
  const where = failure.mounts.length ? ` (mount ${failure.mounts.join(', ')})` : '';
  const first = failure.errorLines.find((l) => !/Dumping FAILED|Restoring FAILED/.test(l)) ?? failure.errorLines[0];
  const summary = first ? first.replace(/^\(?[\d.]*\)?\s*Error \([^)]*\):\s*/, '') : 'no Error line in the log';
  return new ExtmountError('criu-failed', `${action} failed: ${summary}${where}`, {
    hint: [failure.fixes[0], logPath ? `full log: ${logPath}` : undefined].filter(Boolean).join('; '),
    details: failure.errorLines.slice(0, 8),
    cause,
  });
}
