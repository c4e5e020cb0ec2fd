// Reads what the docker CLI reads to pick an engine (config.json, the context store) for the CLI plugin.
import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  currentContextOf,
  defaultContextEngine,
  parseDockerCliArgv,
  selectCurrentContext,
  selectDockerCliContext,
  storedContextEngine,
  type DockerCliEngine,
  type DockerCliFlags,
} from '../../core/docker/docker-cli-context.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../fs/untrusted-file.js';

export interface PluginInvocation {
  flags: DockerCliFlags;
  engine: DockerCliEngine;
  /** extmount's own arguments: what followed "extmount". */
  rest: string[];
}

/** The docker CLI's config dir: --config, else DOCKER_CONFIG, else ~/.docker (cli/config Dir). */
export function dockerConfigDir(env: NodeJS.ProcessEnv, flag?: string): string {
  return flag ?? (env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'));
}

/** The plugin's argv as the docker CLI passed it → the engine it means and extmount's own arguments. */
export async function resolvePluginInvocation(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<PluginInvocation> {
  const { flags, rest } = parseDockerCliArgv(argv);
  const configDir = dockerConfigDir(env, flags.config);
  let selection = selectDockerCliContext(flags, env);
  if (selection.kind === 'current-context') {
    const configPath = join(configDir, 'config.json');
    selection = selectCurrentContext(
      currentContextOf(await readBoundedTextIfExists(configPath, READ_LIMITS.dockerCliConfig), configPath),
      configPath,
    );
  }
  if (selection.kind === 'default')
    return { flags, rest, engine: defaultContextEngine(flags, env, configDir, selection) };
  // cli/context/store: a context's folders are named by the sha256 of its name. (node:crypto only here:
  // the default context, an offline command's, does not load it.)
  const { createHash } = await import('node:crypto');
  const id = createHash('sha256').update(selection.name).digest('hex');
  const metaPath = join(configDir, 'contexts', 'meta', id, 'meta.json');
  const tlsDir = join(configDir, 'contexts', 'tls', id, 'docker');
  const stored = {
    name: selection.name,
    metaPath,
    metaText: await readBoundedTextIfExists(metaPath, READ_LIMITS.dockerContextMeta),
    tlsDir,
    tlsFiles: await readdir(tlsDir).catch(() => []),
  };
  return { flags, rest, engine: storedContextEngine(stored, selection) };
}
