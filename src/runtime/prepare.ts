// A checkpoint prepared on `pause`, and the post-mortem of one whose runc failed (core/runtime/prepared-checkpoint.ts).
//
// hooks/extmount-runc runs this (EXTMOUNT_PREPARE=1) before it execs `runc pause`: the task still runs, so
// Node.js's start and the analysis cost the caller's pause, not the container's freeze. Nothing here fails
// the pause: whatever goes wrong leaves no stamp, and the checkpoint then takes the full handler.
import { constants } from 'node:os';
import { lstat, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../adapters/fs/atomic-write.js';
import { loadConfig, SYSTEM_CONFIG } from '../adapters/config-file.js';
import { extmountVersion } from '../adapters/package-info.js';
import { liveDir } from '../adapters/live/live-files.js';
import { containerState } from '../adapters/criu/runc.js';
import { checkStateDir, ContainerStateDir } from '../adapters/fs/state-dir.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../adapters/fs/untrusted-file.js';
import { MANIFEST_FILE, renderManifest } from '../core/checkpoint/manifest.js';
import { formatError } from '../core/errors.js';
import { LIVE_REQUEST } from '../core/live/live-request.js';
import {
  PREPARED_CRIU_CONFIG,
  PREPARED_DIR,
  PREPARED_EXPECTED,
  PREPARED_RUNC_STDERR,
  PREPARED_STAMP,
  preparationFits,
  preparationRefusal,
  preparedSources,
  renderExpected,
  renderStamp,
  rootAsGiven,
  type Preparation,
} from '../core/runtime/prepared-checkpoint.js';
import { imagePathOf, isValidContainerId, runcRootOf, type RuncInvocation } from '../core/runtime/runc-argv.js';
import {
  CHECKPOINT_RESULT_FILE,
  containerStateDir,
  parseRuntimeResult,
  renderRuntimeResult,
  type RuntimeResult,
} from '../core/runtime/runtime-files.js';
import { checkpointFailed, prepareDump, startEarlyReads } from './checkpoint.js';
import { requireId, type RuntimeContext } from './context.js';

/** The prepared files' folder of a container: <stateDir>/<id>/prepared. */
function preparedDir(stateDir: string, id: string): string {
  return join(containerStateDir(stateDir, id), PREPARED_DIR);
}

/** On `pause`: prepares the checkpoint that may follow, or leaves none. Always 0: the pause is runc's. */
export async function prepareOnPause(invocation: RuncInvocation, env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const started = performance.now();
  const id = invocation.containerId ?? '';
  if (!isValidContainerId(id)) return 0;
  let state: ContainerStateDir | undefined;
  try {
    const configPath = env.EXTMOUNT_CONFIG || SYSTEM_CONFIG;
    // Read before the config is parsed: a config changed in between then differs from this text at checkpoint.
    const configText = await readBoundedTextIfExists(configPath, READ_LIMITS.config).catch(() => undefined);
    const config = await loadConfig(env.EXTMOUNT_CONFIG || undefined);
    await checkStateDir(config.stateDir);
    const dir = preparedDir(config.stateDir, id);
    // An earlier preparation never outlives a new pause, whatever this one decides.
    await rm(join(dir, PREPARED_STAMP), { force: true });
    const runc = env.EXTMOUNT_RUNC || config.runc;
    const liveRequest = join(liveDir(config.stateDir, id), LIVE_REQUEST);
    const refusal = preparationRefusal({
      invocation,
      runc,
      inheritedCriuConfig: env.CRIU_CONFIG_FILE,
      configPath,
      configPresent: configText !== undefined,
      liveRequestPending: await exists(liveRequest),
    });
    const runcRoot = runcRootOf(invocation, cwd, env, process.geteuid?.() ?? 0);
    state = await ContainerStateDir.open(config.stateDir, id, runcRoot);
    if (refusal) {
      await state.log(`pause: no checkpoint prepared (${refusal})`);
      return 0;
    }
    const before = await containerState(runc, invocation, id, runcRoot);
    if (before.status !== 'running') return 0;
    const ctx: RuntimeContext = { config, runc, env, version: extmountVersion(), cwd, fds: [] };
    const prep: Preparation = {
      id,
      root: rootAsGiven(invocation.globals) ?? '',
      runc,
      configPath,
      pid: before.pid,
      bundle: before.bundle,
      liveRequest,
    };
    if (!preparationFits(prep)) {
      await state.log('pause: no checkpoint prepared (a path the stamp cannot hold)');
      return 0;
    }
    const prepared = await prepareDump(startEarlyReads(invocation, ctx), id, before.pid, before.bundle);
    const at = new Date().toISOString();
    const result: RuntimeResult = {
      verb: 'checkpoint',
      containerId: id,
      ok: true,
      at,
      preparedAt: at,
      mounts: prepared.mounts,
      notes: prepared.notes,
    };
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const write = (name: string, text: string) => writeFileAtomic(join(dir, name), text, { mode: 0o600 });
    if (prepared.criuConfig === undefined) await rm(join(dir, PREPARED_CRIU_CONFIG), { force: true });
    else await write(PREPARED_CRIU_CONFIG, prepared.criuConfig);
    await write(MANIFEST_FILE, renderManifest(prepared.manifest));
    await write(CHECKPOINT_RESULT_FILE, renderRuntimeResult(result));
    const { containerMountinfo, hostMountinfo, bundleConfig } = prepared.sources;
    await write(PREPARED_EXPECTED, renderExpected([containerMountinfo, hostMountinfo, configText!, bundleConfig]));
    // Last: a stamp means every other file is complete.
    await write(PREPARED_STAMP, renderStamp(prep));
    await state.log(
      `pause: checkpoint prepared in ${Math.round(performance.now() - started)} ms (${prepared.mounts.filter((m) => m.mappedBy === 'extmount').length} mount(s) mapped by extmount; compares ${preparedSources(prep).join(', ')})`,
    );
  } catch (err) {
    await state?.log(`pause: no checkpoint prepared (${formatError(err, false)[0]})`);
  }
  return 0;
}

/**
 * On `checkpoint` after the sh's fast path, whose runc exited with `status` (EXTMOUNT_PREPARED_STATUS): the
 * handler's own failure path, on runc's stderr as the sh kept it. The caller had paused the container (the
 * stamp exists only between a pause and its resume).
 */
export async function preparedCheckpointFailed(
  invocation: RuncInvocation,
  ctx: RuntimeContext,
  status: number,
): Promise<number> {
  const id = requireId(invocation);
  const dir = preparedDir(ctx.config.stateDir, id);
  const state = await ContainerStateDir.open(
    ctx.config.stateDir,
    id,
    runcRootOf(invocation, ctx.cwd, ctx.env, process.geteuid?.() ?? 0),
  );
  const read = (name: string) => readBoundedTextIfExists(join(dir, name), READ_LIMITS.runtimeResult).catch(() => '');
  const stderr = (await read(PREPARED_RUNC_STDERR)) ?? '';
  const prepared = parseRuntimeResult((await read(CHECKPOINT_RESULT_FILE)) ?? '');
  const stampedAt = (await stat(join(dir, PREPARED_STAMP)).catch(() => undefined))?.mtimeMs ?? Date.now() - 60_000;
  await state.log(`checkpoint: prepared on pause; runc exited with ${status}`);
  const signal = Object.entries(constants.signals).find(([, n]) => n === status - 128)?.[0] as
    NodeJS.Signals | undefined;
  if (status > 128 && signal) ctx.relay?.detach(signal);
  return checkpointFailed({
    invocation,
    ctx,
    id,
    state,
    before: 'paused',
    run: { exitCode: status, stderr },
    manifestPath: join(imagePathOf(invocation, ctx.cwd), MANIFEST_FILE),
    started: stampedAt,
    result: {
      verb: 'checkpoint',
      containerId: id,
      ok: false,
      at: new Date().toISOString(),
      mounts: prepared?.mounts ?? [],
      notes: prepared?.notes ?? [],
      ...(prepared?.preparedAt ? { preparedAt: prepared.preparedAt } : {}),
    },
  });
}

async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}
