// Checks restore targets on this host before CRIU runs: exists, same type as recorded, allowed, no symlinks.
import { lstat, realpath } from 'node:fs/promises';
import type { Config } from '../../core/config.js';
import { ExtmountError } from '../../core/errors.js';
import { refusalOf, type RestoreTarget } from '../../core/checkpoint/restore-targets.js';

/** Refuses the first bad target with exit 2; touches nothing. */
export async function checkRestoreTargets(
  targets: readonly RestoreTarget[],
  hostPaths: Config['hostPaths'],
  extraDeny: readonly string[] = [],
): Promise<void> {
  for (const target of targets) {
    const { mount, path } = target;
    const label = `${mount.mountpoint} (key ${mount.key}) → ${path}`;
    const refusal = refusalOf(path, hostPaths, extraDeny);
    if (refusal) {
      throw new ExtmountError('refused', `${label}: the path ${refusal}`, {
        hint: 'choose another path, or allow it in the config (hostPaths.allow)',
      });
    }
    const type = await checkHostPath(label, path, { missingHint: `create it or pass --map ${mount.key}=PATH` });
    if (mount.type !== 'unknown' && mount.type !== type) {
      throw new ExtmountError('refused', `${label}: a ${mount.type} was recorded, this is a ${type}`, {
        hint: `pass --map ${mount.key}=PATH to a ${mount.type}`,
      });
    }
  }
}

/** The path exists and is reached without a symlink; says whether it is a file or a directory. Refuses with exit 2. */
export async function checkHostPath(
  label: string,
  path: string,
  options: { missingHint: string },
): Promise<'file' | 'directory'> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat)
    throw new ExtmountError('refused', `${label}: no such file or directory on this host`, {
      hint: options.missingHint,
    });
  // A symlink anywhere in the path could point the mount at a place the allowlist never saw.
  const real = await realpath(path).catch(() => path);
  if (stat.isSymbolicLink() || real !== path) {
    throw new ExtmountError('refused', `${label}: the path goes through a symlink (real path ${real})`, {
      hint: 'give the real path',
    });
  }
  return stat.isDirectory() ? 'directory' : 'file';
}
