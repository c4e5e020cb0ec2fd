// Runs the canary (core/docker/canary.ts) on an engine: created in the shape of the container that
// is about to stop, started, checkpointed (it exits), started from the checkpoint, seen running, removed.
import { Readable } from 'node:stream';
import {
  CANARY_IMAGE,
  CANARY_LABEL,
  CANARY_PATH,
  canaryImageArchive,
  canaryProgram,
} from '../../core/docker/canary.js';
import { ExtmountError, hasReason } from '../../core/errors.js';
import { UNREACHABLE_CODES, engineError, type Engine } from './docker.js';
import { createCheckpoint, startFromCheckpoint } from './docker-checkpoint.js';

export interface CanaryShape {
  runtime: string;
  networkMode: string;
  networkDisabled: boolean;
}

export type CanaryResult = { proved: true } | { proved: false; reason: string } | { skipped: string };

/**
 * Whether `engine` checkpoints and restores a container of this shape; a failure is the result, not
 * an exception. `architecture` is the engine's own (`docker info`), which the caller has read already.
 */
export async function runCanary(
  engine: Engine,
  shape: CanaryShape,
  architecture: string | undefined,
): Promise<CanaryResult> {
  const program = canaryProgram(architecture ?? '');
  if (!program) return { skipped: `no canary program for ${architecture || 'an unknown architecture'}` };
  await ensureImage(engine, program);
  await removeStaleCanaries(engine);
  // A second try, so that one transient failure does not refuse a container that can be restored.
  const first = await canaryOnce(engine, shape);
  return 'proved' in first && !first.proved ? canaryOnce(engine, shape) : first;
}

async function canaryOnce(engine: Engine, shape: CanaryShape): Promise<CanaryResult> {
  let id: string | undefined;
  try {
    id = (
      await engine.docker.createContainer({
        Image: CANARY_IMAGE,
        Entrypoint: [CANARY_PATH],
        Cmd: [],
        Labels: { [CANARY_LABEL]: '1' },
        ...(shape.networkDisabled ? { NetworkDisabled: true } : {}),
        HostConfig: { NetworkMode: shape.networkMode || 'default', Runtime: shape.runtime, AutoRemove: false },
      })
    ).id;
    const canary = engine.docker.getContainer(id);
    await canary.start();
    // `start` returns once runc has let the container's init go, maybe before it has exec'd the
    // canary: a dump then catches runc's init mid-exec. The engine's `top` shows when it is the canary.
    await pollUntil(async () => {
      const top = (await canary.top().catch(() => undefined)) as
        { Titles?: string[]; Processes?: string[][] } | undefined;
      const column = top?.Titles?.findIndex((t) => t === 'CMD' || t === 'COMMAND') ?? -1;
      return column >= 0 && top?.Processes?.length === 1 && top.Processes[0]![column] === CANARY_PATH;
    });
    await createCheckpoint(engine, id, 'canary', { exit: true });
    // The checkpoint call returns before dockerd has seen the exit: the container may still show as
    // paused (containerd pauses around a checkpoint) and refuse the start (seen on Docker 26).
    await pollUntil(async () => {
      const state = (await canary.inspect()).State;
      return !state.Running && !state.Paused;
    });
    await startFromCheckpoint(engine, id, 'canary');
    const state = (await canary.inspect()).State;
    if (!state.Running) return { proved: false, reason: `the canary is ${state.Status} after its restore` };
    return { proved: true };
  } catch (err) {
    // An engine that went away proves nothing about checkpoints: say that it cannot be reached.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) throw engineError(engine, err, 'the restore canary');
    if (hasReason(err, 'unreachable')) throw err;
    return { proved: false, reason: err instanceof ExtmountError ? err.message : String(err) };
  } finally {
    if (id)
      await engine.docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
  }
}

async function ensureImage(engine: Engine, program: Buffer): Promise<void> {
  try {
    await engine.docker.getImage(CANARY_IMAGE).inspect();
    return;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404)
      throw engineError(engine, err, `looking up ${CANARY_IMAGE}`);
  }
  const [repo, tag] = CANARY_IMAGE.split(':');
  try {
    const progress = await engine.docker.importImage(Readable.from([canaryImageArchive(program)]) as never, {
      repo,
      tag,
    });
    // The answer is a progress stream; an import error arrives in it, not as a status.
    await new Promise<void>((resolve, reject) => {
      engine.docker.modem.followProgress(progress, (err: Error | null, events: Array<{ error?: string }>) => {
        const failed = err ?? events.find((e) => e.error);
        if (failed) reject(failed instanceof Error ? failed : new Error((failed as { error: string }).error));
        else resolve();
      });
    });
  } catch (err) {
    throw engineError(engine, err, `importing ${CANARY_IMAGE}`);
  }
}

/** Canaries a killed run left (each lives seconds; one older than this is nobody's). */
const STALE_CANARY_S = 600;

async function removeStaleCanaries(engine: Engine): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const found = await engine.docker
    .listContainers({ all: true, filters: { label: [`${CANARY_LABEL}=1`] } })
    .catch(() => []);
  for (const c of found)
    if (now - c.Created > STALE_CANARY_S)
      await engine.docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
}

/** Up to 5 s, 50 ms apart; what follows reports the failure if the condition never came. */
async function pollUntil(done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await done()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}
