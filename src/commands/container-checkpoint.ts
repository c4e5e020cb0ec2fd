// `extmount checkpoint CONTAINER` / `extmount restore CONTAINER`: Docker checkpoints through the engine's API.
//
// The work itself happens in hooks/extmount-runc, which dockerd runs for the container; these commands
// check first (experimental daemon, extmount runtime when needed, restore targets), carry --map to the
// wrapper in the checkpoint's own folder (`docker start` has no way to pass it), and report what it did.
import { randomUUID } from 'node:crypto';
import { lstat, realpath, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { classifyOnHost } from '../core/mounts/classify-on-host.js';
import type { ContainerInfo } from '../core/mounts/container.js';
import {
  defaultCheckpointName,
  looksLikeExtmountRuntime,
  mountsNeedingExtmount,
  runtimeMessageFrom,
  validateCheckpointName,
} from '../core/docker/docker-checkpoint.js';
import { ExtmountError, fileError } from '../core/errors.js';
import { MANIFEST_FILE, type Manifest } from '../core/checkpoint/manifest.js';
import { planExternalMounts } from '../core/mounts/plan.js';
import { resolveRestoreTargets, restoreDenials } from '../core/checkpoint/restore-targets.js';
import {
  CHECKPOINT_ATTEMPT_FILE,
  CHECKPOINT_MAPS_FILE,
  CHECKPOINT_RESULT_FILE,
  containerStateDir,
  parseRuntimeResult,
  renderMapsFile,
  RESTORE_RESULT_FILE,
  type RuntimeMountResult,
  type RuntimeResult,
} from '../core/runtime/runtime-files.js';
import { dumpPropagationNote, dumpPropagationNoteOnHost } from '../core/runtime/runtime-plan.js';
import {
  blockedRestoreError,
  canaryFailedError,
  containerInfoFromInspect,
  engineRestoreBlocker,
  inspectRaw,
  type Engine,
} from '../adapters/docker/docker.js';
import {
  createCheckpoint,
  listCheckpoints,
  requireExperimental,
  startFromCheckpoint,
  type EngineInfo,
} from '../adapters/docker/docker-checkpoint.js';
import { writeFileAtomic } from '../adapters/fs/atomic-write.js';
import { runCanary } from '../adapters/docker/restore-canary.js';
import { checkRestoreTargets } from '../adapters/fs/restore-target-check.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../adapters/fs/untrusted-file.js';
import { readManifestIn } from '../adapters/fs/manifest-file.js';
import { fileTypesOf } from '../adapters/procfs/procfs.js';
import { hostMountIndex, processMountTable } from '../adapters/procfs/mount-table.js';
import { engineFor } from './docker-target.js';
import { WRAPPER_PATH } from './install-runtime.js';
import type { CommandContext } from './context.js';

export interface ContainerCheckpointOptions {
  ref: string;
  name: string | undefined;
  leaveRunning: boolean;
}

export interface ContainerRestoreOptions {
  ref: string;
  name: string | undefined;
  /** KEY → host path (--map KEY=PATH). */
  maps: ReadonlyMap<string, string>;
}

export async function runContainerCheckpoint(options: ContainerCheckpointOptions, ctx: CommandContext): Promise<void> {
  const engine = engineFor(ctx);
  const { container, raw } = await inspect(engine, options.ref);
  const daemon = await requireExperimental(engine);
  if (!container.running)
    throw new ExtmountError('bad-input', `container ${container.name} is not running`, {
      hint: 'start it before checkpointing',
    });
  const name = options.name ?? defaultCheckpointName(new Date());
  const nameProblem = validateCheckpointName(name);
  if (nameProblem) throw new ExtmountError('usage', `--name ${name}: a checkpoint name ${nameProblem}`);
  const underExtmount = await isExtmountRuntime(daemon, container.runtime);

  const detected = await detectLocally(engine, container, raw);
  if (detected && detected.needs.length > 0 && !underExtmount) {
    const list = detected.needs
      .map((m) => `${m.mountpoint} (${m.kind}${m.hostPath ? `, from ${m.hostPath}` : ''})`)
      .join(', ');
    throw new ExtmountError(
      'refused',
      `container ${container.name} has mounts runc cannot checkpoint by itself: ${list}; it runs under runtime "${container.runtime}"`,
      {
        hint: 'recreate it with --runtime extmount (register the runtime with `extmount install-runtime --apply`)',
      },
    );
  }

  if (!options.leaveRunning) {
    const blocker = await engineRestoreBlocker(engine, {
      mode: raw.HostConfig.NetworkMode,
      disabled: (raw.Config as { NetworkDisabled?: boolean }).NetworkDisabled,
    });
    if (blocker)
      throw blockedRestoreError(container.name, engine.where, 'on', blocker, 'checkpoint with --leave-running');
    const shape = {
      runtime: container.runtime,
      networkMode: raw.HostConfig.NetworkMode ?? 'default',
      networkDisabled: (raw.Config as { NetworkDisabled?: boolean }).NetworkDisabled === true,
    };
    const canary = await runCanary(engine, shape, daemon.Architecture);
    if ('proved' in canary && !canary.proved)
      throw canaryFailedError(container.name, engine.where, 'on', canary.reason, shape);
  }

  const started = Date.now();
  try {
    await withRuntimeMessage(
      createCheckpoint(engine, container.id, name, { exit: !options.leaveRunning }),
      `checkpoint ${name} of ${container.name}`,
    );
  } catch (err) {
    // The error line comes first (the CLI contract); what detection found goes under it.
    if (err instanceof ExtmountError && detected?.notes.length) {
      throw new ExtmountError(err.code, err.message, {
        hint: err.hint,
        cause: err,
        reason: err.reason,
        details: [...err.details, ...detected.notes.map((n) => `note: ${n}`)],
      });
    }
    throw err;
  }
  const result = underExtmount ? await readResult(ctx, container.id, CHECKPOINT_RESULT_FILE, started) : undefined;
  const imagesDir = daemon.DockerRootDir
    ? join(daemon.DockerRootDir, 'containers', container.id, 'checkpoints', name)
    : null;
  const report = {
    container: container.name,
    id: container.id,
    checkpoint: name,
    leftRunning: options.leaveRunning,
    runtime: container.runtime,
    imagesDir,
    mounts: result?.mounts ?? [],
    notes: result?.notes ?? detected?.notes ?? [],
  };
  if (ctx.json) {
    ctx.io.out(JSON.stringify(report, null, 2));
    return;
  }
  const lines = [
    `checkpoint ${name} of ${container.name} created (${options.leaveRunning ? 'container left running' : 'container stopped'})`,
  ];
  if (imagesDir) lines.push(`  images: ${imagesDir}`);
  lines.push(...mountLines(report.mounts, 'dumped from'), ...report.notes.map((n) => `  note: ${n}`));
  ctx.io.out(lines.join('\n'));
}

export async function runContainerRestore(options: ContainerRestoreOptions, ctx: CommandContext): Promise<void> {
  const engine = engineFor(ctx);
  const { container } = await inspect(engine, options.ref);
  const daemon = await requireExperimental(engine);
  if (container.running) {
    throw new ExtmountError('bad-input', `container ${container.name} is running`, {
      hint: 'stop it first, or checkpoint it without --leave-running',
    });
  }
  const underExtmount = await isExtmountRuntime(daemon, container.runtime);
  if (options.maps.size > 0 && engine.endpoint.kind !== 'unix') {
    // The maps reach the runtime through a file in this host's stateDir; a remote runtime never sees it.
    throw new ExtmountError('usage', `--map needs extmount on the engine's own host, and ${engine.where} is remote`, {
      hint: 'run extmount restore on that host',
    });
  }
  if (options.maps.size > 0 && !underExtmount) {
    throw new ExtmountError(
      'refused',
      `--map needs the extmount runtime, and container ${container.name} runs under "${container.runtime}"`,
      {
        hint: 'recreate it with --runtime extmount',
      },
    );
  }
  const name = options.name ?? (await newestCheckpoint(engine, daemon, container));
  const manifest = await readManifest(daemon, container, name);
  if (options.maps.size > 0 && !manifest) {
    throw new ExtmountError(
      'bad-input',
      `checkpoint ${name} of ${container.name} has no ${MANIFEST_FILE}: --map has nothing to apply to`,
      {
        hint: 'it was not taken through the extmount runtime',
      },
    );
  }
  if (manifest) {
    // The same checks the wrapper makes, before anything is written or started: a refusal changes nothing.
    const targets = resolveRestoreTargets(manifest, options.maps, ctx.config.remap);
    // A propagated mount without --map or a remap rule comes from under the container's own bind,
    // which the runtime finds in its bundle (runtime-plan.ts declaredTarget): nothing recorded to check here.
    const chosen = targets.filter((t) => t.from !== 'original');
    await checkRestoreTargets(
      chosen,
      ctx.config.hostPaths,
      restoreDenials(ctx.config, daemon.DockerRootDir ? [daemon.DockerRootDir] : []),
    );
  }

  // The maps go beside the images, which the engine hands to the runtime whatever stateDir it uses;
  // no file there (a stale one included) means no --map.
  const checkpointDir = daemon.DockerRootDir
    ? join(daemon.DockerRootDir, 'containers', container.id, 'checkpoints', name)
    : undefined;
  if (options.maps.size > 0 && !checkpointDir) {
    throw new ExtmountError(
      'docker-failed',
      `${engine.where} does not say where its data root is, so --map cannot be handed to the runtime`,
      { hint: 'restore without --map' },
    );
  }
  const mapsFile = checkpointDir ? join(checkpointDir, CHECKPOINT_MAPS_FILE) : undefined;
  // Only where the folder is on this host (a remote engine's is not): a stale blob cannot block the start.
  const attemptFile =
    checkpointDir && (await isLocalDirectory(checkpointDir)) ? join(checkpointDir, CHECKPOINT_ATTEMPT_FILE) : undefined;
  const beforeAttempt = attemptFile
    ? async () => {
        try {
          await writeFileAtomic(attemptFile, `${randomUUID()}\n`, { mode: 0o600 });
        } catch (err) {
          throw fileError('write', attemptFile, err);
        }
      }
    : undefined;
  const started = Date.now();
  try {
    try {
      if (mapsFile && options.maps.size > 0)
        await writeFileAtomic(mapsFile, renderMapsFile(options.maps, name), { mode: 0o600 });
      else if (mapsFile) await rm(mapsFile, { force: true });
    } catch (err) {
      throw fileError('write', mapsFile!, err);
    }
    await withRuntimeMessage(
      startFromCheckpoint(engine, container.id, name, { beforeAttempt }),
      `restore of ${container.name} from checkpoint ${name}`,
    );
  } finally {
    for (const file of [mapsFile, attemptFile]) if (file) await rm(file, { force: true }).catch(() => undefined);
  }
  const after = await inspect(engine, container.id);
  const result = underExtmount ? await readResult(ctx, container.id, RESTORE_RESULT_FILE, started) : undefined;
  const report = {
    container: container.name,
    id: container.id,
    checkpoint: name,
    pid: after.container.pid,
    mounts: result?.mounts ?? [],
    notes:
      result?.notes ??
      (underExtmount
        ? [
            `the runtime left no result in ${containerStateDir(ctx.config.stateDir, container.id)} (does its config name another stateDir?), so its mounts are not listed`,
          ]
        : []),
  };
  if (ctx.json) {
    ctx.io.out(JSON.stringify(report, null, 2));
    return;
  }
  ctx.io.out(
    [
      `restored ${container.name} from checkpoint ${name} (pid ${report.pid})`,
      ...mountLines(report.mounts, 'restored from'),
      ...report.notes.map((n) => `  note: ${n}`),
    ].join('\n'),
  );
}

async function inspect(
  engine: Engine,
  ref: string,
): Promise<{ container: ContainerInfo; raw: Docker.ContainerInspectInfo }> {
  const raw = await inspectRaw(engine, ref);
  return { container: containerInfoFromInspect(raw), raw };
}

/** The container's runtime is hooks/extmount-runc: by name, or by real path. */
async function isExtmountRuntime(daemon: EngineInfo, runtime: string): Promise<boolean> {
  const path = daemon.Runtimes?.[runtime]?.path;
  if (looksLikeExtmountRuntime(path)) return true;
  if (!path) return false;
  const [real, ours] = await Promise.all([
    realpath(path).catch(() => path),
    realpath(WRAPPER_PATH).catch(() => WRAPPER_PATH),
  ]);
  return real === ours;
}

/** What the container needs, when its processes are visible here (the engine is local). */
async function detectLocally(engine: Engine, container: ContainerInfo, raw: Docker.ContainerInspectInfo) {
  if (engine.endpoint.kind !== 'unix' || container.pid <= 0) return undefined;
  const mounts = await processMountTable(container.pid).catch(() => undefined);
  if (mounts === undefined) return undefined;
  const { classification, hostPaths, hostMounts } = classifyOnHost(mounts, await hostMountIndex(), container);
  const plan = planExternalMounts(classification, { fileTypes: await fileTypesOf(hostPaths) });
  const needs = mountsNeedingExtmount(plan, container, raw.HostConfig.MaskedPaths ?? []);
  const ours = new Set(needs.map((m) => m.key));
  const notes = plan.mounts.flatMap((m) => {
    const note = ours.has(m.key) ? dumpPropagationNoteOnHost(m, hostMounts) : dumpPropagationNote(m);
    return [
      ...(m.hostPath === null
        ? [`${m.mountpoint} (key ${m.key}): no host mount shows its content; restore needs --map ${m.key}=PATH`]
        : []),
      ...(note ? [note] : []),
    ];
  });
  return { needs, notes };
}

async function newestCheckpoint(engine: Engine, daemon: EngineInfo, container: ContainerInfo): Promise<string> {
  const names = await listCheckpoints(engine, container.id);
  if (names.length === 0)
    throw new ExtmountError('bad-input', `container ${container.name} has no checkpoint`, {
      hint: 'create one with `extmount checkpoint CONTAINER`',
    });
  if (names.length === 1) return names[0]!;
  // The API lists names only: the newest is the one whose images folder changed last.
  const dir = join(daemon.DockerRootDir, 'containers', container.id, 'checkpoints');
  const dated = await Promise.all(
    names.map(async (n) => ({ n, t: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? -1 })),
  );
  dated.sort((a, b) => b.t - a.t);
  if (dated[0]!.t < 0)
    throw new ExtmountError('usage', `container ${container.name} has ${names.length} checkpoints`, {
      hint: `pick one with --name (${names.join(', ')})`,
    });
  return dated[0]!.n;
}

/** The manifest beside the checkpoint's images, when the engine's data root is on this host. */
async function readManifest(daemon: EngineInfo, container: ContainerInfo, name: string): Promise<Manifest | undefined> {
  if (!daemon.DockerRootDir) return undefined;
  const dir = join(daemon.DockerRootDir, 'containers', container.id, 'checkpoints', name);
  return readManifestIn(dir);
}

/** Docker wraps the wrapper's own line in its error; bring that line to the front. */
async function withRuntimeMessage<T>(call: Promise<T>, what: string): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const ours = err instanceof Error ? runtimeMessageFrom(err.message) : undefined;
    if (ours)
      throw new ExtmountError('criu-failed', `${what} failed: ${ours.replace(/^(checkpoint|restore) failed: /, '')}`, {
        cause: err,
      });
    throw err;
  }
}

/** The wrapper's result for this call (written after `started`), if there is one. */
async function readResult(
  ctx: CommandContext,
  id: string,
  file: string,
  started: number,
): Promise<RuntimeResult | undefined> {
  const text = await readBoundedTextIfExists(
    join(containerStateDir(ctx.config.stateDir, id), file),
    READ_LIMITS.runtimeResult,
  ).catch(() => undefined);
  const result = text === undefined ? undefined : parseRuntimeResult(text);
  if (!result || Date.parse(result.at) < started - 1000) return undefined;
  return result;
}

function mountLines(mounts: readonly RuntimeMountResult[], verb: string): string[] {
  const ours = mounts.filter((m) => m.mappedBy === 'extmount');
  if (mounts.length === 0) return [];
  const lines = [
    `  external mounts: ${mounts.length} (${ours.length} mapped by extmount, ${mounts.length - ours.length} by runc)`,
  ];
  for (const m of mounts) {
    lines.push(
      `    ${m.mountpoint}  key ${m.key}  ${m.kind}  ${verb} ${m.path ?? '?'}  ${m.propagation}${m.mappedBy === 'extmount' ? '  [extmount]' : ''}`,
    );
  }
  return lines;
}

async function isLocalDirectory(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isDirectory() === true;
}
