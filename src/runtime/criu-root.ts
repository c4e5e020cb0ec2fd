// After a failed `runc restore`: the criu-root mounts runc left (core/runtime/criu-root.ts) are detached and
// the folders it could not remove are removed if empty, so that nothing of the restore stays on the host
// and a retry is not refused with "already exists". runc's state of a container it does have is kept.
import { realpath, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hostMountTable } from '../adapters/procfs/mount-table.js';
import { runFile } from '../adapters/criu/run-file.js';
import { CRIU_ROOT, criuRootLeftovers } from '../core/runtime/criu-root.js';

/**
 * Called before runc restore runs: how to clear what it leaves if it fails. Nothing is cleared when
 * <runc root>/<id> was there before (another restore or container of that ID owns it; runc then refuses
 * with "already exists" and leaves it alone too).
 */
export async function failedRestoreCleanup(runcRoot: string, id: string): Promise<() => Promise<string[]>> {
  const root = await realpath(runcRoot).catch(() => runcRoot);
  const dir = join(root, id);
  if (
    await stat(dir).then(
      () => true,
      () => false,
    )
  )
    return async () => [];
  return () => clearFailedRestore(root, dir, id);
}

/** What was cleared, for the runtime log; empty when the restore left nothing. */
async function clearFailedRestore(root: string, dir: string, id: string): Promise<string[]> {
  const done: string[] = [];
  for (let round = 0; round < 8; round++) {
    const left = criuRootLeftovers(await hostMountTable(), root, id);
    if (left.length === 0) break;
    for (const path of left) {
      const r = await runFile('umount', ['-l', path]);
      done.push(r.exitCode === 0 ? `unmounted ${path}` : `could not unmount ${path}: ${r.stderr.trim() || r.error}`);
    }
  }
  // rmdir, never a recursive removal: a folder still holding anything is runc's.
  if (
    await rmdir(join(dir, CRIU_ROOT)).then(
      () => true,
      () => false,
    )
  )
    done.push(`removed ${join(dir, CRIU_ROOT)}`);
  if (
    !(await stat(join(dir, 'state.json')).then(
      () => true,
      () => false,
    )) &&
    (await rmdir(dir).then(
      () => true,
      () => false,
    ))
  )
    done.push(`removed ${dir}`);
  return done;
}
