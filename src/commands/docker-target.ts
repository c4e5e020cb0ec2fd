// Finds a container on the engine the user named and checks it can be worked on from this host.
import { existsSync } from 'node:fs';
import type { ContainerInfo } from '../core/mounts/container.js';
import { resolveDockerHost } from '../core/docker/docker-host.js';
import { ExtmountError } from '../core/errors.js';
import { connectEngine, inspectContainer, type Engine } from '../adapters/docker/docker.js';
import type { CommandContext } from './context.js';

export function engineFor(ctx: CommandContext, host = ctx.host): Engine {
  if (host === undefined && ctx.dockerCli) return connectEngine(ctx.dockerCli.endpoint);
  return connectEngine(resolveDockerHost(host, ctx.io.env));
}

/** A running container whose processes are visible in this host's /proc. */
export async function localContainer(ctx: CommandContext, ref: string): Promise<ContainerInfo> {
  const engine = engineFor(ctx);
  const container = await inspectContainer(engine, ref);
  if (!container.running || container.pid <= 0) {
    throw new ExtmountError('bad-input', `container ${container.name} is not running`, {
      hint: 'start it first: its mounts are read from /proc/PID/mountinfo',
    });
  }
  if (engine.endpoint.kind !== 'unix' || !existsSync(`/proc/${container.pid}`)) {
    throw new ExtmountError(
      'bad-input',
      `container ${container.name} does not run on this host (engine ${engine.where})`,
      {
        hint: 'run extmount on the host where the container runs',
      },
    );
  }
  return container;
}
