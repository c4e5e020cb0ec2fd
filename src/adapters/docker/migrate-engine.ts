// The engine calls migrate makes besides checkpoints: inspect, labelled lookups, helper containers, removal.
import type Docker from 'dockerode';
import { ExtmountError } from '../../core/errors.js';
import { LABEL_HELPER, type RestartPolicy, type SourceInspect } from '../../core/migrate/migrate-config.js';
import { engineError, inspectRaw, UNREACHABLE_CODES, type Engine } from './docker.js';

/** The entrypoint of helper containers: they are never started, so it never has to exist. */
export const HELPER_ENTRYPOINT = '/extmount-helper-never-started';

export function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

export async function inspectSource(engine: Engine, ref: string): Promise<SourceInspect> {
  return (await inspectRaw(engine, ref)) as unknown as SourceInspect;
}

/** The container, or undefined when the engine no longer has it. */
export async function inspectMaybe(engine: Engine, id: string): Promise<SourceInspect | undefined> {
  try {
    return (await engine.docker.getContainer(id).inspect()) as unknown as SourceInspect;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw engineError(engine, err, `inspecting container ${id.slice(0, 12)}`);
  }
}

export async function listLabelled(engine: Engine, label: string, value: string): Promise<Docker.ContainerInfo[]> {
  try {
    return await engine.docker.listContainers({ all: true, filters: { label: [`${label}=${value}`] } });
  } catch (err) {
    throw engineError(engine, err, `listing containers labelled ${label}`);
  }
}

/** Removes a container; one that is already gone counts as removed. Never removes named volumes. */
export async function removeContainer(
  engine: Engine,
  id: string,
  options: { force?: boolean; anonymousVolumes?: boolean } = {},
): Promise<void> {
  try {
    await engine.docker
      .getContainer(id)
      .remove({ force: options.force ?? false, v: options.anonymousVolumes ?? false });
  } catch (err) {
    if (statusOf(err) === 404) return;
    throw engineError(engine, err, `removing container ${id.slice(0, 12)}`);
  }
}

export async function setRestartPolicy(engine: Engine, id: string, policy: RestartPolicy): Promise<void> {
  try {
    await engine.docker.getContainer(id).update({ RestartPolicy: policy });
  } catch (err) {
    throw engineError(engine, err, `setting the restart policy of ${id.slice(0, 12)}`);
  }
}

export interface HelperMount {
  /** bind and volume go through Mounts (the source must exist); create-bind is a legacy -v bind the engine creates if missing. */
  type: 'bind' | 'volume' | 'create-bind';
  source: string;
  target: string;
  readOnly?: boolean;
  nonRecursive?: boolean;
}

export interface HelperSpec {
  image: string;
  /** The source container's id: helpers are labelled with it, so a later run can clean them up. */
  sourceId: string;
  mounts: readonly HelperMount[];
}

/**
 * A created, never started container whose mounts make host paths and volumes reachable through
 * the archive endpoints (the engine mounts them rprivate for each call and unmounts them after).
 * It runs nothing and has no network.
 */
export async function createHelper(engine: Engine, spec: HelperSpec): Promise<Docker.Container> {
  try {
    return await engine.docker.createContainer({
      Image: spec.image,
      Entrypoint: [HELPER_ENTRYPOINT],
      Cmd: [],
      NetworkDisabled: true,
      Labels: { [LABEL_HELPER]: spec.sourceId },
      HostConfig: {
        NetworkMode: 'none',
        Mounts: spec.mounts
          .filter((m) => m.type !== 'create-bind')
          .map((m) => ({
            Type: m.type as 'bind' | 'volume',
            Source: m.source,
            Target: m.target,
            ReadOnly: m.readOnly ?? false,
            ...(m.type === 'bind' && m.nonRecursive ? { BindOptions: { NonRecursive: true } } : {}),
            ...(m.type === 'volume' ? { VolumeOptions: { NoCopy: true } } : {}),
          })) as Docker.MountSettings[],
        Binds: spec.mounts
          .filter((m) => m.type === 'create-bind')
          .map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
      },
    });
  } catch (err) {
    throw engineError(engine, err, 'creating a helper container');
  }
}

/** A helper for the duration of fn, then removed (with its anonymous volumes). */
export async function withHelper<T>(
  engine: Engine,
  spec: HelperSpec,
  fn: (helper: Docker.Container) => Promise<T>,
): Promise<T> {
  const helper = await createHelper(engine, spec);
  try {
    return await fn(helper);
  } finally {
    await helper.remove({ force: true, v: true }).catch(() => undefined);
  }
}

/** Helpers made ahead (before the freeze, so their creation is not downtime) and removed together (after the start). */
export class HelperPool {
  private readonly made: Array<{ engine: Engine; container: Docker.Container }> = [];

  async open(engine: Engine, spec: HelperSpec): Promise<Docker.Container> {
    const container = await createHelper(engine, spec);
    this.made.push({ engine, container });
    return container;
  }

  async removeAll(): Promise<void> {
    const made = this.made.splice(0);
    await Promise.all(made.map((h) => h.container.remove({ force: true, v: true }).catch(() => undefined)));
  }
}

/** Removes helpers a crashed run left behind (they were never started). */
export async function removeHelpers(engine: Engine, sourceId: string): Promise<number> {
  const helpers = await listLabelled(engine, LABEL_HELPER, sourceId);
  for (const h of helpers) await removeContainer(engine, h.Id, { force: true, anonymousVolumes: true });
  return helpers.length;
}

/** Go's os.FileMode bits, as the engine's path stat reports them. */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;

export interface PathStat {
  name: string;
  mode: number;
  size: number;
  linkTarget: string;
}

export function isDirectoryMode(mode: number): boolean {
  return Math.floor(mode / MODE_DIR) % 2 === 1;
}

export function isSymlinkMode(mode: number): boolean {
  return Math.floor(mode / MODE_SYMLINK) % 2 === 1;
}

/** HEAD /containers/{id}/archive: the stat of a path in the container (its mounts included); undefined when absent. */
export async function statPath(
  engine: Engine,
  container: Docker.Container,
  path: string,
): Promise<PathStat | undefined> {
  let res: { headers: Record<string, string | undefined>; resume(): void };
  try {
    res = await container.infoArchive({ path });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw engineError(engine, err, `stat of ${path}`);
  }
  res.resume();
  const header = res.headers['x-docker-container-path-stat'];
  if (!header)
    throw new ExtmountError(
      'docker-failed',
      `${engine.where} answered a path stat without X-Docker-Container-Path-Stat`,
      {
        hint: 'check that the address names a Docker engine (20.10 or newer), not a proxy that drops headers',
      },
    );
  return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as PathStat;
}

/** One line for a failure, saying plainly when an engine went away (also when wrapped as a cause). */
export function describeFailure(err: unknown, engine: Engine): string {
  const code = unreachableCode(err);
  if (code) return `cannot reach the Docker engine at ${engine.where} (${code})`;
  return err instanceof Error ? err.message : String(err);
}

/** The connection error in ERR's cause chain: the engine never answered (it may have acted all the same). */
export function unreachableCode(err: unknown): string | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return code;
  }
  return undefined;
}

/**
 * The verification window: the container must report running, with the same init pid and no
 * restart, from the first look until `ms` later, polled every 200 ms (a restored process that dies
 * and is restarted by a policy would otherwise look alive at both ends).
 */
export async function verifyRunning(engine: Engine, id: string, ms: number, what: string): Promise<void> {
  const first = await inspectMaybe(engine, id);
  if (!first?.State.Running)
    throw new ExtmountError(
      'restore-failed',
      `${what} on ${engine.where} is not running after the restore (${first ? first.State.Status : 'gone'})`,
    );
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(200, left)));
    const now = await inspectMaybe(engine, id);
    if (
      !now?.State.Running ||
      now.State.Restarting ||
      now.State.Pid !== first.State.Pid ||
      now.RestartCount !== first.RestartCount
    ) {
      throw new ExtmountError(
        'restore-failed',
        `${what} on ${engine.where} stopped within ${ms} ms of the restore (${now ? now.State.Status : 'gone'})`,
      );
    }
    if (left <= 0) return;
  }
}
