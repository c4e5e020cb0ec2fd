// The extmount command line: finds the command (its spec in src/cli/commands/), parses its flags, wires it to
// its context, maps errors to exit codes.
import { ExtmountError, formatError } from '../core/errors.js';
import { loadConfig } from '../adapters/config-file.js';
import { checkStateDir } from '../adapters/fs/state-dir.js';
import { createLogger } from '../adapters/log.js';
import { extmountVersion } from '../adapters/package-info.js';
import type { CommandContext } from '../commands/context.js';
import type { DockerCliEngine } from '../core/docker/docker-cli-context.js';
import { describeEndpoint } from '../core/docker/docker-host.js';
import { processIO, type CommandIO } from '../commands/io.js';
import { commandHelp, EXIT_CODES, formatOptions, GLOBAL_OPTIONS, parse, usage, type CommandSpec } from './options.js';
import { detect } from './commands/detect.js';
import { checkpoint } from './commands/checkpoint.js';
import { restore } from './commands/restore.js';
import { migrate } from './commands/migrate.js';
import { installRuntime } from './commands/install-runtime.js';
import { installPlugin } from './commands/install-plugin.js';
import { checkpointImage } from './commands/checkpoint-image.js';
import { restorePod } from './commands/restore-pod.js';
import { show } from './commands/show.js';

/** Every command, its spec in src/cli/commands/ (exported for the in-process tests); the order is the help's. */
export const COMMANDS: Record<string, CommandSpec> = {
  detect,
  checkpoint,
  restore,
  migrate,
  'install-runtime': installRuntime,
  'install-plugin': installPlugin,
  'checkpoint-image': checkpointImage,
  'restore-pod': restorePod,
  show,
};

/** hooks/docker-extmount passes this first, then the argv the docker CLI gave the plugin. */
export const DOCKER_CLI_PLUGIN_FLAG = '--docker-cli-plugin';

export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const plugin = argv[0] === DOCKER_CLI_PLUGIN_FLAG;
  let debug = argv.includes('--debug') || (plugin && argv.includes('-D'));
  try {
    let dockerCli: DockerCliEngine | undefined;
    if (plugin) {
      // `docker [GLOBAL FLAGS] extmount ARGS…`: the engine is the one the docker CLI means.
      const { resolvePluginInvocation } = await import('../adapters/docker/docker-cli-config.js');
      const invocation = await resolvePluginInvocation(argv.slice(1), io.env);
      argv = invocation.rest;
      debug = invocation.flags.debug || argv.includes('--debug');
      dockerCli = invocation.engine;
    }
    let { name, rest } = splitCommand(argv);
    // `extmount help [COMMAND]` is `extmount [COMMAND] --help`.
    if (name === 'help') {
      const topic = splitCommand(rest);
      if (topic.name !== undefined && !COMMANDS[topic.name]) throw usage(`unknown command "${topic.name}"`);
      ({ name, rest } = { name: topic.name, rest: [...topic.rest, '--help'] });
    }
    const spec = name ? COMMANDS[name] : undefined;
    if (name && !spec) throw usage(`unknown command "${name}"`);
    const { values, positionals, passthrough } = parse(rest, { ...GLOBAL_OPTIONS, ...(spec?.options ?? {}) }, name);
    if (values.version) {
      io.out(extmountVersion());
      return 0;
    }
    if (values.help) {
      io.out(spec ? commandHelp(spec) : topHelp());
      return 0;
    }
    if (!spec) {
      // Bare `extmount` is a usage error: the help goes to stderr, as a shell user expects.
      io.err(topHelp());
      return 2;
    }
    if (dockerCli?.explicit && values.host !== undefined) {
      throw usage(`conflicting options: ${dockerCli.via} before "extmount" and --host after it`, name);
    }
    const logFormat = (values['log-format'] as string | undefined) ?? 'text';
    if (logFormat !== 'text' && logFormat !== 'json')
      throw usage(`--log-format must be text or json, got "${logFormat}"`);
    const config = await loadConfig(values.config as string | undefined);
    await checkStateDir(config.stateDir);
    const ctx: CommandContext = {
      config,
      io,
      log: await createLogger(debug ? 'debug' : config.logLevel, logFormat, (line) => io.err(line)),
      json: values.json === true,
      host: values.host as string | undefined,
      dockerCli,
    };
    if (dockerCli)
      ctx.log.debug(`docker CLI plugin: engine ${describeEndpoint(dockerCli.endpoint)} (chosen by ${dockerCli.via})`);
    await spec.run(values, positionals, passthrough, ctx);
    return 0;
  } catch (err) {
    for (const line of formatError(err, debug)) io.err(line);
    return err instanceof ExtmountError ? err.exitCode : 1;
  }
}

/** The command is the first argument that is neither an option nor the value of a global option. */
function splitCommand(argv: string[]): { name: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg === '--config' || arg === '--host' || arg === '--log-format') {
      i++;
      continue;
    }
    if (!arg.startsWith('-')) return { name: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { name: undefined, rest: argv };
}

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const list = Object.entries(COMMANDS)
    .map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `extmount ${extmountVersion()}: CRIU checkpoint/restore that keeps external bind mounts

Usage: extmount [options] COMMAND [args]

Commands:
${list}

Global options:
${formatOptions(GLOBAL_OPTIONS)}
${EXIT_CODES}
Run "extmount help COMMAND" (or "extmount COMMAND --help") for a command's own options.
As a docker CLI plugin (extmount install-plugin): docker [-H HOST | --context NAME] extmount COMMAND …
uses the engine the docker CLI would: --host, --context, DOCKER_HOST, DOCKER_CONTEXT, currentContext.`;
}
