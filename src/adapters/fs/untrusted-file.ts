// Reads files extmount does not trust (written inside containers or on other hosts): never through a
// symlink, never a FIFO or a device, never more than a documented cap.
//
// The open is O_NOFOLLOW|O_NONBLOCK: a symlink as the last component fails with ELOOP instead of
// being followed (a manifest linked to /dev/zero), and a FIFO opens at once instead of waiting for a
// writer that never comes (issue 11: a FIFO as extmount.yaml hung the runtime handler and dockerd with
// it). fstat on the open descriptor then decides: only a regular file is read, and only up to the cap.
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ExtmountError, fileError } from '../../core/errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** What a file is (for messages) and how many bytes it may have. */
export interface ReadLimit {
  what: string;
  maxBytes: number;
}

/** The caps, documented in the README ("Limits on input files"). */
export const READ_LIMITS = {
  manifest: { what: 'manifest (extmount.yaml)', maxBytes: 1 * MiB },
  config: { what: 'extmount config', maxBytes: 1 * MiB },
  daemonJson: { what: 'daemon.json', maxBytes: 1 * MiB },
  containersConf: { what: 'containers.conf drop-in', maxBytes: 1 * MiB },
  dockerCliConfig: { what: 'docker CLI config.json', maxBytes: 1 * MiB },
  dockerContextMeta: { what: 'docker context meta.json', maxBytes: 1 * MiB },
  mapsFile: { what: 'maps file', maxBytes: 1 * MiB },
  runtimeResult: { what: 'runtime result file', maxBytes: 1 * MiB },
  criuConfig: { what: 'CRIU config file', maxBytes: 1 * MiB },
  ociConfig: { what: 'OCI bundle config', maxBytes: 16 * MiB },
  runcStateFile: { what: "runc's state.json", maxBytes: 16 * MiB },
  cgroupFile: { what: 'cgroup freezer file', maxBytes: 4 * KiB },
  procStat: { what: '/proc/PID/stat', maxBytes: 4 * KiB },
  dockerConfig: { what: 'Docker container config', maxBytes: 16 * MiB },
  storageContainers: { what: 'containers/storage containers.json', maxBytes: 16 * MiB },
  criuImage: { what: 'CRIU image', maxBytes: 64 * MiB },
  pidfile: { what: 'pid file', maxBytes: 4 * KiB },
  criuVersionCache: { what: 'CRIU version cache', maxBytes: 4 * KiB },
  mountinfoFile: { what: 'mountinfo file (detect --mountinfo)', maxBytes: 64 * MiB },
  lockFile: { what: 'lock file', maxBytes: 4 * KiB },
} as const satisfies Record<string, ReadLimit>;

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The file's bytes; refuses (exit 2, one line) a symlink, anything but a regular file, or more than the cap. */
export async function readBoundedFile(path: string, limit: ReadLimit): Promise<Buffer> {
  return (await readUntrusted(path, limit)).bytes;
}

/** readBoundedFile, with the fstat of what was read (its mode, owner, inode). */
export async function readUntrusted(path: string, limit: ReadLimit): Promise<{ bytes: Buffer; stat: Stats }> {
  const handle = await openUntrusted(path, limit);
  try {
    const stat = await handle.stat();
    return { bytes: await readOpenFile(handle, path, limit, stat), stat };
  } finally {
    await handle.close();
  }
}

export async function readBoundedText(path: string, limit: ReadLimit): Promise<string> {
  return (await readBoundedFile(path, limit)).toString('utf8');
}

/** As readBoundedText, but a missing file (or a missing folder on the way) is undefined. */
export async function readBoundedTextIfExists(path: string, limit: ReadLimit): Promise<string | undefined> {
  return (await readUntrustedIfExists(path, limit))?.bytes.toString('utf8');
}

/** As readUntrusted, but a missing file (or a missing folder on the way) is undefined. */
export async function readUntrustedIfExists(
  path: string,
  limit: ReadLimit,
): Promise<{ bytes: Buffer; stat: Stats } | undefined> {
  try {
    return await readUntrusted(path, limit);
  } catch (err) {
    const code = ((err as ExtmountError).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Opens without following a final symlink and without blocking on a FIFO. */
export async function openUntrusted(path: string, limit: ReadLimit, flags = OPEN_FLAGS): Promise<FileHandle> {
  try {
    return await open(path, flags);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new ExtmountError('bad-input', `${path}: the ${limit.what} is a symlink, which extmount does not follow`, {
        hint: 'put the real file there',
        cause: err,
      });
    }
    throw fileError('read', path, err);
  }
}

/** Reads an open untrusted file: regular files only, at most `limit.maxBytes`. */
export async function readOpenFile(handle: FileHandle, path: string, limit: ReadLimit, stat?: Stats): Promise<Buffer> {
  stat ??= await handle.stat();
  requireRegularFile(stat, path, limit);
  if (stat.size > limit.maxBytes) throw tooLarge(path, limit, `${stat.size} bytes`);
  const bytes = await readAtMost(handle, limit.maxBytes);
  // The size was checked, but a file may grow while it is read: never more than the cap.
  if (bytes.length > limit.maxBytes) throw tooLarge(path, limit, `more than ${limit.maxBytes} bytes`);
  return bytes;
}

export function requireRegularFile(stat: Stats, path: string, limit: ReadLimit): void {
  if (stat.isFile()) return;
  throw new ExtmountError('bad-input', `${path}: the ${limit.what} is ${describeType(stat)}, not a regular file`, {
    hint: 'remove it and put a regular file there',
  });
}

/** Reads until the end or until `maxBytes + 1` bytes (one more than allowed: enough to know it is too much). */
export async function readAtMost(handle: FileHandle, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const want = Math.min(64 * KiB, maxBytes + 1 - total);
    if (want <= 0) break;
    const buffer = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(buffer, 0, want, null);
    if (bytesRead === 0) break;
    chunks.push(bytesRead === want ? buffer : buffer.subarray(0, bytesRead));
    total += bytesRead;
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(path: string, limit: ReadLimit, size: string): ExtmountError {
  return new ExtmountError(
    'bad-input',
    `${path}: the ${limit.what} has ${size}, more than the ${formatBytes(limit.maxBytes)} allowed`,
    {
      hint: 'it is not one extmount wrote; remove it or replace it with a real one',
    },
  );
}

function describeType(stat: Stats): string {
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  if (stat.isDirectory()) return 'a directory';
  return 'not a regular file';
}

export function formatBytes(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} bytes`;
}
