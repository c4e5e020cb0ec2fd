// Rollback: after the checkpoint, any failure of migrate ends here (stop-and-copy and post-copy), and what
// was made on the target goes. The decisions are core/migrate/rollback-decision.ts; this observes and acts.
import type { HelperPool } from '../adapters/docker/migrate-engine.js';
import { hasReason, type ExtmountError } from '../core/errors.js';
import { LABEL_FROM } from '../core/migrate/migrate-config.js';
import {
  copyNotRemovedRefusal,
  liveCopyLeftRefusal,
  liveMemoryMovedError,
  liveRollbackEnd,
  mustEndCopyTask,
  mustInspectCopy,
  restoreFailedError,
  rolledBackError,
  unseenTaskRefusal,
  type RollbackFacts,
} from '../core/migrate/rollback-decision.js';
import { deleteCheckpoint, startFromCheckpoint } from '../adapters/docker/docker-checkpoint.js';
import {
  describeFailure,
  inspectMaybe,
  removeContainer,
  removeHelpers,
  setRestartPolicy,
  unreachableCode,
  verifyRunning,
} from '../adapters/docker/migrate-engine.js';
import { endUnknownTask } from '../adapters/procfs/host-tasks.js';
import { requestLazyAbort, writeLiveRelease } from '../adapters/live/live-files.js';
import { restoreInCopy } from './rollback-copy.js';
import { WAIT_MS, bestEffortWith } from './best-effort.js';
import { removeJournals } from './journal.js';
import { endLiveSession, type LazyCheckpoint } from './live.js';
import type { MigrateDeps } from './migrate.js';
import type { MigrationPlan } from './preflight.js';

/** What exists on the target so far: rollback removes exactly this. */
export interface TargetState {
  containerId: string | undefined;
  volumes: string[];
  /** Once start was asked for, the copy on the target may run: the source is only brought back when that copy is known gone. */
  startIssued: boolean;
  /** The start got no answer (the engine died during it): its process may run with the engine's record saying it never started. */
  startUnanswered: boolean;
}

/** Before anything was frozen: remove what was made on the target (best effort; a later run removes leftovers by label). */
export async function discardTarget(plan: MigrationPlan, made: TargetState, pool: HelperPool): Promise<void> {
  await pool.removeAll();
  if (made.containerId) await removeContainer(plan.target, made.containerId, { force: true }).catch(() => undefined);
  for (const volume of made.volumes)
    await plan.target.docker
      .getVolume(volume)
      .remove()
      .catch(() => undefined);
}

/**
 * The process of a copy whose start its engine died in may run while the engine has the copy as
 * never started, and removing the copy does not end it (moby#40613). Where the target's data is on
 * this host, it is ended here; where it is not, nothing here can tell.
 */
export async function endTaskOfCopy(
  plan: MigrationPlan,
  id: string,
  deps: MigrateDeps,
): Promise<'ended' | 'none' | 'unknown'> {
  const outcome = await endUnknownTask(plan.targetInfo.DockerRootDir, id, {
    label: LABEL_FROM,
    source: plan.container.Id,
  });
  if (outcome.kind === 'unknown') {
    deps.log.debug(`cannot see ${id.slice(0, 12)}'s processes from here: ${outcome.why}`);
    return 'unknown';
  }
  if (outcome.kind === 'none') return 'none';
  deps.log.warn(
    `killed ${outcome.pids.length} process(es) of ${id.slice(0, 12)} on ${plan.target.where} that its engine did not show as running (a start it died in, moby#40613)${outcome.recordLeft ? `; containerd's record of it and its shim are left (${outcome.recordLeft})` : ''}`,
  );
  return 'ended';
}

/**
 * After the checkpoint, any failure ends here. The copy on the target goes first; the source is
 * restored from its checkpoint only when no copy can be running on the target, so the container
 * is never lost and never runs twice.
 */
export async function rollback(
  plan: MigrationPlan,
  checkpoint: string,
  made: TargetState,
  pool: HelperPool,
  err: unknown,
  deps: MigrateDeps,
): Promise<ExtmountError> {
  const bestEffort = bestEffortWith(deps.log);
  const { source, target, name } = plan;
  const sid = plan.container.Id;
  const facts = rollbackFacts(plan, checkpoint, made, err);
  deps.log.info(`migration failed (${facts.cause}): rolling back`);
  // Helpers first: a helper holding a volume would keep it from being removed.
  await pool.removeAll();
  let left = false;
  const shownRunning = mustInspectCopy(facts)
    ? (await inspectMaybe(target, made.containerId!).catch(() => undefined))?.State.Running
    : undefined;
  if (mustEndCopyTask(facts, shownRunning)) {
    const ended = await endTaskOfCopy(plan, made.containerId!, deps).catch((e: unknown) => {
      deps.log.warn(`ending the copy's task on this host failed: ${(e as Error).message}`);
      return 'unknown' as const;
    });
    const refusal = unseenTaskRefusal(facts, ended, err);
    if (refusal) return refusal;
  }
  if (made.containerId) {
    try {
      await removeContainer(target, made.containerId, { force: true });
    } catch {
      const state = await inspectMaybe(target, made.containerId).catch(() => undefined);
      const refusal = copyNotRemovedRefusal(facts, state?.State.Running, err);
      if (refusal) return refusal;
      left = true;
    }
  }
  for (const volume of made.volumes)
    await bestEffort(target.docker.getVolume(volume).remove(), `removing volume ${volume} on the target`);
  await bestEffort(removeHelpers(target, sid), 'removing helpers on the target');
  await bestEffort(removeHelpers(source, sid), 'removing helpers on the source');
  let restoredId = sid;
  let problem: string | undefined;
  try {
    if (plan.rollbackRoute === 'in-place') {
      await startFromCheckpoint(source, sid, checkpoint);
      await verifyRunning(source, sid, 300, name);
    } else {
      ({ id: restoredId, problem } = await restoreInCopy(plan, checkpoint, pool, deps.progress));
    }
  } catch (restoreErr) {
    return restoreFailedError(facts, plan.rollbackRoute, (restoreErr as Error).message, err);
  }
  if (restoredId === sid)
    await setRestartPolicy(source, sid, plan.restartPolicy).catch((e: unknown) =>
      deps.log.warn(`restart policy not given back: ${String(e)}`),
    );
  await bestEffort(deleteCheckpoint(source, restoredId, checkpoint), 'removing the checkpoint on the source');
  await bestEffort(removeJournals(source, sid), 'removing the journal');
  return rolledBackError(facts, { sourceId: sid, restoredId, problem, copyLeft: left }, err);
}

function rollbackFacts(plan: MigrationPlan, checkpoint: string, made: TargetState, err: unknown): RollbackFacts {
  return {
    name: plan.name,
    source: plan.source.where,
    target: plan.target.where,
    checkpoint,
    cause: describeFailure(err, plan.target),
    failure:
      unreachableCode(err) !== undefined ? 'unreachable' : hasReason(err, 'criu-failed') ? 'criu-failed' : 'other',
    copyId: made.containerId,
    startIssued: made.startIssued,
    startUnanswered: made.startUnanswered,
  };
}

/**
 * A post-copy migration that failed. Before the target pulled every page the memory is still the
 * source's, frozen: the copy on the target goes (its memory is incomplete), the page server is ended,
 * and a failed lazy dump resumes the source (CRIU unfreezes what it froze, containerd resumes what it
 * paused). After every page moved, the target holds the only copy of the memory.
 */
export async function rollbackLive(
  plan: MigrationPlan,
  checkpoint: string,
  made: TargetState,
  pool: HelperPool,
  lazy: LazyCheckpoint,
  err: unknown,
  deps: MigrateDeps,
): Promise<ExtmountError> {
  const bestEffort = bestEffortWith(deps.log);
  const { source, target } = plan;
  const sid = plan.container.Id;
  const facts = rollbackFacts(plan, checkpoint, made, err);
  deps.log.info(`post-copy migration failed (${facts.cause}): rolling back`);
  await pool.removeAll();
  if (lazy.released) return liveMemoryMovedError(facts, err);
  // The copy goes first (it may run with every page): never two running.
  let copyLeft = false;
  if (made.containerId) {
    await removeContainer(target, made.containerId, { force: true }).catch(() => {
      copyLeft = true;
    });
  }
  const refusal = liveCopyLeftRefusal(facts, copyLeft, err);
  if (refusal) {
    // It may run there with every page, and its engine may keep it: the source stays frozen, whole,
    // until a re-run can see the copy (it ends the source if the copy runs, else resumes it).
    await bestEffort(
      writeLiveRelease(lazy.session.stateDir, lazy.session.sourceId, { action: 'hold' }),
      'telling the source to hold',
    );
    return refusal;
  }
  // Then the source: a dump still serving pages is given up (its CRIU killed); one that served them
  // all and waits for the word keeps the source. Either way the checkpoint fails and it resumes.
  await bestEffort(
    writeLiveRelease(lazy.session.stateDir, lazy.session.sourceId, { action: 'keep' }),
    'telling the source to keep its memory',
  );
  await requestLazyAbort(lazy.session.stateDir, lazy.session.sourceId);
  // The restore's daemon, if it connected, ends once its container is gone; the dump then fails and resumes the source.
  const settled = await Promise.race([
    lazy.created.then(
      () => 'done' as const,
      () => 'failed' as const,
    ),
    new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), WAIT_MS.lazyDumpSettle).unref()),
  ]);
  for (const volume of made.volumes)
    await bestEffort(target.docker.getVolume(volume).remove(), `removing volume ${volume} on the target`);
  await bestEffort(removeHelpers(target, sid), 'removing helpers on the target');
  await bestEffort(removeHelpers(source, sid), 'removing helpers on the source');
  await endLiveSession(lazy.session, made.containerId);
  const after = await inspectMaybe(source, sid).catch(() => undefined);
  if (after?.State.Paused) await bestEffort(source.docker.getContainer(sid).unpause(), 'unpausing the source');
  const state = await inspectMaybe(source, sid).catch(() => undefined);
  const end = liveRollbackEnd(
    facts,
    {
      source: state ? { running: state.State.Running, paused: state.State.Paused === true } : undefined,
      dump: settled,
      copyLeft,
    },
    err,
  );
  if (end.resumed) {
    await setRestartPolicy(source, sid, plan.restartPolicy).catch((e: unknown) =>
      deps.log.warn(`restart policy not given back: ${String(e)}`),
    );
    await bestEffort(deleteCheckpoint(source, sid, checkpoint), 'removing the checkpoint on the source');
    await bestEffort(removeJournals(source, sid), 'removing the journal');
  }
  return end.error;
}
