// Copies what the checkpoint does not hold: the writable layer (with deletions), volumes, binds, and the checkpoint files themselves.
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { ExtmountError } from '../core/errors.js';
import { LABEL_FROM } from '../core/migrate/migrate-config.js';
import {
  basename,
  dirname,
  planRootfsChanges,
  type BindTarget,
  type RootfsPlan,
} from '../core/migrate/migrate-plan.js';
import { isUnder } from '../core/checkpoint/restore-targets.js';
import type { TransferKind } from '../core/migrate/migrate-report.js';
import { TarFormatError, encodeFileEntry } from '../core/migrate/migrate-tar.js';
import { containerChanges, engineError, type Engine } from '../adapters/docker/docker.js';
import { CHECKPOINT_ATTEMPT_FILE, CHECKPOINT_MAPS_FILE } from '../core/runtime/runtime-files.js';
import { compareDigests, describeMismatches, type DigestCheck, type Digests } from '../core/migrate/digests.js';
import { copyArchive, digestArchive, putEntries, whiteoutEntry } from './archives.js';
import { statPath, withHelper, type HelperMount, type HelperPool } from '../adapters/docker/migrate-engine.js';
import type { VolumePlan } from './preflight.js';
import type { Progress } from './progress.js';

export interface Side {
  engine: Engine;
  /** Image for helper containers on that engine. */
  image: string;
}

export interface Sides {
  source: Side;
  target: Side;
}

/**
 * Everything the copy after the freeze goes through, made before it. One reader helper on the
 * source mounts, side by side under /extmount, the checkpoint folder, every volume and (with
 * --copy-binds) every bind; one writer helper on the target mounts the same names. Then a single
 * getArchive → putArchive moves all of it: each archive call makes the engine mount and unmount
 * the container's rootfs and mounts, which is what takes the time.
 */
export interface Transfers {
  /** Binds the new container's overlay upper directory (overlay2 only): deletions are written there. */
  upper: Docker.Container | undefined;
  reader: Docker.Container;
  writer: Docker.Container;
  /**
   * Mounts only the target's checkpoint folder: the read-back and the start nonce go through it, so
   * that no archive call after the copy mounts the writer's binds (a legacy bind whose folder vanished
   * on the target would be made again, empty, and the start would then not fail as it must).
   */
  checkpoint: Docker.Container;
}

/** Names under /extmount in the reader and the writer. */
export const CHECKPOINT_DIR = 'checkpoint';
export const volumeDir = (i: number) => `volume-${i}`;
export const bindDir = (i: number) => `bind-${i}`;

/** The volume on the target, labelled as ours, before the container that mounts it (else the engine makes an unlabelled one). */
export async function createTargetVolume(target: Engine, sourceId: string, volume: VolumePlan): Promise<void> {
  try {
    await target.docker.createVolume({ Name: volume.name, Driver: 'local', Labels: { [LABEL_FROM]: sourceId } });
  } catch (err) {
    throw engineError(target, err, `creating volume ${volume.name}`);
  }
}

/**
 * The helpers, before the freeze. The checkpoint folders are legacy binds the engine creates when
 * the archive call mounts them (after the checkpoint exists: an existing folder of that name would
 * make the checkpoint fail), `<root>/containers/<id>/checkpoints/<name>` on both sides: there
 * `docker start --checkpoint` looks (a custom checkpoint dir is refused on start, moby#37344).
 */
export async function prepareTransfers(
  sides: Sides,
  pool: HelperPool,
  x: {
    sourceId: string;
    targetId: string;
    checkpoint: string;
    roots: { source: string; target: string };
    upperDir: string | undefined;
    volumes: readonly VolumePlan[];
    binds: readonly BindTarget[];
    /** false: the checkpoint does not come from the source engine's folder (a lazy one is copied on this host: live.ts). */
    checkpointFromSource?: boolean;
  },
): Promise<Transfers> {
  const { source, target } = sides;
  const sid = x.sourceId;
  const readerMounts: HelperMount[] = [
    ...(x.checkpointFromSource === false
      ? []
      : [
          {
            type: 'create-bind',
            source: `${x.roots.source}/containers/${sid}/checkpoints/${x.checkpoint}`,
            target: `/extmount/${CHECKPOINT_DIR}`,
            readOnly: true,
          } satisfies HelperMount,
        ]),
    ...x.volumes.map((v, i): HelperMount => ({
      type: 'volume',
      source: v.name,
      target: `/extmount/${volumeDir(i)}`,
      readOnly: true,
    })),
    ...x.binds.map((b, i): HelperMount => ({
      type: 'bind',
      source: b.source,
      target: `/extmount/${bindDir(i)}`,
      readOnly: true,
    })),
  ];
  const writerMounts: HelperMount[] = [
    {
      type: 'create-bind',
      source: `${x.roots.target}/containers/${x.targetId}/checkpoints/${x.checkpoint}`,
      target: `/extmount/${CHECKPOINT_DIR}`,
    },
    ...x.volumes.map((v, i): HelperMount => ({ type: 'volume', source: v.name, target: `/extmount/${volumeDir(i)}` })),
    ...x.binds.map((b, i): HelperMount => ({
      type: 'create-bind',
      source: b.target,
      target: `/extmount/${bindDir(i)}`,
    })),
  ];
  const [upper, reader, writer, checkpoint] = await Promise.all([
    x.upperDir
      ? pool.open(target.engine, {
          image: target.image,
          sourceId: sid,
          mounts: [{ type: 'bind', source: x.upperDir, target: '/extmount/upper' }],
        })
      : Promise.resolve(undefined),
    pool.open(source.engine, { image: source.image, sourceId: sid, mounts: readerMounts }),
    pool.open(target.engine, { image: target.image, sourceId: sid, mounts: writerMounts }),
    pool.open(target.engine, { image: target.image, sourceId: sid, mounts: writerMounts.slice(0, 1) }),
  ]);
  return { upper, reader, writer, checkpoint };
}

/**
 * --copy-binds to a folder the target lacks: the engine creates it (as for `docker run -v`) when
 * a helper's legacy bind is first mounted, here by one path stat; the container's own bind (a
 * Mounts bind) needs it to exist.
 */
export async function createBindFolders(target: Side, sourceId: string, paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  await withHelper(
    target.engine,
    {
      image: target.image,
      sourceId,
      mounts: paths.map((p, i): HelperMount => ({ type: 'create-bind', source: p, target: `/extmount/${bindDir(i)}` })),
    },
    (helper) => statPath(target.engine, helper, '/extmount'),
  );
}

/** The source's writable-layer changes, read while it is stopped (after the checkpoint). */
export async function readRootfsPlan(
  source: Engine,
  sourceId: string,
  mountpoints: readonly string[],
): Promise<RootfsPlan> {
  return planRootfsChanges(await containerChanges(source, sourceId), mountpoints);
}

/**
 * Deletions first: the engine's API cannot delete, so a helper binds the new container's overlay
 * upper directory and receives one whiteout (a 0:0 character device) per deleted path, which is
 * what overlayfs itself writes (the container is not mounted meanwhile: it is created, not
 * started). Then each added subtree, and each modified entry on its own (a modified directory's
 * metadata only: the archive is cut after its first entry), written through the created container.
 * Modified entries go deepest first, so a directory's restored mtime is not bumped by its children.
 */
export async function applyRootfs(
  sides: Sides,
  ids: { source: string; target: string },
  plan: RootfsPlan,
  mountpoints: readonly string[],
  upper: Docker.Container | undefined,
  progress: Progress,
): Promise<Digests> {
  const digests: Digests = new Map();
  const { source, target } = sides;
  if (plan.deletions.length > 0) {
    if (!upper)
      throw new ExtmountError(
        'docker-failed',
        `${target.engine.where} does not use overlay2 for the new container, so the deletions in its writable layer cannot be applied`,
        {
          hint: 'run the target dockerd with the overlay2 storage driver',
        },
      );
    await putEntries(
      { engine: target.engine, container: upper, path: '/extmount/upper' },
      plan.deletions.map((p) => whiteoutEntry(p.slice(1))),
      'rootfs',
      progress,
    );
  }
  const sourceContainer = source.engine.docker.getContainer(ids.source);
  const targetContainer = target.engine.docker.getContainer(ids.target);
  const added = plan.fetch.filter((f) => f.mode === 'added');
  const modified = plan.fetch.filter((f) => f.mode === 'modified').reverse();
  for (const fetch of [...added, ...modified]) {
    const parent = dirname(fetch.path);
    const inContainer = (path: string) => `${parent === '/' ? '' : parent}/${path}`;
    const copied = await copyArchive(
      { engine: source.engine, container: sourceContainer, path: fetch.path },
      { engine: target.engine, container: targetContainer, path: parent },
      {
        policy: { root: basename(fetch.path), allowLinks: true, allowDevices: true },
        kind: 'rootfs',
        progress,
        decide: (entry) => {
          if (fetch.mode === 'modified') return entry.type === 'dir' ? 'keep-last' : 'keep';
          // The archive endpoint shows mounts inside the tree: their content is not the layer's.
          const path = inContainer(entry.path);
          return mountpoints.some((m) => isUnder(path, m)) ? 'skip' : 'keep';
        },
        digestKey: inContainer,
      },
    );
    for (const [path, digest] of copied.digests) digests.set(path, digest);
  }
  return digests;
}

/**
 * The checkpoint, the volumes and the binds in one archive. It is data from the source: CRIU
 * images are plain files, so links, devices and anything else are refused in the checkpoint.
 */
export async function copyData(sides: Sides, transfers: Transfers, progress: Progress): Promise<Digests> {
  const checkpointPrefix = `extmount/${CHECKPOINT_DIR}`;
  const kindOf = (path: string | undefined): TransferKind =>
    path === undefined || path === 'extmount' || isUnder(`/${path}`, `/${checkpointPrefix}`)
      ? 'checkpoint'
      : path.startsWith('extmount/bind-')
        ? 'binds'
        : 'volumes';
  const copied = await copyArchive(
    { engine: sides.source.engine, container: transfers.reader, path: '/extmount' },
    { engine: sides.target.engine, container: transfers.writer, path: '/' },
    {
      policy: { root: 'extmount', allowLinks: true, allowDevices: true },
      kind: kindOf,
      progress,
      decide: (entry) => {
        if (isUnder(`/${entry.path}`, `/${checkpointPrefix}`) && entry.type !== 'file' && entry.type !== 'dir') {
          throw new TarFormatError(`refused a ${entry.type} ${JSON.stringify(entry.path)} in the checkpoint`);
        }
        // An operator's --map on this host is no instruction for the target's runtime; a start nonce is this host's.
        const local = [CHECKPOINT_MAPS_FILE, CHECKPOINT_ATTEMPT_FILE].map((f) => `${checkpointPrefix}/${f}`);
        return local.includes(entry.path) ? 'skip' : 'keep';
      },
      digestKey: (path) =>
        path.startsWith(`${checkpointPrefix}/`) ? path.slice(checkpointPrefix.length + 1) : undefined,
    },
  );
  return copied.digests;
}

/** A new CHECKPOINT_ATTEMPT_FILE in the target's checkpoint folder (before each start from it). */
export async function markStartAttempt(target: Engine, transfers: Transfers, progress: Progress): Promise<void> {
  const nonce = Buffer.from(`${randomUUID()}\n`);
  const entry = encodeFileEntry(
    { name: CHECKPOINT_ATTEMPT_FILE, mode: 0o600, uid: 0, gid: 0, mtime: Math.floor(Date.now() / 1000) },
    nonce,
  );
  await putEntries(
    { engine: target, container: transfers.checkpoint, path: `/extmount/${CHECKPOINT_DIR}` },
    [entry],
    'checkpoint',
    progress,
  );
}

/** What the target was checked for before the start. */
export interface TargetCheck {
  checkpointFiles: number;
  /** null: the target's storage driver is not overlay2, so its layer cannot be read back. */
  layerFiles: number | null;
}

/**
 * Before the start: every checkpoint and layer file read back from the target must be the file
 * the source sent (sha256 and size), or the copy is refused and rolled back. A damaged page image
 * restores into a process that may run on with wrong memory, which no liveness check sees.
 */
export async function verifyOnTarget(
  target: Engine,
  transfers: Transfers,
  sent: { checkpoint: Digests; layer: Digests },
): Promise<TargetCheck> {
  const [checkpoint, layer] = await Promise.all([
    digestArchive(
      { engine: target, container: transfers.checkpoint, path: `/extmount/${CHECKPOINT_DIR}` },
      { root: CHECKPOINT_DIR, allowLinks: false, allowDevices: false },
      (p) => (p.startsWith(`${CHECKPOINT_DIR}/`) ? p.slice(CHECKPOINT_DIR.length + 1) : undefined),
    ),
    transfers.upper && sent.layer.size > 0
      ? digestArchive(
          { engine: target, container: transfers.upper, path: '/extmount/upper' },
          { root: 'upper', allowLinks: true, allowDevices: true },
          (p) => (p.startsWith('upper/') ? p.slice(5) : undefined),
        )
      : Promise.resolve(undefined),
  ]);
  const checks: Array<[string, DigestCheck]> = [['checkpoint', compareDigests(sent.checkpoint, checkpoint)]];
  if (layer) checks.push(['writable-layer', compareDigests(sent.layer, layer)]);
  for (const [what, check] of checks) {
    if (check.mismatches.length > 0) {
      throw new ExtmountError('docker-failed', describeMismatches(what, check), {
        hint: "the copy was damaged on the way or on the target's disk: check the target's storage, then run migrate again",
      });
    }
  }
  return {
    checkpointFiles: checks[0]![1].checked,
    layerFiles: layer ? checks[1]![1].checked : sent.layer.size === 0 ? 0 : null,
  };
}
