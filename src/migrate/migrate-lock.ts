// One migrate per container: an flock on <stateDir>/migrate/<container id>.lock, held from before preflight
// until the run (its rollback included) has ended. Two runs of one container used to race: both named their
// checkpoint after the same UTC second, and one's cleanup removed the other's copy on the target (issue 27).
//
// Keyed by the container's ID, not by the engine's address: the 64-hex ID names one container on one engine,
// while one engine answers at several addresses (unix:///var/run/docker.sock and unix:///run/docker.sock).
// The lock is this host's: two migrates started on two hosts against one engine do not see each other's.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { lockFile, type DirLock } from '../adapters/fs/dir-lock.js';
import type { Engine } from '../adapters/docker/docker.js';
import { ExtmountError } from '../core/errors.js';
import { describeLockHolder } from '../core/lock-holder.js';
import { inspectSource } from '../adapters/docker/migrate-engine.js';

/**
 * Takes the lock of the container `ref` names on the source; undefined when the source does not show it
 * (gone, moved, engine down): preflight then says what is true in its own words.
 */
export async function lockMigration(stateDir: string, source: Engine, ref: string): Promise<DirLock | undefined> {
  const container = await inspectSource(source, ref).catch(() => undefined);
  if (!container) return undefined;
  return lockContainer(stateDir, source, container);
}

export async function lockContainer(
  stateDir: string,
  source: Engine,
  container: { Id: string; Name: string },
): Promise<DirLock> {
  // The ID is the engine's data: it names a file only in the form the engine makes.
  if (!/^[0-9a-f]{64}$/.test(container.Id))
    throw new ExtmountError(
      'bad-input',
      `${source.where} gave the container ID "${container.Id.slice(0, 80)}", not 64 hex digits`,
    );
  const dir = join(stateDir, 'migrate');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const name = container.Name.replace(/^\//, '');
  return lockFile(
    join(dir, `${container.Id}.lock`),
    (holder) =>
      new ExtmountError(
        'busy',
        `another extmount migrate of ${name} (${container.Id.slice(0, 12)}) is running on this host (${describeLockHolder(holder)})`,
        {
          hint: 'wait for it to finish: a container is moved by one migrate at a time',
        },
      ),
  );
}
