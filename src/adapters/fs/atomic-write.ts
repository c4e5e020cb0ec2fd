// Writes a file whole or not at all, never through a planted symlink: the one way extmount writes files.
//
// The content goes into a temporary file created with O_CREAT|O_EXCL|O_NOFOLLOW under a random name in
// the same folder (a name nobody can plant a symlink or FIFO at in advance, unlike "daemon.json.extmount.tmp"),
// is fsynced, and is renamed over the target; rename replaces a symlink at the target instead of
// following it. Readers see the old file or the new one, never half of one.
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ExtmountError, fileError } from '../../core/errors.js';

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface WriteOptions {
  /** Permission bits of the new file (default 0600), set exactly (not reduced by the umask). */
  mode?: number;
  /**
   * fsync the file and its folder (default true). false only for files read at once on this host and
   * worthless after a crash: a post-copy checkpoint's images, whose frozen source does not survive one either.
   */
  sync?: boolean;
}

/** Replaces `path` atomically with `data`. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteOptions = {},
): Promise<void> {
  // node:crypto on first use, not at load: the CLI's entry imports this module (state-dir.ts says why).
  const { randomBytes } = await import('node:crypto');
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  const sync = options.sync ?? true;
  try {
    await writeNewFile(temp, data, options.mode ?? 0o600, sync);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw fileError('write', path, err);
  }
  if (sync) await syncFolder(dirname(path));
}

/** Creates `path` with `data`; refuses (exit 2) when anything, a symlink included, is already there. */
export async function createFileExclusive(
  path: string,
  data: string | Uint8Array,
  options: WriteOptions = {},
): Promise<void> {
  try {
    await writeNewFile(path, data, options.mode ?? 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ExtmountError('bad-input', `cannot create ${path}: something is already there`, {
        hint: 'remove it, or look at what put it there',
        cause: err,
      });
    }
    throw fileError('write', path, err);
  }
  await syncFolder(dirname(path));
}

async function writeNewFile(path: string, data: string | Uint8Array, mode: number, sync = true): Promise<void> {
  const handle = await open(path, CREATE_FLAGS, mode);
  let ok = false;
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
    if (sync) await handle.sync();
    ok = true;
  } finally {
    await handle.close();
    if (!ok) await unlink(path).catch(() => undefined);
  }
}

/** The rename itself survives a crash only once the folder is synced; best effort (some filesystems refuse). */
async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY).catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}
