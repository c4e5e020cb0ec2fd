// The migration itself: preflight → checkpoint on the source → rebuild on the target → start there → remove the source; or roll back.
import { randomBytes } from 'node:crypto';
import type { Log } from '../adapters/log.js';
import type { Config } from '../core/config.js';
import { ExtmountError } from '../core/errors.js';
import {
  checkpointName,
  mountpointsOf,
  networkFilesVolume,
  targetCreateOptions,
} from '../core/migrate/migrate-config.js';
import { migrationReport, type MigrationReport } from '../core/migrate/migrate-report.js';
import type { RootfsPlan } from '../core/migrate/migrate-plan.js';
import { engineError, type Engine } from '../adapters/docker/docker.js';
import {
  createCheckpoint,
  deleteCheckpoint,
  listCheckpoints,
  startFromCheckpoint,
} from '../adapters/docker/docker-checkpoint.js';
import {
  applyRootfs,
  copyData,
  createBindFolders,
  createTargetVolume,
  markStartAttempt,
  prepareTransfers,
  readRootfsPlan,
  verifyOnTarget,
  type Sides,
  type TargetCheck,
  type Transfers,
} from './content.js';
import {
  HelperPool,
  describeFailure,
  inspectMaybe,
  removeContainer,
  setRestartPolicy,
  unreachableCode,
  verifyRunning,
} from '../adapters/docker/migrate-engine.js';
import { needsNetworkFiles, networkFilesVolumesOf, prepareNetworkFiles, removeOurVolume } from './network-files.js';
import type { Faults } from './faults.js';
import { WAIT_MS, bestEffortWith, pollUntil } from './best-effort.js';
import { removeJournals, writeJournal } from './journal.js';
import { preflight, type MigrateRequest, type MigrationPlan } from './preflight.js';
import { lockContainer, lockMigration } from './migrate-lock.js';
import type { Progress } from './progress.js';
import type { Digests } from '../core/migrate/digests.js';
import { removeLive, requestLazyAbort } from '../adapters/live/live-files.js';
import { makeLiveTls } from '../adapters/live/live-tls.js';
import {
  PAGE_SERVER_ADDRESS,
  awaitReady,
  chooseLive,
  copyLazyImages,
  freePort,
  requestLazyDump,
  requestLazyRestore,
  pagesIn,
  pagesPulled,
  releaseSource,
  type LazyCheckpoint,
  type LiveSession,
} from './live.js';
import { discardTarget, rollback, rollbackLive, type TargetState } from './rollback.js';
import { cleanLeftovers, endLeftoverTasks, removeLeftoversOfMove } from './leftovers.js';

export interface MigrateDeps {
  config: Config;
  log: Log;
  faults: Faults;
  progress: Progress;
  now?: () => number;
  /** How long the restored process must stay up on the target before the source is removed (default DEFAULT_VERIFY_MS). */
  verifyMs?: number;
}

export const DEFAULT_VERIFY_MS = 2000;

/** Milliseconds per phase of the downtime, for the report. */
type Timings = NonNullable<MigrationReport['timings']>;

/** One migrate per container (migrate-lock.ts): a second run of the same container is refused at once (exit 2). */
export async function migrate(
  request: MigrateRequest,
  source: Engine,
  target: Engine,
  deps: MigrateDeps,
): Promise<MigrationReport> {
  const startedAt = (deps.now ?? Date.now)();
  let lock = await lockMigration(deps.config.stateDir, source, request.ref);
  let plan: MigrationPlan;
  try {
    plan = await preflight(request, source, target, deps.config, deps.progress, deps.log);
  } catch (err) {
    await lock?.release();
    throw err;
  }
  if (!lock) {
    // The source did not show the container a moment ago, preflight did: lock it now and look again.
    lock = await lockContainer(deps.config.stateDir, source, plan.container);
    plan = await preflight(request, source, target, deps.config, deps.progress, deps.log).catch(
      async (err: unknown) => {
        await lock!.release();
        throw err;
      },
    );
  }
  try {
    return await migrateLocked(request, plan, deps, startedAt);
  } finally {
    await lock.release();
  }
}

async function migrateLocked(
  request: MigrateRequest,
  plan: MigrationPlan,
  deps: MigrateDeps,
  startedAt: number,
): Promise<MigrationReport> {
  const bestEffort = bestEffortWith(deps.log);
  const now = deps.now ?? Date.now;
  const { source, target } = plan;
  const sid = plan.container.Id;
  if (plan.mode === 'finish') {
    const running = plan.targetContainers.find((c) => c.running)!;
    deps.log.info(`an earlier run already started ${plan.name} on ${target.where}: finishing it`);
    const windowMs = deps.verifyMs ?? DEFAULT_VERIFY_MS;
    await verifyRunning(target, running.id, windowMs, 'the copy on the target');
    await complete(plan, running.id, deps);
    return migrationReport(plan, {
      targetId: running.id,
      checkpoint: plan.journal!.checkpoint,
      mode: 'finished',
      downtimeMs: null,
      durationMs: now() - startedAt,
      rootfs: undefined,
      timings: undefined,
      verified: { checkpointFiles: null, layerFiles: null, windowMs },
      bytes: deps.progress.bytes,
    });
  }
  const live = await chooseLive(request.live ?? 'off', plan, deps.config);
  if (request.live !== undefined && request.live !== 'off') deps.log.info(`--live: ${live.why}`);
  await deps.faults.at('after-preflight');

  // Everything that does not depend on the frozen state is made first, so it is not downtime:
  // the container (created, never started, no restart policy), its volumes, the helpers.
  const checkpoint =
    plan.mode === 'fresh' ? checkpointName(new Date(now()), randomBytes(4).toString('hex')) : plan.journal!.checkpoint;
  const made: TargetState = { containerId: undefined, volumes: [], startIssued: false, startUnanswered: false };
  const pool = new HelperPool();
  let transfers: Transfers;
  await endLeftoverTasks(plan, deps);
  try {
    await cleanLeftovers(plan, deps);
    transfers = await prepareTarget(plan, checkpoint, made, pool, deps, live.mode === 'postcopy');
  } catch (err) {
    await discardTarget(plan, made, pool);
    throw new ExtmountError(
      'docker-failed',
      `preparing ${plan.name} on ${target.where} failed, nothing was stopped (what was made there is removed): ${describeFailure(err, target)}`,
      {
        hint:
          err instanceof ExtmountError && err.hint
            ? err.hint
            : 'fix what the message names on the target, then run migrate again',
        cause: err,
      },
    );
  }
  await deps.faults.at('after-create');

  let freezeAt: number | null = null;
  let lazy: LazyCheckpoint | undefined;
  const timings: Timings = { checkpoint: 0, prepare: 0, copy: 0, digest: 0, start: 0, verify: 0 };
  if (plan.mode === 'fresh') {
    try {
      await writeJournal(source, {
        sourceId: sid,
        image: plan.container.Image,
        checkpoint,
        restartPolicy: plan.restartPolicy,
        to: target.where,
      });
      // A restart policy would make the engine start the container afresh when the checkpoint stops it:
      // then it would run twice (seen with --restart always on dockerd 20.10). It is given back at the end.
      await setRestartPolicy(source, sid, { Name: 'no' });
    } catch (err) {
      await bestEffort(removeJournals(source, sid), 'removing the journal');
      await discardTarget(plan, made, pool);
      throw err;
    }
    freezeAt = now();
    deps.progress.phase(
      live.mode === 'postcopy'
        ? 'checkpoint on the source (post-copy: without its memory)'
        : 'checkpoint on the source',
    );
    try {
      if (live.mode === 'postcopy') lazy = await startLazyCheckpoint(plan, checkpoint, made.containerId!, deps);
      else await checkpointSource(plan, checkpoint, deps);
    } catch (err) {
      await discardTarget(plan, made, pool);
      throw err;
    }
    timings.checkpoint = now() - freezeAt;
    deps.log.debug({ ms: timings.checkpoint }, 'checkpointed the source');
    await deps.faults.at('after-checkpoint');
  } else {
    deps.log.info(
      `resuming: ${plan.name} is stopped on ${source.where} with checkpoint ${checkpoint} from an earlier run`,
    );
  }

  let moved: Moved;
  try {
    moved = await transfer(plan, checkpoint, made, transfers, pool, deps, now, timings, lazy);
  } catch (err) {
    deps.progress.done();
    throw lazy
      ? await rollbackLive(plan, checkpoint, made, pool, lazy, err, deps)
      : await rollback(plan, checkpoint, made, pool, err, deps);
  }
  deps.progress.done();
  await complete(plan, moved.targetId, deps);
  return migrationReport(plan, {
    targetId: moved.targetId,
    checkpoint,
    mode: plan.mode === 'fresh' ? 'migrated' : 'resumed',
    downtimeMs: freezeAt === null ? null : moved.runningAt - freezeAt,
    durationMs: now() - startedAt,
    rootfs: moved.rootfs,
    timings,
    verified: { ...moved.checked, windowMs: moved.windowMs },
    live: {
      mode: live.mode,
      why: live.why,
      pagesBeforeResume: moved.pagesBeforeResume,
      pagesAfterResume: moved.pagesAfterResume,
    },
    bytes: deps.progress.bytes,
  });
}

interface Moved {
  targetId: string;
  runningAt: number;
  rootfs: RootfsPlan;
  checked: TargetCheck;
  windowMs: number;
  /** Pages in the images the target restored from (all of them for stop-and-copy). */
  pagesBeforeResume: number;
  /** Pages the target pulled after it resumed (post-copy). */
  pagesAfterResume: number;
}

async function startLazyCheckpoint(
  plan: MigrationPlan,
  checkpoint: string,
  targetId: string,
  deps: MigrateDeps,
): Promise<LazyCheckpoint> {
  const session: LiveSession = {
    port: await freePort(),
    stateDir: deps.config.stateDir,
    sourceId: plan.container.Id,
    tls: await makeLiveTls(deps.config.stateDir, PAGE_SERVER_ADDRESS),
  };
  let started: LazyCheckpoint | undefined;
  await requestLazyDump(session, targetId, deps.verifyMs ?? DEFAULT_VERIFY_MS);
  await checkpointSource(plan, checkpoint, deps, async () => {
    const created = createCheckpoint(plan.source, plan.container.Id, checkpoint, { exit: true });
    created.catch(() => undefined);
    try {
      const ready = await awaitReady(session, created);
      started = { session, ready, created, released: false };
    } catch (err) {
      // Its wrapper gives the lazy dump up (kills its CRIU): the container resumes.
      await requestLazyAbort(session.stateDir, session.sourceId);
      await created.catch(() => undefined);
      await removeLive(session.stateDir, session.sourceId).catch(() => undefined);
      throw err;
    }
  });
  return started!;
}

/** Volumes before the container (a volume mount whose volume is missing would be made empty, unlabelled), then the container and the helpers. */
async function prepareTarget(
  plan: MigrationPlan,
  checkpoint: string,
  made: TargetState,
  pool: HelperPool,
  deps: MigrateDeps,
  lazy: boolean,
): Promise<Transfers> {
  const { source, target } = plan;
  const sid = plan.container.Id;
  deps.progress.phase('preparing the target');
  for (const volume of plan.volumes) {
    made.volumes.push(volume.name);
    await createTargetVolume(target, sid, volume);
  }
  let networkMounts: Array<Record<string, unknown>> = [];
  if (plan.targetNetworkDisabled)
    deps.log.warn(
      `${target.where} cannot restore a --network none container (containerd#12141): the copy there is created with NetworkDisabled, the same network to the process`,
    );
  if (needsNetworkFiles(plan.container, plan.targetNetworkDisabled)) {
    networkMounts = await prepareNetworkFiles(
      { engine: source, id: sid },
      { engine: target, image: plan.image },
      deps.progress,
    );
    made.volumes.push(networkFilesVolume(sid));
  }
  if (plan.copyBinds)
    await createBindFolders(
      { engine: target, image: plan.image },
      sid,
      plan.binds.filter((b) => b.missing).map((b) => b.target),
    );
  let targetId: string;
  try {
    targetId = (
      await target.docker.createContainer(
        targetCreateOptions(plan.container, {
          name: plan.targetName,
          image: plan.image,
          sourceId: sid,
          binds: plan.binds,
          networkDisabled: plan.targetNetworkDisabled,
          extraMounts: networkMounts,
        }) as never,
      )
    ).id;
  } catch (err) {
    throw engineError(target, err, `creating ${plan.targetName}`);
  }
  made.containerId = targetId;
  const created = await inspectMaybe(target, targetId);
  const upperDir = created?.GraphDriver?.Name === 'overlay2' ? created.GraphDriver.Data?.UpperDir : undefined;
  return prepareTransfers(
    { source: { engine: source, image: plan.container.Image }, target: { engine: target, image: plan.image } },
    pool,
    {
      sourceId: sid,
      targetId,
      checkpoint,
      roots: { source: plan.sourceInfo.DockerRootDir, target: plan.targetInfo.DockerRootDir },
      upperDir,
      volumes: plan.volumes,
      binds: plan.copyBinds ? plan.binds : [],
      checkpointFromSource: !lazy,
    },
  );
}

async function checkpointSource(
  plan: MigrationPlan,
  checkpoint: string,
  deps: MigrateDeps,
  run = () => createCheckpoint(plan.source, plan.container.Id, checkpoint, { exit: true }),
): Promise<void> {
  const bestEffort = bestEffortWith(deps.log);
  const { source } = plan;
  const sid = plan.container.Id;
  try {
    await run();
    return;
  } catch (err) {
    const reason = err instanceof ExtmountError ? err.message : String(err);
    // A failed dump resumes the tree (CRIU unfreezes it); make sure, and put everything back as it was.
    const after = await inspectMaybe(source, sid).catch(() => undefined);
    const kept = (await listCheckpoints(source, sid).catch(() => [] as string[])).includes(checkpoint);
    let state: string;
    if (after?.State.Running) {
      state = 'it still runs there, unchanged';
    } else if (kept) {
      try {
        await startFromCheckpoint(source, sid, checkpoint);
        state = 'it was restored there from the checkpoint';
      } catch (restoreErr) {
        await bestEffort(removeJournals(source, sid), 'removing the journal');
        throw new ExtmountError(
          'restore-failed',
          `checkpoint of ${plan.name} on ${source.where} reported a failure (${reason}), and restoring it from the checkpoint ${checkpoint} failed too (${describeFailure(restoreErr, source)}): it is stopped there and keeps the checkpoint`,
          {
            hint: `bring it back with docker start --checkpoint ${checkpoint} ${plan.name} on ${source.where}`,
            cause: err,
          },
        );
      }
    } else {
      await bestEffort(source.docker.getContainer(sid).start(), 'starting the source again');
      state = 'it had stopped and was started again (its processes start afresh)';
    }
    await setRestartPolicy(source, sid, plan.restartPolicy).catch((e: unknown) =>
      deps.log.warn(`restart policy not given back: ${String(e)}`),
    );
    if (kept) await bestEffort(deleteCheckpoint(source, sid, checkpoint), 'removing the checkpoint on the source');
    await bestEffort(removeJournals(source, sid), 'removing the journal');
    throw new ExtmountError(
      'criu-failed',
      `checkpoint of ${plan.name} on ${source.where} failed, ${state}; what was prepared on ${plan.target.where} is removed: ${reason}`,
      {
        hint: 'CRIU could not dump it: its log is named above; mounts that appear after start need the extmount runtime (extmount install-runtime)',
        cause: err,
      },
    );
  }
}

async function transfer(
  plan: MigrationPlan,
  checkpoint: string,
  made: TargetState,
  transfers: Transfers,
  pool: HelperPool,
  deps: MigrateDeps,
  now: () => number,
  timings: Timings,
  lazy: LazyCheckpoint | undefined,
): Promise<Moved> {
  const { source, target } = plan;
  const { progress } = deps;
  const sid = plan.container.Id;
  const targetId = made.containerId!;
  const sides: Sides = {
    source: { engine: source, image: plan.container.Image },
    target: { engine: target, image: plan.image },
  };
  const mountpoints = mountpointsOf(plan.container);
  let mark = now();
  const step = (what: string, phase: keyof Timings) => {
    const t = now();
    timings[phase] += t - mark;
    deps.log.debug({ ms: t - mark }, what);
    mark = t;
  };
  const rootfs = await readRootfsPlan(source, sid, mountpoints);
  step('read the writable layer changes', 'prepare');

  progress.phase('copying');
  // Independent of each other: the new container's layer, its checkpoint, volumes, binds (each through its own helpers).
  // A lazy checkpoint is read where runc wrote it, on this host; volumes and binds still go through the helpers.
  const viaHelpers = !lazy || plan.volumes.length > 0 || (plan.copyBinds && plan.binds.length > 0);
  const [layer, [helperFiles, lazyFiles]] = await settleBoth(
    applyRootfs(sides, { source: sid, target: targetId }, rootfs, mountpoints, transfers.upper, progress),
    settleBoth(
      viaHelpers ? copyData(sides, transfers, progress) : Promise.resolve(new Map() as Digests),
      lazy
        ? copyLazyImages(
            lazy.ready,
            `${plan.targetInfo.DockerRootDir}/containers/${targetId}/checkpoints/${checkpoint}`,
          )
        : Promise.resolve(undefined),
    ),
  );
  const checkpointFiles = lazyFiles ?? helperFiles;
  if (lazyFiles)
    progress.add(
      'checkpoint',
      [...lazyFiles.values()].reduce((n, d) => n + d.size, 0),
    );
  step('copied the writable layer, the checkpoint, volumes and binds', 'copy');
  await deps.faults.at('after-copy');
  progress.done();
  progress.phase('verifying the copy');
  const checked = await verifyOnTarget(target, transfers, { checkpoint: checkpointFiles, layer });
  step('read back the checkpoint and the layer on the target: as sent', 'digest');

  await deps.faults.at('before-start');
  made.startIssued = true;
  try {
    await startFromCheckpoint(target, targetId, checkpoint, {
      beforeAttempt: async () => {
        await markStartAttempt(target, transfers, progress);
        if (lazy) await requestLazyRestore(lazy.session, targetId);
      },
    });
  } catch (err) {
    made.startUnanswered = unreachableCode(err) !== undefined;
    throw err;
  }
  const runningAt = now();
  step('started from the checkpoint', 'start');
  await deps.faults.at('after-start');
  const pagesBeforeResume = pagesIn(checkpointFiles);
  let pagesAfterResume = 0;
  if (lazy) {
    progress.phase('pulling the memory (post-copy)');
    pagesAfterResume = await pagesPulled(plan, lazy, targetId, deps);
    step('every page on the target', 'verify');
  }
  const windowMs = deps.verifyMs ?? DEFAULT_VERIFY_MS;
  await Promise.all([verifyRunning(target, targetId, windowMs, 'the restored container'), pool.removeAll()]);
  step('verified it keeps running', 'verify');
  if (lazy) await releaseSource(plan, lazy);
  return { targetId, runningAt, rootfs, checked, windowMs, pagesBeforeResume, pagesAfterResume };
}

/** Like Promise.all, but waits for every task before failing, so rollback never races a transfer still writing. */
async function settleBoth<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/** Success: the target keeps the container's restart policy, the source container (and its checkpoint) go. */
async function complete(plan: MigrationPlan, targetId: string, deps: MigrateDeps): Promise<void> {
  const { source, target } = plan;
  const sid = plan.container.Id;
  if (plan.restartPolicy.Name !== 'no') await setRestartPolicy(target, targetId, plan.restartPolicy);
  // After a post-copy the engine learns that the source's task ended a while after its checkpoint call
  // returned (the more memory the task freed, the longer: seen at 1 GiB); until then it refuses to remove
  // "a paused container".
  await pollUntil(
    async () => {
      const now = await inspectMaybe(source, sid).catch(() => undefined);
      return now === undefined || (!now.State.Paused && !now.State.Running) ? true : undefined;
    },
    { timeoutMs: WAIT_MS.sourceEnded, intervalMs: 100 },
  );
  try {
    await removeContainer(source, sid, { force: false });
  } catch (err) {
    throw new ExtmountError(
      'docker-failed',
      `${plan.name} runs on ${target.where} now, but removing the stopped source container on ${source.where} failed: ${(err as Error).message}`,
      {
        hint: 'run the same migrate command again to finish, or remove it by hand',
        cause: err,
      },
    );
  }
  await deps.faults.at('after-source-removed');
  // Also what an earlier, interrupted run this one finishes left (its helpers, its live files).
  await removeLeftoversOfMove(source, target, sid, targetId, deps.config, deps.log);
  // The network files of a source that was itself a NetworkDisabled copy (network-files.ts) went with it.
  for (const volume of networkFilesVolumesOf(plan.container)) {
    await removeOurVolume(source, volume).catch((err: unknown) =>
      deps.log.warn(`volume ${volume} not removed: ${String(err)}`),
    );
  }
}
