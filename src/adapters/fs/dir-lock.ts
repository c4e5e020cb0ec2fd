// One run at a time: an flock(2) on a lock file, held while the run lasts — one restore per images dir, one
// migrate per container.
//
// Node has no flock; flock(1) (util-linux) takes it for us on the descriptor we hand it as its fd 3.
// flock locks belong to the open file description, which that fd shares with ours: the lock stays when
// flock(1) exits and goes when we close the file, or when extmount dies — a crash never leaves a stale lock.
// Our descriptor is O_CLOEXEC (libuv opens every file so), so CRIU and the restored tree never hold it.
import { constants } from 'node:fs';
import { lstat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ExtmountError } from '../../core/errors.js';
import { parseLockHolder, renderLockHolder, type LockHolder } from '../../core/lock-holder.js';
import { openUntrusted, READ_LIMITS, requireRegularFile } from './untrusted-file.js';

export const RESTORE_LOCK_FILE = '.extmount-restore.lock';

/** flock(1)'s exit status when the lock is held elsewhere (--conflict-exit-code). */
const CONFLICT = 75;
const LOCK_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface DirLock {
  path: string;
  release(): Promise<void>;
}

/**
 * Takes `DIR/.extmount-restore.lock` without waiting; a second restore of the same dir is refused
 * (exit 2) with the pid of the one that holds it.
 */
export function lockImagesDir(dir: string, what = 'restore'): Promise<DirLock> {
  return lockFile(
    join(dir, RESTORE_LOCK_FILE),
    (holder) =>
      new ExtmountError(
        'busy',
        `another extmount ${what} of ${dir} is running${holder ? ` (pid ${holder.pid})` : ''}`,
        {
          hint: 'wait for it to finish; one images dir is restored once at a time',
        },
      ),
  );
}

/**
 * Takes the lock at `path` without waiting, and writes who holds it (pid, start time); when another
 * process holds it, throws what `busy` makes of that holder (undefined when its record is unreadable).
 */
export async function lockFile(
  path: string,
  busy: (holder: LockHolder | undefined) => ExtmountError,
): Promise<DirLock> {
  // The file is removed on release; one that was removed between our open and our lock is not the lock
  // any more (the next run makes a new one): open it again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const handle = await openUntrusted(path, READ_LIMITS.lockFile, LOCK_FLAGS);
    try {
      const stat = await handle.stat();
      requireRegularFile(stat, path, READ_LIMITS.lockFile);
      if (!(await flockNonBlocking(handle, path))) throw busy(await readHolder(handle));
      const now = await lstat(path).catch(() => undefined);
      if (now?.ino !== stat.ino || now.dev !== stat.dev) {
        await handle.close();
        continue;
      }
      await handle.truncate(0);
      await handle.write(renderLockHolder({ pid: process.pid, since: new Date().toISOString() }), 0);
      return { path, release: () => release(handle, path, stat.ino) };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }
  throw new ExtmountError('busy', `cannot lock ${path}: it keeps being replaced`, {
    hint: 'another extmount run is starting and stopping there: try again',
  });
}

/** The holder writes its record right after it took the lock: a moment later it is there. */
async function readHolder(handle: FileHandle): Promise<LockHolder | undefined> {
  for (let attempt = 0; ; attempt++) {
    const buffer = Buffer.alloc(READ_LIMITS.lockFile.maxBytes);
    const read = await handle.read(buffer, 0, buffer.length, 0).catch(() => ({ bytesRead: 0 }));
    const holder = parseLockHolder(buffer.subarray(0, read.bytesRead).toString('utf8'));
    if (holder || attempt === 10) return holder;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function flockNonBlocking(handle: FileHandle, path: string): Promise<boolean> {
  // execa takes no raw descriptor for fd 3; child_process does.
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done) => {
    const child = spawn('flock', ['--nonblock', '--conflict-exit-code', String(CONFLICT), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', handle.fd],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err) => done({ code: null, stderr: err.message }));
    child.on('close', (code) => done({ code, stderr }));
  });
  if (code === 0) return true;
  if (code === CONFLICT) return false;
  throw new ExtmountError('bad-input', `cannot lock ${path}: flock failed (${stderr.trim() || `exit ${code}`})`, {
    hint: 'install util-linux (flock)',
  });
}

/** Removes the file while still holding the lock, then lets go (a waiter that opened it sees it gone and retries). */
async function release(handle: FileHandle, path: string, ino: number): Promise<void> {
  const now = await lstat(path).catch(() => undefined);
  if (now?.ino === ino) await unlink(path).catch(() => undefined);
  await handle.close().catch(() => undefined);
}
