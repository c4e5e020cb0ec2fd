// A private mount that holds the copies runc and CRIU restore from, so that nothing they do reaches the host.
//
// Layout: <container state dir>/mnt, bound onto itself and made private (mounts below it propagate
// nowhere), with one numbered entry per copy. Detaching the holder after runc returns removes every copy
// at once; the copies are slaves or private, and unmounts never travel from a slave to its master.
import { lstat, mkdir, readdir, realpath, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFile } from '../criu/run-file.js';
import { ExtmountError } from '../../core/errors.js';
import { boundEntryMismatch } from '../../core/checkpoint/restore-targets.js';
import { mountOfPath } from '../../core/mounts/host-mounts.js';
import { hostMountTable } from '../procfs/mount-table.js';

export class MountHolder {
  private next = 0;
  private mounted = false;

  private constructor(readonly dir: string) {}

  /** Clears what a crashed earlier run may have left, then mounts the holder. */
  static async create(dir: string): Promise<MountHolder> {
    const holder = new MountHolder(dir);
    await holder.release();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await mount(['--bind', dir, dir]);
      holder.mounted = true;
      await mount(['--make-private', dir]);
    } catch (err) {
      await holder.release();
      throw err;
    }
    return holder;
  }

  /**
   * A recursive copy of a config.json bind source made rslave: what runc may bind and detach without
   * touching the host. runc itself follows symlinks in these sources, so the copy does too.
   */
  async rslaveCopy(source: string): Promise<string> {
    const real = await realpath(source).catch(() => {
      throw new ExtmountError('bad-input', `bind source ${source}: no such file or directory`, {
        hint: "the container's bind source must exist to restore it",
      });
    });
    const entry = await this.entryFor(real);
    await mount(['--rbind', real, entry]);
    await mount(['--make-rslave', entry]);
    return entry;
  }

  /** A non-recursive copy of `source` with the given propagation: what CRIU binds and copies sharing from. */
  async bindCopy(source: string, make: 'slave' | 'shared' | 'private'): Promise<string> {
    const entry = await this.entryFor(source);
    await mount(['--bind', source, entry]);
    await mount([`--make-${make}`, entry]);
    return entry;
  }

  /**
   * A copy of `path` (bindCopy; `recursive`: an rbind made rslave, as runc binds a config source),
   * then the mount table must show at the entry what `path` named when it was checked (device and
   * root): a path, or a folder above it, swapped for a symlink between the checks and the bind is
   * refused (exit 2), not mounted. Check what you mounted, not what you looked at.
   */
  async bindChecked(path: string, make: 'slave' | 'shared' | 'private' | 'rslave', what: string): Promise<string> {
    const changed = (how: string, cause?: unknown) =>
      new ExtmountError('refused', `${what} → ${path}: the path ${how}`, {
        hint: 'make sure nothing replaces the path or a folder above it during the restore; nothing was restored',
        cause,
      });
    // The path passed every check a moment ago: a bind that fails now (mount(8): "special device … does not
    // exist") means it was replaced or removed meanwhile.
    let entry: string;
    try {
      if (make === 'rslave') {
        entry = await this.entryFor(path);
        await mount(['--rbind', path, entry]);
        await mount(['--make-rslave', entry]);
      } else {
        entry = await this.bindCopy(path, make);
      }
    } catch (err) {
      throw err instanceof ExtmountError && err.code === 'restore-failed'
        ? changed(`could not be bound (${err.message})`, err)
        : err;
    }
    const mismatch = boundEntryMismatch(entry, path, await hostMountTable());
    if (mismatch) throw changed(`changed while it was being mounted (${mismatch})`);
    return entry;
  }

  /** Detaches the holder and removes the entries; never recursive, so a copy still mounted stays untouched. */
  async release(): Promise<void> {
    if (this.mounted || (await isMountpoint(this.dir))) {
      await runFile('umount', ['-l', this.dir]);
      this.mounted = false;
    }
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(this.dir, name);
      const stat = await lstat(path).catch(() => undefined);
      if (stat?.isDirectory()) await rmdir(path).catch(() => undefined);
      else if (stat && stat.size === 0) await unlink(path).catch(() => undefined);
    }
    await rmdir(this.dir).catch(() => undefined);
  }

  private async entryFor(source: string): Promise<string> {
    // Container processes can write below bind sources: never let a symlink redirect a bind.
    const real = await realpath(source).catch(() => undefined);
    if (real !== source) {
      throw new ExtmountError(
        'refused',
        `${source}: ${real === undefined ? 'no such file or directory' : `goes through a symlink (real path ${real})`}`,
        {
          hint: 'give the real path of the mount source',
        },
      );
    }
    const entry = join(this.dir, String(this.next++));
    if ((await lstat(source)).isDirectory()) await mkdir(entry, { mode: 0o700 });
    else await writeFile(entry, '', { mode: 0o600 });
    return entry;
  }
}

async function mount(args: string[]): Promise<void> {
  const result = await runFile('mount', args);
  if (result.exitCode !== 0) {
    throw new ExtmountError(
      'restore-failed',
      `mount ${args.join(' ')} failed: ${result.stderr.trim() || result.error}`,
      {
        hint: "the restore target must exist on this host and be of the mountpoint's type (a folder for a folder, a file for a file)",
      },
    );
  }
}

async function isMountpoint(path: string): Promise<boolean> {
  const mounts = await hostMountTable().catch(() => undefined);
  return mounts !== undefined && mountOfPath(path, mounts)?.mountpoint === path;
}
