// What an earlier, interrupted run of migrate left: removed before a new run (or a re-run) goes on.
import { ExtmountError } from '../core/errors.js';
import type { Config } from '../core/config.js';
import { CHECKPOINT_PREFIX, LABEL_FROM, networkFilesVolume } from '../core/migrate/migrate-config.js';
import { engineError, type Engine } from '../adapters/docker/docker.js';
import { deleteCheckpoint, listCheckpoints } from '../adapters/docker/docker-checkpoint.js';
import { listLabelled, removeContainer, removeHelpers } from '../adapters/docker/migrate-engine.js';
import { removeLive } from '../adapters/live/live-files.js';
import type { Log } from '../adapters/log.js';
import { bestEffortWith } from './best-effort.js';
import { removeJournals } from './journal.js';
import { removeOurVolume } from './network-files.js';
import { endTaskOfCopy } from './rollback.js';
import type { MigrateDeps } from './migrate.js';
import type { MigrationPlan } from './preflight.js';

/** Before anything of an earlier run is removed: the copies the engine does not show as running must have no process left. */
export async function endLeftoverTasks(plan: MigrationPlan, deps: MigrateDeps): Promise<void> {
  for (const c of plan.targetContainers) {
    if (c.running) continue;
    const ended = await endTaskOfCopy(plan, c.id, deps);
    if (ended === 'unknown' && plan.mode === 'fresh')
      deps.log.warn(
        `${c.id.slice(0, 12)} on ${plan.target.where}, left by an earlier run, is removed without a look at its processes (that host's cannot be seen from here)`,
      );
    if (ended === 'unknown' && plan.mode === 'resume') {
      // The earlier run stopped with the source frozen: its start may have been cut off by the target engine's death.
      throw new ExtmountError(
        'docker-failed',
        `${plan.name} stays stopped on ${plan.source.where} with its checkpoint: the copy ${c.id.slice(0, 12)} an earlier run made on ${plan.target.where} may still run a process its engine does not show (a start the engine died in, moby#40613), and that host's processes cannot be seen from here`,
        {
          hint: `on that host, make sure no task of it runs (ctr -n moby tasks ls; ctr -n moby tasks delete --force ${c.id}), remove the copy (docker rm -f ${c.id.slice(0, 12)}), then run migrate again`,
        },
      );
    }
  }
}

/** What an earlier, interrupted run left: never-started or dead copies and volumes on the target, helpers, old checkpoints. */
export async function cleanLeftovers(plan: MigrationPlan, deps: MigrateDeps): Promise<void> {
  const bestEffort = bestEffortWith(deps.log);
  const { source, target } = plan;
  const sid = plan.container.Id;
  // Helpers first: one that mounts a volume keeps it from being removed.
  await removeHelpers(target, sid);
  await removeHelpers(source, sid);
  for (const c of plan.targetContainers) {
    if (c.running) continue;
    deps.log.info(`removing ${c.id.slice(0, 12)} on ${target.where}, left by an earlier run`);
    await removeContainer(target, c.id, { force: true });
  }
  let volumes: Array<{ Name: string }> = [];
  try {
    volumes = ((await target.docker.listVolumes({ filters: { label: [`${LABEL_FROM}=${sid}`] } })).Volumes ??
      []) as Array<{ Name: string }>;
  } catch (err) {
    throw engineError(target, err, 'listing volumes left by an earlier run');
  }
  for (const v of volumes) {
    try {
      await target.docker.getVolume(v.Name).remove();
    } catch (err) {
      throw engineError(target, err, `removing volume ${v.Name} left by an earlier run`);
    }
  }
  // A copy a killed rollback made on the source and never started (preflight refused a running one), and its network files.
  for (const c of await listLabelled(source, LABEL_FROM, sid))
    if (c.State === 'created') await removeContainer(source, c.Id, { force: true });
  await bestEffort(removeOurVolume(source, networkFilesVolume(sid)), 'removing the network files volume on the source');
  for (const name of plan.staleCheckpoints) await deleteCheckpoint(source, sid, name);
  if (plan.mode === 'fresh') await removeJournals(source, sid);
}

/**
 * What a completed move leaves once the source container is gone: its journal, helpers on both sides,
 * the live files, the migration's checkpoints on the copy. complete() calls it; so does the re-run of a
 * move whose run was killed before it had cleared up (the copy runs, the source is gone). A failure is
 * a warning: something stays on that host.
 */
export async function removeLeftoversOfMove(
  source: Engine,
  target: Engine,
  sourceId: string,
  targetId: string,
  config: Config,
  log: Log,
): Promise<void> {
  const warnIfFails = bestEffortWith(log, 'warn');
  await warnIfFails(removeJournals(source, sourceId), 'removing the journal');
  await warnIfFails(removeHelpers(source, sourceId), 'removing helpers on the source');
  await warnIfFails(removeHelpers(target, sourceId), 'removing helpers on the target');
  for (const id of [sourceId, targetId])
    await warnIfFails(removeLive(config.stateDir, id), `removing the live files of ${id.slice(0, 12)}`);
  const kept = (await warnIfFails(listCheckpoints(target, targetId), "listing the copy's checkpoints")) ?? [];
  for (const name of kept.filter((c) => c.startsWith(CHECKPOINT_PREFIX)))
    await warnIfFails(deleteCheckpoint(target, targetId, name), `removing checkpoint ${name} on the target`);
}
