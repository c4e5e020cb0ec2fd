// Everything checked before the container stops: engines, container, what a crashed earlier run left, image, mounts on the target.
import type { LiveRequestMode } from '../core/live/live-request.js';
import { endUnknownTask } from '../adapters/procfs/host-tasks.js';
import {
  isLazyCheckpoint,
  readLiveReady,
  removeLive,
  requestLazyAbort,
  writeLiveRelease,
} from '../adapters/live/live-files.js';
import type { Config, RemapRule } from '../core/config.js';
import { describeEndpoint } from '../core/docker/docker-host.js';
import { ExtmountError } from '../core/errors.js';
import {
  CHECKPOINT_PREFIX,
  LABEL_CHECKPOINT,
  LABEL_FROM,
  LABEL_JOURNAL,
  LABEL_RESTART_POLICY,
  decodeRestartPolicy,
  isMigrateCheckpointName,
  isNetworkFilesBind,
  migrationRefusal,
  type RestartPolicy,
  type SourceInspect,
} from '../core/migrate/migrate-config.js';
import {
  decideRerun,
  movedRefusal,
  preflightRefusals,
  type MovedObserved,
  type RerunMode,
} from '../core/migrate/rerun.js';
import { planBindTargets, unusedMaps, type BindTarget, type SourceBind } from '../core/migrate/migrate-plan.js';
import {
  blockedRestoreError,
  canaryFailedError,
  containerChanges,
  engineError,
  engineRestoreRoute,
  type Engine,
} from '../adapters/docker/docker.js';
import { runCanary, type CanaryShape } from '../adapters/docker/restore-canary.js';
import { rollbackCopyName } from './rollback-copy.js';
import { listCheckpoints, requireExperimental, type EngineInfo } from '../adapters/docker/docker-checkpoint.js';
import { transferImage } from './archives.js';
import {
  inspectMaybe,
  inspectSource,
  isDirectoryMode,
  listLabelled,
  statPath,
  statusOf,
} from '../adapters/docker/migrate-engine.js';
import { hostPathRefused, inspectHostPath } from '../adapters/docker/engine-host-paths.js';
import type { Progress } from './progress.js';
import { WAIT_MS, pollUntil } from './best-effort.js';
import type { Log } from '../adapters/log.js';
import { removeLeftoversOfMove } from './leftovers.js';

export interface MigrateRequest {
  ref: string;
  maps: RemapRule[];
  copyBinds: boolean;
  /** Name on the target (default: the source's). */
  name?: string;
  /** --live: how the memory moves (default off: stop-and-copy). */
  live?: LiveRequestMode;
}

export interface FullEngineInfo extends EngineInfo {
  ID?: string;
  Driver?: string;
}

export interface VolumePlan {
  name: string;
  destination: string;
  /** The target already has it from an earlier run of ours (labelled): it is emptied and filled again. */
  leftover: boolean;
}

export interface Journal {
  id: string;
  checkpoint: string;
  restartPolicy: RestartPolicy;
}

export interface MigrationPlan {
  mode: RerunMode;
  source: Engine;
  target: Engine;
  sourceInfo: FullEngineInfo;
  targetInfo: FullEngineInfo;
  container: SourceInspect;
  name: string;
  targetName: string;
  /** What an earlier, interrupted run recorded on the source. */
  journal: Journal | undefined;
  restartPolicy: RestartPolicy;
  /** How the image is named on the target (a tag when it points at the same image, else the id). */
  image: string;
  imageBytes: number;
  binds: BindTarget[];
  volumes: VolumePlan[];
  copyBinds: boolean;
  /** Containers labelled as ours on the target (leftovers of an earlier run, or the running copy in finish mode). */
  targetContainers: Array<{ id: string; running: boolean }>;
  /** Checkpoints an earlier run left on the source. */
  staleCheckpoints: string[];
  /** The copy on the target is created with NetworkDisabled (a --network none container where containerd#12141 blocks it). */
  targetNetworkDisabled: boolean;
  /** How a rollback brings the container back on the source: from its checkpoint in place, or in a NetworkDisabled copy. */
  rollbackRoute: 'in-place' | 'network-disabled-copy';
}

/**
 * An earlier `migrate --live` that was interrupted after its lazy checkpoint began leaves the source
 * frozen (dockerd shows it paused) with CRIU's page server waiting for a restore (the wrapper gives
 * up after a while on its own). Without a copy running on the target the memory never left: the lazy
 * dump is given up now (its wrapper kills its CRIU) and the source resumes. With one, the source ends
 * once the copy has every page.
 */
async function settleAbandonedLazyDump(
  source: Engine,
  container: SourceInspect,
  config: Config,
  copyRuns: boolean,
): Promise<SourceInspect> {
  const ready = await readLiveReady(config.stateDir, container.Id).catch(() => undefined);
  if (!ready) return container;
  // Its wrapper waits for a word once every page is on the copy: the copy runs, so the source ends
  // (this run then finishes the move); the copy is gone, so the source resumes, whole.
  await writeLiveRelease(config.stateDir, container.Id, { action: copyRuns ? 'end' : 'keep' }).catch(() => undefined);
  if (!copyRuns) await requestLazyAbort(config.stateDir, container.Id);
  const resumed = await pollUntil(
    async () => {
      const now = await inspectSource(source, container.Id).catch(() => undefined);
      return now && !now.State.Paused ? now : undefined;
    },
    { timeoutMs: copyRuns ? WAIT_MS.lazyDumpEnd : WAIT_MS.lazyDumpGiveUp, intervalMs: 100 },
  );
  if (!resumed) return container;
  await removeLive(config.stateDir, container.Id).catch(() => undefined);
  return resumed;
}

/** Any failure here is exit 2: nothing has been stopped or changed yet. */
export async function preflight(
  request: MigrateRequest,
  source: Engine,
  target: Engine,
  config: Config,
  progress: Progress,
  log: Log,
): Promise<MigrationPlan> {
  try {
    return await check(request, source, target, config, progress, log);
  } catch (err) {
    // Not the refusal that says how to bring back a container an earlier run froze: that one keeps its hint.
    if (err instanceof ExtmountError && err.reason === 'unreachable') {
      throw new ExtmountError('bad-input', err.message, {
        hint: 'check that dockerd runs there and the --from/--to address',
        cause: err,
        reason: 'unreachable',
      });
    }
    if (err instanceof ExtmountError && err.exitCode === 1) {
      throw new ExtmountError('bad-input', `preflight: ${err.message}`, {
        ...(err.hint ? { hint: err.hint } : {}),
        cause: err,
      });
    }
    throw err;
  }
}

async function check(
  request: MigrateRequest,
  source: Engine,
  target: Engine,
  config: Config,
  progress: Progress,
  log: Log,
): Promise<MigrationPlan> {
  if (describeEndpoint(source.endpoint) === describeEndpoint(target.endpoint))
    throw preflightRefusals.sameEndpoint(source.where);
  const sourceInfo = (await requireExperimental(source)) as FullEngineInfo;
  let container = await inspectSource(source, request.ref).catch(async (err: unknown) => {
    // A re-run after success: say where it went rather than only that it is not here.
    const there =
      err instanceof ExtmountError && err.code === 'bad-input'
        ? await inspectMaybe(target, request.ref).catch(() => undefined)
        : undefined;
    const from = there?.Config.Labels?.[LABEL_FROM];
    if (there && from) {
      if (there.State.Running) await removeLeftoversOfMove(source, target, from, there.Id, config, log);
      throw movedRefusal(await observeMoved(request.ref, source, target, there), err);
    }
    throw err;
  });
  const name = container.Name.replace(/^\//, '');
  const frozen = !container.State.Running ? await frozenBy(source, container.Id) : undefined;
  let targetInfo: FullEngineInfo;
  try {
    targetInfo = (await requireExperimental(target)) as FullEngineInfo;
  } catch (err) {
    if (frozen && err instanceof ExtmountError)
      throw preflightRefusals.targetGoneWhileFrozen(err, { name, source: source.where, checkpoint: frozen });
    throw err;
  }
  // Engine IDs do not tell engines apart (dockerd 20.10 derives it from /etc/docker/key.json, which
  // two daemons on one host, or cloned hosts, share); a container id is 256 random bits.
  if ((await inspectMaybe(target, container.Id)) !== undefined)
    throw preflightRefusals.sameEngine(source.where, target.where, container.Id);
  const refusal = migrationRefusal(container);
  if (refusal) throw preflightRefusals.notMigratable(name, refusal);

  const sid = container.Id;
  // Before the journal and checkpoints are read: a lazy dump that ends here changes both.
  if (container.State.Paused) {
    const copies = await listLabelled(target, LABEL_FROM, sid);
    const copyRuns = copies.some((c) => c.State === 'running' || c.State === 'paused');
    if (!copyRuns && (await readLiveReady(config.stateDir, sid).catch(() => undefined))) {
      // A copy its engine has as never started may still run a process (moby#40613): it holds the
      // memory too, so it is ended before the source resumes.
      const root = ((await target.docker.info().catch(() => undefined)) as EngineInfo | undefined)?.DockerRootDir ?? '';
      for (const c of copies) {
        const outcome = await endUnknownTask(root, c.Id, { label: LABEL_FROM, source: sid });
        if (outcome.kind === 'unknown')
          throw preflightRefusals.orphanTask({
            name,
            source: source.where,
            target: target.where,
            copyId: c.Id,
            why: outcome.why,
          });
      }
    }
    container = await settleAbandonedLazyDump(source, container, config, copyRuns);
  }
  const journal = await readJournal(source, sid);
  const checkpoints = await listCheckpoints(source, sid);
  const targetContainers = (await listLabelled(target, LABEL_FROM, sid)).map((c) => ({
    id: c.Id,
    running: c.State === 'running' || c.State === 'restarting' || c.State === 'paused',
  }));
  // A rollback into a copy (rollback-copy.ts) killed after the copy took over, before the original went.
  const takenOver = (await listLabelled(source, LABEL_FROM, sid)).find(
    (c) => c.State === 'running' || c.State === 'restarting' || c.State === 'paused',
  );
  const journalCheckpointLazy =
    journal !== undefined &&
    checkpoints.includes(journal.checkpoint) &&
    (await isLazyCheckpoint(sourceInfo.DockerRootDir, sid, journal.checkpoint));
  const decision = decideRerun({
    name,
    source: source.where,
    target: target.where,
    sourceId: sid,
    state: { running: container.State.Running, paused: container.State.Paused === true },
    restartPolicy: container.HostConfig.RestartPolicy,
    journal,
    checkpoints,
    targetContainers,
    takenOver: takenOver?.Id,
    journalCheckpointLazy,
  });
  if ('refusal' in decision) throw decision.refusal;
  const { mode, restartPolicy, staleCheckpoints } = decision;
  const base = {
    source,
    target,
    sourceInfo,
    targetInfo,
    container,
    name,
    journal,
    restartPolicy,
    copyBinds: request.copyBinds,
    targetContainers,
    staleCheckpoints,
  };
  const targetName = request.name ?? name;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(targetName)) throw preflightRefusals.badTargetName(targetName);
  if (mode === 'finish') {
    return {
      ...base,
      mode,
      targetName,
      image: container.Image,
      imageBytes: 0,
      binds: [],
      volumes: [],
      targetNetworkDisabled: false,
      rollbackRoute: 'in-place',
    };
  }

  await checkTargetName(
    target,
    targetName,
    targetContainers.map((c) => c.id),
  );
  const runtime = (container.HostConfig.Runtime as string | undefined) || 'runc';
  if (runtime !== 'runc' && !(targetInfo.Runtimes && runtime in targetInfo.Runtimes))
    throw preflightRefusals.missingRuntime(name, runtime, target.where);
  await checkNetwork(target, container.HostConfig.NetworkMode ?? 'default');
  const routes = await restoreRoutes(
    source,
    target,
    { source: sourceInfo, target: targetInfo },
    container,
    name,
    mode === 'fresh',
  );

  const sourceBinds: SourceBind[] = (container.Mounts ?? [])
    .filter((m) => (m.Type ?? 'bind') === 'bind' && !isNetworkFilesBind(m))
    .map((m) => ({ source: m.Source, destination: m.Destination, readOnly: !m.RW, propagation: m.Propagation ?? '' }));
  const unused = unusedMaps(request.maps, sourceBinds);
  if (unused.length > 0)
    throw preflightRefusals.unusedMap(
      unused[0]!,
      name,
      sourceBinds.map((b) => b.source),
    );
  const binds = planBindTargets(sourceBinds, request.maps, config, [targetInfo.DockerRootDir]);
  const volumes = await planVolumes(source, target, container);
  if (targetInfo.Driver && targetInfo.Driver !== 'overlay2')
    await refuseDeletions(source, container, targetInfo.Driver);

  const { image, imageBytes } = await ensureImage(source, target, container, progress);
  await checkBindTargets({ source, target }, binds, image, request.copyBinds, sid);
  return { ...base, mode, targetName, image, imageBytes, binds, volumes, ...routes };
}

/**
 * Never stop a container that nothing can restore: the target must be able to start the copy from
 * the checkpoint, and the source to take it back if anything fails (rollback). Where containerd#12141
 * blocks a --network none container, a NetworkDisabled copy restores instead (core/docker/restore-blockers).
 * A container an earlier run already stopped is not refused: refusing would not bring it back.
 */
async function restoreRoutes(
  source: Engine,
  target: Engine,
  infos: { source: FullEngineInfo; target: FullEngineInfo },
  container: SourceInspect,
  name: string,
  refuse: boolean,
): Promise<Pick<MigrationPlan, 'targetNetworkDisabled' | 'rollbackRoute'>> {
  const network = { mode: container.HostConfig.NetworkMode, disabled: container.Config.NetworkDisabled };
  const [onTarget, onSource] = await Promise.all([
    engineRestoreRoute(target, network),
    engineRestoreRoute(source, network),
  ]);
  const routes = {
    targetNetworkDisabled: onTarget.kind === 'network-disabled-copy',
    rollbackRoute:
      onSource.kind === 'network-disabled-copy' ? ('network-disabled-copy' as const) : ('in-place' as const),
  };
  if (routes.rollbackRoute !== 'in-place') {
    // A rollback would need this name for its copy: free, or a never-started copy of ours (removed before the freeze).
    const holder = await inspectMaybe(source, rollbackCopyName(name));
    if (holder && !(holder.Config.Labels?.[LABEL_FROM] === container.Id && holder.State.Status === 'created')) {
      throw preflightRefusals.rollbackNameTaken({ source: source.where, copyName: rollbackCopyName(name), name });
    }
  }
  if (!refuse) return routes;
  if (onTarget.kind === 'blocked') throw blockedRestoreError(name, target.where, 'on the target', onTarget.blocker);
  if (onSource.kind === 'blocked')
    throw blockedRestoreError(name, source.where, 'for a rollback on the source', onSource.blocker);
  // What the table does not know, the canary finds: both engines must bring back a container of this shape.
  const runtime = (container.HostConfig.Runtime as string | undefined) || 'runc';
  const shape = (disabled: boolean): CanaryShape => ({
    runtime,
    networkMode: network.mode ?? 'default',
    networkDisabled: network.disabled === true || disabled,
  });
  const [onTargetCanary, onSourceCanary] = await Promise.all([
    runCanary(target, shape(routes.targetNetworkDisabled), infos.target.Architecture),
    runCanary(source, shape(routes.rollbackRoute !== 'in-place'), infos.source.Architecture),
  ]);
  for (const [result, engine, why] of [
    [onTargetCanary, target, 'on the target'],
    [onSourceCanary, source, 'for a rollback on the source'],
  ] as const) {
    if ('proved' in result && !result.proved)
      throw canaryFailedError(name, engine.where, why, result.reason, shape(false));
  }
  return routes;
}

/** What the target shows of a copy migrated there, for movedRefusal: its migration checkpoints are looked at only when it does not run. */
async function observeMoved(
  ref: string,
  source: Engine,
  target: Engine,
  there: { Id: string; State: { Running: boolean; Status?: string } },
): Promise<MovedObserved> {
  const kept = there.State.Running
    ? []
    : (await listCheckpoints(target, there.Id).catch(() => [])).filter((c) => c.startsWith(CHECKPOINT_PREFIX)).sort();
  const root =
    kept.length > 0
      ? ((await target.docker.info().catch(() => undefined)) as EngineInfo | undefined)?.DockerRootDir
      : undefined;
  const lastKeptLazy = root ? await isLazyCheckpoint(root, there.Id, kept.at(-1)!) : false;
  return {
    ref,
    source: source.where,
    target: target.where,
    there: { id: there.Id, running: there.State.Running, status: there.State.Status },
    kept,
    lastKeptLazy,
  };
}

/** The checkpoint an earlier run froze the container in, if its journal says so and the checkpoint is there. */
async function frozenBy(source: Engine, sid: string): Promise<string | undefined> {
  const journal = await readJournal(source, sid);
  return journal && (await listCheckpoints(source, sid)).includes(journal.checkpoint) ? journal.checkpoint : undefined;
}

async function readJournal(source: Engine, sid: string): Promise<Journal | undefined> {
  const found = await listLabelled(source, LABEL_JOURNAL, sid);
  const entry = found[0];
  if (!entry) return undefined;
  const labels = entry.Labels ?? {};
  const checkpoint = labels[LABEL_CHECKPOINT];
  // A label is data from the source engine: only a name migrate itself would have made is used.
  if (!checkpoint || !isMigrateCheckpointName(checkpoint)) return undefined;
  return { id: entry.Id, checkpoint, restartPolicy: decodeRestartPolicy(labels[LABEL_RESTART_POLICY]) };
}

async function checkTargetName(target: Engine, name: string, ours: string[]): Promise<void> {
  try {
    const existing = await target.docker.getContainer(name).inspect();
    if (!ours.includes(existing.Id)) throw preflightRefusals.targetNameTaken(target.where, name);
  } catch (err) {
    if (err instanceof ExtmountError) throw err;
    if (statusOf(err) !== 404) throw engineError(target, err, `looking up ${name}`);
  }
}

async function checkNetwork(target: Engine, mode: string): Promise<void> {
  if (['none', 'default', 'bridge', 'host', ''].includes(mode)) return;
  try {
    await target.docker.getNetwork(mode).inspect();
  } catch (err) {
    if (statusOf(err) === 404) throw preflightRefusals.missingNetwork(mode, target.where);
    throw engineError(target, err, `looking up network ${mode}`);
  }
}

async function planVolumes(source: Engine, target: Engine, container: SourceInspect): Promise<VolumePlan[]> {
  const plans: VolumePlan[] = [];
  for (const m of container.Mounts ?? []) {
    if (m.Type !== 'volume' || !m.Name) continue;
    let info: { Driver: string; Options?: Record<string, string> | null };
    try {
      info = (await source.docker.getVolume(m.Name).inspect()) as typeof info;
    } catch (err) {
      throw engineError(source, err, `inspecting volume ${m.Name}`);
    }
    // A local volume with options is a mount of something else (nfs, a host device, a bind): not content to copy.
    if (info.Driver !== 'local' || Object.keys(info.Options ?? {}).length > 0) {
      throw preflightRefusals.volumeDriver({
        volume: m.Name,
        destination: m.Destination,
        driver: info.Driver,
        options: info.Options,
      });
    }
    let leftover = false;
    try {
      const existing = (await target.docker.getVolume(m.Name).inspect()) as { Labels?: Record<string, string> | null };
      if (existing.Labels?.[LABEL_FROM] !== container.Id) throw preflightRefusals.volumeExists(m.Name, target.where);
      leftover = true;
    } catch (err) {
      if (err instanceof ExtmountError) throw err;
      if (statusOf(err) !== 404) throw engineError(target, err, `looking up volume ${m.Name}`);
    }
    plans.push({ name: m.Name, destination: m.Destination, leftover });
  }
  return plans;
}

async function refuseDeletions(source: Engine, container: SourceInspect, driver: string): Promise<void> {
  const changes = await containerChanges(source, container.Id);
  if (changes.some((c) => c.Kind === 2))
    throw preflightRefusals.deletedFiles(container.Name.replace(/^\//, ''), driver);
}

/** The image by id: a tag on the target is used only when it names the very same image. */
async function ensureImage(
  source: Engine,
  target: Engine,
  container: SourceInspect,
  progress: Progress,
): Promise<{ image: string; imageBytes: number }> {
  const id = container.Image;
  const tag = container.Config.Image;
  const idOn = async (engine: Engine, ref: string): Promise<string | undefined> => {
    try {
      return (await engine.docker.getImage(ref).inspect()).Id;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw engineError(engine, err, `inspecting image ${ref}`);
    }
  };
  let imageBytes = 0;
  if ((await idOn(target, id)) === undefined) {
    // Save by tag when the tag still names this image, so the target gets the tag too.
    const ref = tag && !tag.startsWith('sha256:') && (await idOn(source, tag)) === id ? tag : id;
    progress.phase(`image ${ref}`);
    imageBytes = await transferImage(source, target, ref, progress);
    progress.done();
    if ((await idOn(target, id)) === undefined)
      throw new ExtmountError(
        'docker-failed',
        `image ${ref} was loaded on ${target.where} but its id ${id} is not there`,
        {
          hint: 'run migrate again; if it repeats, copy the image by hand (docker save | docker load)',
        },
      );
  }
  const image = tag && !tag.startsWith('sha256:') && (await idOn(target, tag)) === id ? tag : id;
  return { image, imageBytes };
}

async function checkBindTargets(
  engines: { source: Engine; target: Engine },
  binds: BindTarget[],
  image: string,
  copyBinds: boolean,
  sid: string,
): Promise<void> {
  const { source, target } = engines;
  for (const bind of binds) {
    const what = `bind ${bind.destination} → ${bind.target} on ${target.where}`;
    const sourceStat = await statPath(source, source.docker.getContainer(sid), bind.destination);
    const sourceKind = sourceStat && isDirectoryMode(sourceStat.mode) ? 'directory' : 'file';
    const state = await inspectHostPath(target, image, sid, bind.target);
    if (state.kind === 'symlink')
      throw hostPathRefused(
        what,
        bind.target,
        state,
        'give the real path with --map (the allowlist is checked on the path as written)',
      );
    if (state.kind === 'missing') {
      if (copyBinds && sourceKind === 'directory') {
        if (/[:,]/.test(bind.target)) throw preflightRefusals.bindPathChars(what);
        bind.missing = true;
        continue;
      }
      throw hostPathRefused(
        what,
        bind.target,
        state,
        copyBinds
          ? 'create it on the target first (--copy-binds creates folders, not files)'
          : `create it there, pass --copy-binds to copy ${bind.source} into it, or map it elsewhere with --map`,
      );
    }
    if (state.kind !== sourceKind)
      throw hostPathRefused(what, bind.target, state, `the source ${bind.source} is a ${sourceKind}`);
  }
}
