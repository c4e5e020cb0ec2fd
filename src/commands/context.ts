// What every command gets from the CLI: configuration, output, logging, global flags.
import type { Log } from '../adapters/log.js';
import type { Config } from '../core/config.js';
import type { DockerCliEngine } from '../core/docker/docker-cli-context.js';
import type { CommandIO } from './io.js';

export interface CommandContext {
  config: Config;
  io: CommandIO;
  log: Log;
  json: boolean;
  /** --host, else DOCKER_HOST, else the local socket (resolved when a command needs an engine). */
  host: string | undefined;
  /** Run as `docker … extmount`: the engine the docker CLI's flags, env and context mean (used when --host is absent). */
  dockerCli?: DockerCliEngine | undefined;
}
