// Rollback where the source engine cannot restore the stopped container in place: Docker 28 with
// containerd 2.1 fails `docker start --checkpoint` of a --network none container before runc runs
// (containerd#12141). The checkpoint is restored instead into a copy made on the same engine with
// NetworkDisabled (the same container to the process, core/docker/restore-blockers.ts); once that
// copy runs, the stopped original goes and the copy takes its name.
import {
  isNetworkFilesBind,
  mountpointsOf,
  networkFilesVolume,
  targetCreateOptions,
} from '../core/migrate/migrate-config.js';
import type { BindTarget } from '../core/migrate/migrate-plan.js';
import { engineError } from '../adapters/docker/docker.js';
import { startFromCheckpoint } from '../adapters/docker/docker-checkpoint.js';
import { applyRootfs, copyData, prepareTransfers, readRootfsPlan, type Sides } from './content.js';
import {
  inspectMaybe,
  removeContainer,
  setRestartPolicy,
  verifyRunning,
  type HelperPool,
} from '../adapters/docker/migrate-engine.js';
import { prepareNetworkFiles, removeOurVolume } from './network-files.js';
import type { MigrationPlan } from './preflight.js';
import type { Progress } from './progress.js';

/** The name the copy has until the original is gone (names are unique per engine). */
export const rollbackCopyName = (name: string) => `${name}-extmount-rollback`;

/**
 * Restores the checkpoint on the source into a NetworkDisabled copy: its id, and what went wrong
 * after it ran, if anything. On failure the copy is removed and the original is left as it was:
 * stopped, with its checkpoint.
 */
export async function restoreInCopy(
  plan: MigrationPlan,
  checkpoint: string,
  pool: HelperPool,
  progress: Progress,
): Promise<{ id: string; problem?: string }> {
  const { source, name } = plan;
  const sid = plan.container.Id;
  const binds: BindTarget[] = (plan.container.Mounts ?? [])
    .filter((m) => (m.Type ?? 'bind') === 'bind' && !isNetworkFilesBind(m))
    .map((m) => ({
      source: m.Source,
      destination: m.Destination,
      readOnly: !m.RW,
      propagation: m.Propagation ?? '',
      target: m.Source,
      from: 'original',
    }));
  const side = { engine: source, image: plan.container.Image };
  const dropFiles = () => removeOurVolume(source, networkFilesVolume(sid)).catch(() => undefined);
  const mounts = await prepareNetworkFiles({ engine: source, id: sid }, side, progress);
  let copyId: string;
  try {
    const body = targetCreateOptions(plan.container, {
      name: rollbackCopyName(name),
      image: plan.container.Image,
      sourceId: sid,
      binds,
      networkDisabled: true,
      extraMounts: mounts,
    });
    copyId = (await source.docker.createContainer(body as never)).id;
  } catch (err) {
    await dropFiles();
    throw engineError(source, err, `creating the copy ${rollbackCopyName(name)} to restore into`);
  }
  try {
    const created = await inspectMaybe(source, copyId);
    const upperDir = created?.GraphDriver?.Name === 'overlay2' ? created.GraphDriver.Data?.UpperDir : undefined;
    const sides: Sides = { source: side, target: side };
    const root = plan.sourceInfo.DockerRootDir;
    // Volumes and binds are the original's own (the copy mounts them): only the checkpoint and the layer move.
    const transfers = await prepareTransfers(sides, pool, {
      sourceId: sid,
      targetId: copyId,
      checkpoint,
      roots: { source: root, target: root },
      upperDir,
      volumes: [],
      binds: [],
    });
    const mountpoints = mountpointsOf(plan.container);
    const rootfs = await readRootfsPlan(source, sid, mountpoints);
    await applyRootfs(sides, { source: sid, target: copyId }, rootfs, mountpoints, transfers.upper, progress);
    await copyData(sides, transfers, progress);
    progress.done();
    await pool.removeAll();
    await startFromCheckpoint(source, copyId, checkpoint);
    await verifyRunning(source, copyId, 300, `${name}'s copy`);
  } catch (err) {
    await pool.removeAll();
    await removeContainer(source, copyId, { force: true }).catch(() => undefined);
    await dropFiles();
    throw err;
  }
  // Before the original goes, so that a run killed after this leaves the copy as the container should
  // be; the copy runs, so a failure here is reported, never a reason to stop it.
  const policy = await setRestartPolicy(source, copyId, plan.restartPolicy).then(
    () => undefined,
    (err: unknown) => `its restart policy was not given back (${(err as Error).message})`,
  );
  try {
    await removeContainer(source, sid, { force: false });
    await source.docker.getContainer(copyId).rename({ name });
    return policy ? { id: copyId, problem: policy } : { id: copyId };
  } catch (err) {
    return {
      id: copyId,
      problem: `${policy ? `${policy}; ` : ''}it runs as ${rollbackCopyName(name)}: replacing the stopped original failed (${(err as Error).message}); finish with docker rm ${sid.slice(0, 12)}; docker rename ${rollbackCopyName(name)} ${name}`,
    };
  }
}
