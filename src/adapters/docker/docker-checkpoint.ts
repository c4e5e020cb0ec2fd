// Docker checkpoints through the engine's API (experimental endpoints @types/dockerode lacks).
import type Docker from 'dockerode';
import { isTransientContentExists } from '../../core/docker/docker-checkpoint.js';
import { ExtmountError } from '../../core/errors.js';
import { engineError, type Engine } from './docker.js';

interface CheckpointApi {
  createCheckpoint(opts: { CheckpointID: string; Exit: boolean; CheckpointDir?: string }): Promise<unknown>;
  listCheckpoint(opts?: object): Promise<Array<{ Name: string }> | null>;
  deleteCheckpoint(name: string, opts?: object): Promise<unknown>;
}

function api(container: Docker.Container): CheckpointApi {
  return container as unknown as CheckpointApi;
}

/** Checkpoints need dockerd --experimental (moby: "checkpoint is only supported in experimental mode"). */
export interface EngineInfo {
  ExperimentalBuild?: boolean;
  DockerRootDir: string;
  ServerVersion?: string;
  Runtimes?: Record<string, { path: string }>;
  Architecture?: string;
}

export async function requireExperimental(engine: Engine): Promise<EngineInfo> {
  let info: EngineInfo;
  try {
    info = (await engine.docker.info()) as EngineInfo;
  } catch (err) {
    throw engineError(engine, err, 'reading engine info');
  }
  if (!info.ExperimentalBuild) {
    throw new ExtmountError(
      'bad-input',
      `the Docker engine at ${engine.where} is not in experimental mode, which checkpoints need`,
      {
        hint: 'start dockerd with --experimental (or "experimental": true in daemon.json)',
      },
    );
  }
  return info;
}

export async function createCheckpoint(
  engine: Engine,
  containerId: string,
  name: string,
  options: { exit: boolean },
): Promise<void> {
  try {
    await api(engine.docker.getContainer(containerId)).createCheckpoint({ CheckpointID: name, Exit: options.exit });
  } catch (err) {
    throw engineError(engine, err, `checkpoint ${name} of container ${containerId.slice(0, 12)}`);
  }
}

export async function listCheckpoints(engine: Engine, containerId: string): Promise<string[]> {
  try {
    // For "none" dockerd answers null, which docker-modem hands back as the raw body (a Buffer).
    const answer: unknown = await api(engine.docker.getContainer(containerId)).listCheckpoint();
    return Array.isArray(answer) ? answer.map((c: { Name: string }) => c.Name) : [];
  } catch (err) {
    throw engineError(engine, err, `listing checkpoints of container ${containerId.slice(0, 12)}`);
  }
}

export async function deleteCheckpoint(engine: Engine, containerId: string, name: string): Promise<void> {
  try {
    await api(engine.docker.getContainer(containerId)).deleteCheckpoint(name);
  } catch (err) {
    throw engineError(engine, err, `deleting checkpoint ${name}`);
  }
}

/**
 * `docker start --checkpoint NAME`: the daemon takes the checkpoint as query parameters only.
 * The transient "content sha256:… already exists" (see isTransientContentExists) is retried;
 * beforeAttempt (writing CHECKPOINT_ATTEMPT_FILE) makes each try's upload a new blob.
 */
export async function startFromCheckpoint(
  engine: Engine,
  containerId: string,
  name: string,
  options: { attempts?: number; delayMs?: number; beforeAttempt?: () => Promise<void> } = {},
): Promise<void> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    await options.beforeAttempt?.();
    try {
      await engine.docker
        .getContainer(containerId)
        .start({ _query: { checkpoint: name }, _body: {} } as unknown as Docker.ContainerStartOptions);
      return;
    } catch (err) {
      const message =
        (err as { json?: { message?: string }; message?: string }).json?.message ?? (err as Error).message ?? '';
      if (attempt < attempts && isTransientContentExists(message)) {
        await new Promise((resolve) => setTimeout(resolve, (options.delayMs ?? 500) * attempt));
        continue;
      }
      throw engineError(engine, err, `starting container ${containerId.slice(0, 12)} from checkpoint ${name}`);
    }
  }
}
