// The migration itself: preflight → checkpoint on the source → rebuild on the target → start there → remove the source; or roll back.
import { randomBytes } from 'node:crypto';
import type { Log } from '../adapters/log.js';
import type { Config } from '../core/config.js';
import { ExtmountError, hasReason } from '../core/errors.js';
import {
  LABEL_FROM,
  checkpointName,
  mountpointsOf,
  networkFilesVolume,
  targetCreateOptions,
} from '../core/migrate/migrate-config.js';
import type { MigrationReport } from '../core/migrate/migrate-report.js';
import type { RootfsPlan } from '../core/migrate/migrate-plan.js';
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
  listLabelled,
  removeContainer,
  removeHelpers,
  setRestartPolicy,
  unreachableCode,
  verifyRunning,
} from '../adapters/docker/migrate-engine.js';
import { endUnknownTask } from '../adapters/procfs/host-tasks.js';
import { needsNetworkFiles, networkFilesVolumesOf, prepareNetworkFiles, removeOurVolume } from './network-files.js';
import { restoreInCopy } from './rollback-copy.js';
import type { Faults } from './faults.js';
import { WAIT_MS, bestEffortWith } from './best-effort.js';
import { removeJournals, writeJournal } from './journal.js';
import { preflight, type MigrateRequest, type MigrationPlan } from './preflight.js';
import { lockContainer, lockMigration } from './migrate-lock.js';
import type { Progress } from './progress.js';
import type { Digests } from '../core/migrate/digests.js';
import type { LiveReady } from '../core/live/live-request.js';
import { removeLive, requestLazyAbort, writeLiveRelease } from '../adapters/live/live-files.js';
import { makeLiveTls } from '../adapters/live/live-tls.js';
import {
  PAGE_SERVER_ADDRESS,
  PAGES_TIMEOUT_MS,
  awaitPages,
  awaitReady,
  chooseLive,
  copyLazyImages,
  endLiveSession,
  freePort,
  requestLazyDump,
  requestLazyRestore,
  type LiveSession,
} from './live.js';

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

/** What exists on the target so far: rollback removes exactly this. */
interface TargetState {
  containerId: string | undefined;
  volumes: string[];
  /** Once start was asked for, the copy on the target may run: the source is only brought back when that copy is known gone. */
  startIssued: boolean;
  /** The start got no answer (the engine died during it): its process may run with the engine's record saying it never started. */
  startUnanswered: boolean;
}

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
    await complete(plan, running.id, plan.journal!.checkpoint, deps);
    return report(plan, {
      targetId: running.id,
      checkpoint: plan.journal!.checkpoint,
      mode: 'finished',
      downtimeMs: null,
      durationMs: now() - startedAt,
      rootfs: undefined,
      timings: undefined,
      verified: { checkpointFiles: null, layerFiles: null, windowMs },
      deps,
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
  await complete(plan, moved.targetId, checkpoint, deps);
  return report(plan, {
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
    deps,
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

/** A post-copy checkpoint under way: the source is frozen, its page server listens, the images are announced. */
interface LazyCheckpoint {
  session: LiveSession;
  ready: LiveReady;
  /** The engine's checkpoint call: it returns once every page has been pulled (or the dump failed). */
  created: Promise<void>;
  /** Set once the source was told to end (every page on the target, the copy verified): from then on the memory is on the target only. */
  released: boolean;
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

/** Before anything was frozen: remove what was made on the target (best effort; a later run removes leftovers by label). */
async function discardTarget(plan: MigrationPlan, made: TargetState, pool: HelperPool): Promise<void> {
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
async function endTaskOfCopy(
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

/** Before anything of an earlier run is removed: the copies the engine does not show as running must have no process left. */
async function endLeftoverTasks(plan: MigrationPlan, deps: MigrateDeps): Promise<void> {
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
async function cleanLeftovers(plan: MigrationPlan, deps: MigrateDeps): Promise<void> {
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

/** Pages in the page images CRIU wrote (pages-N.img: 4 KiB each). */
function pagesIn(files: Digests): number {
  let bytes = 0;
  for (const [name, d] of files) if (/^pages-\d+\.img$/.test(name)) bytes += d.size;
  return Math.floor(bytes / 4096);
}

/**
 * Post-copy's end, part one: the target's supervisor says its daemon got every page the container
 * needs. The source's checkpoint call fails meanwhile only if its side failed (its CRIU died).
 */
async function pagesPulled(
  plan: MigrationPlan,
  lazy: LazyCheckpoint,
  targetId: string,
  deps: MigrateDeps,
): Promise<number> {
  let failed: unknown;
  lazy.created.catch((err: unknown) => {
    failed = err ?? new Error('checkpoint failed');
  });
  for (const deadline = Date.now() + PAGES_TIMEOUT_MS; ; await new Promise((resolve) => setTimeout(resolve, 20))) {
    const pages = await awaitPages(lazy.session.stateDir, targetId, 0);
    if (pages?.ok) {
      deps.log.debug({ pages: pages.transferred }, 'every page on the target');
      return pages.transferred ?? 0;
    }
    if (pages) {
      throw new ExtmountError(
        'criu-failed',
        `post-copy: the target's lazy-pages daemon ${pages.exitCode === 0 ? 'ended, but its container had stopped' : `ended with ${pages.signal ?? `exit ${pages.exitCode}`}`} after ${pages.transferred ?? '?'} of ${pages.total ?? '?'} pages${pages.killed ? `; its container was killed (${pages.killed})` : ''}`,
      );
    }
    if (failed !== undefined) {
      const late = await awaitPages(lazy.session.stateDir, targetId, 5000);
      throw new ExtmountError(
        'criu-failed',
        `post-copy failed: the source's page server ended before every page reached the target (${describeFailure(failed, plan.source)})${late ? `; the target's lazy-pages daemon got ${late.transferred ?? '?'} of ${late.total ?? '?'} pages${late.killed ? `, its container was killed (${late.killed})` : ''}` : ''}`,
        { cause: failed },
      );
    }
    if (Date.now() > deadline)
      throw new ExtmountError(
        'docker-failed',
        `the pages did not all reach ${plan.target.where} within ${PAGES_TIMEOUT_MS / 1000} s`,
      );
  }
}

/** Part two, after the copy's verification window: the source's wrapper is told to end the source, and its checkpoint call then returns. */
async function releaseSource(plan: MigrationPlan, lazy: LazyCheckpoint): Promise<void> {
  lazy.released = true;
  await writeLiveRelease(lazy.session.stateDir, lazy.session.sourceId, { action: 'end' });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      lazy.created,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ExtmountError(
                'docker-failed',
                `the checkpoint on ${plan.source.where} did not end within 60 s of the release`,
              ),
            ),
          60_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Like Promise.all, but waits for every task before failing, so rollback never races a transfer still writing. */
async function settleBoth<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/** Success: the target keeps the container's restart policy, the source container (and its checkpoint) go. */
async function complete(plan: MigrationPlan, targetId: string, checkpoint: string, deps: MigrateDeps): Promise<void> {
  const bestEffort = bestEffortWith(deps.log);
  const { source, target } = plan;
  const sid = plan.container.Id;
  if (plan.restartPolicy.Name !== 'no') await setRestartPolicy(target, targetId, plan.restartPolicy);
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
  await removeJournals(source, sid).catch((err: unknown) => deps.log.warn(`journal not removed: ${String(err)}`));
  // A post-copy's files in the wrapper's state dir (also those of an earlier, interrupted run this one finishes).
  for (const id of [sid, targetId])
    await bestEffort(removeLive(deps.config.stateDir, id), `removing the live files of ${id.slice(0, 12)}`);
  // The network files of a source that was itself a NetworkDisabled copy (network-files.ts) went with it.
  for (const volume of networkFilesVolumesOf(plan.container)) {
    await removeOurVolume(source, volume).catch((err: unknown) =>
      deps.log.warn(`volume ${volume} not removed: ${String(err)}`),
    );
  }
  // Helpers a run killed after the start left behind (this run's are gone already).
  await Promise.all([removeHelpers(source, sid), removeHelpers(target, sid)]).catch((err: unknown) =>
    deps.log.warn(`helpers not removed: ${String(err)}`),
  );
  await deleteCheckpoint(target, targetId, checkpoint).catch((err: unknown) =>
    deps.log.warn(`checkpoint not removed from the target: ${String(err)}`),
  );
}

/**
 * After the checkpoint, any failure ends here. The copy on the target goes first; the source is
 * restored from its checkpoint only when no copy can be running on the target, so the container
 * is never lost and never runs twice.
 */
async function rollback(
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
async function rollbackLive(
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

function report(
  plan: MigrationPlan,
  r: {
    targetId: string;
    checkpoint: string;
    mode: MigrationReport['mode'];
    downtimeMs: number | null;
    durationMs: number;
    rootfs: RootfsPlan | undefined;
    timings: Timings | undefined;
    verified: MigrationReport['verified'];
    live?: MigrationReport['live'];
    deps: MigrateDeps;
  },
): MigrationReport {
  return {
    container: { name: plan.targetName, sourceId: plan.container.Id, targetId: r.targetId },
    from: plan.source.where,
    to: plan.target.where,
    checkpoint: r.checkpoint,
    mode: r.mode,
    downtimeMs: r.downtimeMs,
    durationMs: r.durationMs,
    timings: r.timings ?? null,
    verified: r.verified,
    bytes: { ...r.deps.progress.bytes },
    rootfs: {
      copied: r.rootfs?.fetch.length ?? 0,
      deleted: r.rootfs?.deletions.length ?? 0,
      skipped: r.rootfs?.skipped ?? 0,
    },
    mounts: [
      ...plan.binds.map((b) => ({
        destination: b.destination,
        kind: 'bind' as const,
        source: b.source,
        target: b.target,
        copied: plan.copyBinds,
      })),
      ...plan.volumes.map((v) => ({
        destination: v.destination,
        kind: 'volume' as const,
        source: v.name,
        target: v.name,
        copied: true,
      })),
    ],
    volumesLeftOnSource: plan.volumes.map((v) => v.name),
    live: r.live ?? null,
  };
}
