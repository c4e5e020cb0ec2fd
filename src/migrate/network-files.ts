// The files dockerd binds into a --network none container but not into a NetworkDisabled one
// (Docker 28): /etc/hosts, /etc/hostname, /etc/resolv.conf. A checkpoint of the first holds those
// mounts, and CRIU refuses to restore it without them (`mnt: No mapping for … mountpoint`, seen on
// Docker 28.5 / containerd 2.1.9). So the NetworkDisabled copy (core/docker/restore-blockers.ts)
// gets them as binds of files in a volume of its own (labelled, removed with an unfinished
// run's leftovers; kept with the copy), with the source container's content.
import {
  LABEL_FROM,
  NETWORK_FILES,
  isNetworkFilesBind,
  networkFilesVolume,
  type SourceInspect,
} from '../core/migrate/migrate-config.js';
import { ExtmountError } from '../core/errors.js';
import { TarFormatError } from '../core/migrate/migrate-tar.js';
import { engineError, type Engine } from '../adapters/docker/docker.js';
import { copyArchive } from './archives.js';
import { withHelper } from '../adapters/docker/migrate-engine.js';
import type { Progress } from './progress.js';

/** At most this many bytes per network file copied from the source. */
export const NETWORK_FILE_MAX = 1 << 20;

/** A copy needs them when it is made NetworkDisabled from a --network none container, or its source is such a copy. */
export function needsNetworkFiles(container: SourceInspect, networkDisabledCopy: boolean): boolean {
  return networkDisabledCopy || (container.Mounts ?? []).some((m) => isNetworkFilesBind(m));
}

/**
 * Creates the volume on `on`, fills it from the source container's /etc files and returns the
 * binds for the copy's create body (their sources must exist when it is created). On failure
 * nothing of it is left.
 */
export async function prepareNetworkFiles(
  source: { engine: Engine; id: string },
  on: { engine: Engine; image: string },
  progress: Progress,
): Promise<Array<Record<string, unknown>>> {
  const volume = networkFilesVolume(source.id);
  let mountpoint: string;
  // Creating a volume that exists returns it: one that is not ours must not be filled (and later removed).
  const existing = await volumeLabels(on.engine, volume);
  if (existing !== undefined && existing[LABEL_FROM] !== source.id) {
    throw new ExtmountError('refused', `${on.engine.where} has a volume ${volume} that migrate did not make`, {
      hint: 'remove or rename it there, then run migrate again',
    });
  }
  try {
    await on.engine.docker.createVolume({ Name: volume, Driver: 'local', Labels: { [LABEL_FROM]: source.id } });
    mountpoint = ((await on.engine.docker.getVolume(volume).inspect()) as { Mountpoint: string }).Mountpoint;
  } catch (err) {
    throw engineError(on.engine, err, `creating volume ${volume}`);
  }
  const from = source.engine.docker.getContainer(source.id);
  const fill = withHelper(
    on.engine,
    { image: on.image, sourceId: source.id, mounts: [{ type: 'volume', source: volume, target: '/extmount/net' }] },
    async (helper) => {
      for (const file of NETWORK_FILES) {
        await copyArchive(
          { engine: source.engine, container: from, path: `/etc/${file}` },
          { engine: on.engine, container: helper, path: '/extmount/net' },
          {
            policy: { root: file, allowLinks: false, allowDevices: false },
            kind: 'rootfs',
            progress,
            // Written inside the container: only the one regular file, and no bigger than such a file can sensibly be.
            decide: (entry) => {
              if (entry.type !== 'file' || entry.header.size > NETWORK_FILE_MAX) {
                throw new TarFormatError(
                  `refused /etc/${file} of the source: ${entry.type !== 'file' ? `a ${entry.type}` : `${entry.header.size} bytes, over ${NETWORK_FILE_MAX}`}`,
                );
              }
              return 'keep';
            },
          },
        );
      }
    },
  );
  try {
    await fill;
  } catch (err) {
    await removeOurVolume(on.engine, volume).catch(() => undefined);
    throw err;
  }
  return NETWORK_FILES.map((file) => ({ Type: 'bind', Source: `${mountpoint}/${file}`, Target: `/etc/${file}` }));
}

/** The network-files volumes a container's binds come from (it was made as such a copy). */
export function networkFilesVolumesOf(container: SourceInspect): string[] {
  return (container.Mounts ?? [])
    .filter((m) => isNetworkFilesBind(m))
    .map((m) => /\/volumes\/([^/]+)\/_data\//.exec(m.Source)![1]!);
}

/** Removes a network-files volume only if migrate made it: named after the container its label names. */
export async function removeOurVolume(engine: Engine, volume: string): Promise<void> {
  const from = (await volumeLabels(engine, volume))?.[LABEL_FROM];
  if (!from || networkFilesVolume(from) !== volume) return;
  await engine.docker.getVolume(volume).remove();
}

async function volumeLabels(engine: Engine, volume: string): Promise<Record<string, string> | undefined> {
  try {
    return (
      ((await engine.docker.getVolume(volume).inspect()) as { Labels?: Record<string, string> | null }).Labels ?? {}
    );
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw engineError(engine, err, `inspecting volume ${volume}`);
  }
}
