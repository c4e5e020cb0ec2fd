// Reads mount tables and file types from the running system.
import { readFileSync } from 'node:fs';
import { lstat, open, readdir, readFile } from 'node:fs/promises';
import { formatBytes, READ_LIMITS, readAtMost } from '../fs/untrusted-file.js';
import { ExtmountError } from '../../core/errors.js';
import type { FileType } from '../../core/mounts/plan.js';
import { procStatFields } from '../../core/proc-stat.js';

export async function readMountinfo(pid: number): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/mountinfo`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') {
      throw new ExtmountError('bad-input', `no process with pid ${pid}`, {
        hint: 'check the pid with `ps -p PID`',
        cause: err,
      });
    }
    throw new ExtmountError('bad-input', `cannot read /proc/${pid}/mountinfo: ${(err as Error).message}`, {
      hint: 'run extmount as root on the host where the process runs',
      cause: err,
    });
  }
}

/** Our own mount namespace: where host paths are resolved and restores will look for them. */
export function readOwnMountinfo(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8');
}

/**
 * The same, read synchronously: one synchronous read of 5,000 mounts takes about half as long as
 * readFile's chunked round trips through the thread pool (issue 26); the runtime's checkpoint asks for
 * the container's state first, so that its first read is under way meanwhile.
 */
export function readOwnMountinfoSync(): string {
  return readFileSync('/proc/self/mountinfo', 'utf8');
}

/**
 * `detect --mountinfo FILE`: the user's own choice of file, so symlinks, pipes and process substitution
 * (`<(ssh host cat /proc/1/mountinfo)`) are read as given; only the size is capped (READ_LIMITS).
 */
export async function readMountinfoFile(path: string): Promise<string> {
  const limit = READ_LIMITS.mountinfoFile;
  let bytes: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      bytes = await readAtMost(handle, limit.maxBytes);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new ExtmountError('bad-input', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (bytes.length > limit.maxBytes) {
    throw new ExtmountError(
      'bad-input',
      `${path}: more than ${formatBytes(limit.maxBytes)}, larger than any mountinfo (10,000 mounts are about 1 MiB)`,
      {
        hint: 'pass the text of a /proc/PID/mountinfo file',
      },
    );
  }
  // mountinfo is ASCII with octal escapes: a decoder replacement char means binary input.
  const text = bytes.toString('utf8');
  if (text.includes('\uFFFD'))
    throw new ExtmountError('parse', `${path}: not a mountinfo file (binary content)`, {
      hint: 'pass the text of a /proc/PID/mountinfo file',
    });
  return text;
}

/** lstat, so a symlink at the end of a path is never followed; missing paths are left out. */
export async function fileTypesOf(paths: Iterable<string>): Promise<Map<string, FileType>> {
  const types = new Map<string, FileType>();
  await Promise.all(
    [...new Set(paths)].map(async (path) => {
      const stat = await lstat(path).catch(() => undefined);
      if (stat?.isDirectory()) types.set(path, 'directory');
      else if (stat && !stat.isSymbolicLink()) types.set(path, 'file');
    }),
  );
  return types;
}

/** The pids whose parent is `pid` (from /proc/N/stat; a Go program forks from any of its threads, so /proc/PID/task/T/children would need every thread). */
export async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(procStatFields(stat)[1]);
    if (ppid === pid) out.push(Number(entry));
  }
  return out;
}

/** SIGKILLs the children of `pid` (runc's CRIU: runc then fails its call); returns their pids. */
export async function killChildren(pid: number): Promise<number[]> {
  const children = await childrenOf(pid);
  for (const child of children) {
    try {
      process.kill(child, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return children;
}

/** Whether a TCP connection to local PORT is established in this network namespace (/proc/net/tcp, state 01). */
export async function tcpEstablishedOn(port: number): Promise<boolean> {
  const text = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return text.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1]?.endsWith(hex) === true && f[3] === '01';
  });
}
