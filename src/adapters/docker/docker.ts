// A thin layer over dockerode: connect to an engine and read what extmount needs from it.
import { engineErrorHint, engineFailureReason } from '../../core/docker/engine-errors.js';
import {
  restoreBlocker,
  restoreRoute,
  type RestoreBlocker,
  type RestoreRoute,
  type RestoreShape,
} from '../../core/docker/restore-blockers.js';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { ContainerInfo } from '../../core/mounts/container.js';
import type { Change } from '../../core/migrate/migrate-plan.js';
import { describeEndpoint, type DockerEndpoint } from '../../core/docker/docker-host.js';
import { ExtmountError } from '../../core/errors.js';

export interface Engine {
  docker: Docker;
  endpoint: DockerEndpoint;
  /** For messages: where the engine is. */
  where: string;
}

export function connectEngine(endpoint: DockerEndpoint): Engine {
  const where = describeEndpoint(endpoint);
  switch (endpoint.kind) {
    case 'unix':
      return { docker: new Docker({ socketPath: endpoint.socketPath }), endpoint, where };
    case 'tcp': {
      if (!endpoint.tls)
        return { docker: new Docker({ host: endpoint.host, port: endpoint.port, protocol: 'http' }), endpoint, where };
      const certPath = endpoint.certPath ?? join(homedir(), '.docker');
      const read = (name: string) => {
        try {
          return readFileSync(join(certPath, name));
        } catch (err) {
          throw new ExtmountError('bad-input', `TLS for ${where}: cannot read ${join(certPath, name)}`, {
            hint: 'set DOCKER_CERT_PATH to the folder holding ca.pem, cert.pem and key.pem',
            cause: err,
          });
        }
      };
      return {
        docker: new Docker({
          host: endpoint.host,
          port: endpoint.port,
          protocol: 'https',
          ca: read('ca.pem'),
          cert: read('cert.pem'),
          key: read('key.pem'),
        }),
        endpoint,
        where,
      };
    }
    case 'ssh':
      return {
        docker: new Docker({
          protocol: 'ssh',
          host: endpoint.host,
          port: endpoint.port,
          ...(endpoint.username ? { username: endpoint.username } : {}),
          sshOptions: { agent: process.env.SSH_AUTH_SOCK },
        } as Docker.DockerOptions),
        endpoint,
        where,
      };
  }
}

/**
 * Socket errors that mean the engine is not there. A request on a kept-alive connection to a daemon
 * that has just stopped fails with EPIPE or ECONNRESET rather than ECONNREFUSED.
 */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EACCES',
  'EPIPE',
  'ECONNRESET',
  'ECONNABORTED',
]);

/** Maps dockerode's failures to extmount errors: unknown container and unreachable engine are bad input. */
export function engineError(engine: Engine, err: unknown, what: string): ExtmountError {
  const e = err as { statusCode?: number; code?: string; json?: { message?: string }; message?: string };
  if (e.code !== undefined && UNREACHABLE_CODES.has(e.code)) {
    return new ExtmountError('bad-input', `cannot reach the Docker engine at ${engine.where} (${e.code})`, {
      hint: 'check that dockerd runs there, or pass --host / set DOCKER_HOST',
      cause: err,
      reason: 'unreachable',
    });
  }
  const message = e.json?.message ?? e.message ?? String(err);
  return new ExtmountError('docker-failed', `${what} on ${engine.where}: ${message.trim()}`, {
    hint: engineErrorHint(e.statusCode, message),
    cause: err,
    reason: engineFailureReason(message),
  });
}

export async function inspectContainer(engine: Engine, ref: string): Promise<ContainerInfo> {
  return containerInfoFromInspect(await inspectRaw(engine, ref));
}

/** The engine's own inspect answer; an unknown container is bad input (exit 2). */
export async function inspectRaw(engine: Engine, ref: string): Promise<Docker.ContainerInspectInfo> {
  try {
    return await engine.docker.getContainer(ref).inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) {
      throw new ExtmountError('bad-input', `no container "${ref}" on ${engine.where}`, {
        hint: 'check the name with `docker ps -a`',
        cause: err,
      });
    }
    throw engineError(engine, err, `inspecting container "${ref}"`);
  }
}

export function containerInfoFromInspect(info: Docker.ContainerInspectInfo): ContainerInfo {
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    pid: info.State.Pid,
    running: info.State.Running,
    runtime: info.HostConfig.Runtime ?? 'runc',
    mounts: (info.Mounts ?? []).map((m) => ({
      type: m.Type ?? 'bind',
      source: m.Source,
      destination: m.Destination,
      ...(m.Type === 'volume' && m.Name ? { volumeName: m.Name } : {}),
      readOnly: !m.RW,
      propagation: m.Propagation ?? '',
    })),
    runtimeFiles: [info.HostsPath, info.ResolvConfPath, info.HostnamePath].filter((p): p is string => Boolean(p)),
  };
}

/**
 * The writable layer's changes. For "none" dockerd answers `null`, which docker-modem hands back as
 * the raw body (a Buffer): never iterate what it returns without checking.
 */
export async function containerChanges(engine: Engine, id: string): Promise<Change[]> {
  let answer: unknown;
  try {
    answer = await engine.docker.getContainer(id).changes();
  } catch (err) {
    throw engineError(engine, err, 'reading the writable layer changes');
  }
  return Array.isArray(answer) ? (answer as Change[]) : [];
}

/** Whether this engine can restore a container of this network shape (see core/docker/restore-blockers). */
export async function engineRestoreBlocker(
  engine: Engine,
  network: { mode: string | undefined; disabled: boolean | undefined },
): Promise<RestoreBlocker | undefined> {
  const { containerd, shape } = await restoreShapeOn(engine, network);
  return restoreBlocker(containerd, shape);
}

/** Whether the engine can bring a container of this network shape back in place, in a NetworkDisabled copy, or not at all. */
export async function engineRestoreRoute(
  engine: Engine,
  network: { mode: string | undefined; disabled: boolean | undefined },
): Promise<RestoreRoute> {
  const { containerd, shape } = await restoreShapeOn(engine, network);
  return restoreRoute(containerd, shape);
}

async function restoreShapeOn(
  engine: Engine,
  network: { mode: string | undefined; disabled: boolean | undefined },
): Promise<{ containerd: string | undefined; shape: RestoreShape }> {
  let containerd: string | undefined;
  let bridgeExists: boolean;
  try {
    const version = await engine.docker.version();
    containerd = version.Components?.find((c) => c.Name.toLowerCase() === 'containerd')?.Version;
    bridgeExists = (await engine.docker.listNetworks({ filters: { name: ['bridge'] } })).some(
      (n) => n.Name === 'bridge',
    );
  } catch (err) {
    throw engineError(engine, err, 'reading the engine version');
  }
  return {
    containerd,
    shape: { networkMode: network.mode ?? 'default', networkDisabled: network.disabled === true, bridgeExists },
  };
}

/** The refusal for a container that the engine at `where` could not bring back. */
export function blockedRestoreError(
  name: string,
  where: string,
  why: string,
  blocker: RestoreBlocker,
  alternative?: string,
): ExtmountError {
  return new ExtmountError(
    'refused',
    `${name} would be stopped but could not be restored ${why} ${where}: ${blocker.reason} (${blocker.upstream})`,
    {
      hint: `nothing was stopped; ${blocker.workaround}${alternative ? `; or ${alternative}` : ''}`,
    },
  );
}

/** The refusal when a canary of the container's shape did not come back on the engine at `where`. */
export function canaryFailedError(
  name: string,
  where: string,
  why: string,
  reason: string,
  shape: { runtime: string; networkMode: string },
): ExtmountError {
  return new ExtmountError(
    'refused',
    `${name} would be stopped but could not be restored ${why} ${where}: a canary container of its shape (runtime ${shape.runtime}, network mode ${shape.networkMode}) did not come back from a checkpoint there (${reason})`,
    {
      hint: 'nothing was stopped; make checkpoint and restore work on that engine first (docker checkpoint create and docker start --checkpoint of any container there fail the same way)',
    },
  );
}
