// Which engine `docker [GLOBAL FLAGS] extmount …` means: the docker CLI's global flags, env and context store, as the CLI reads them.
//
// The docker CLI runs a plugin with its own original argv (docker/cli cli-plugins/manager PluginRunCommand:
// `os.Args[1:]`), so the global flags come first, then the plugin's name, then the plugin's arguments; the
// plugin resolves the engine itself. The precedence is the CLI's (cli/command/cli.go resolveContextName):
// --host, --context, DOCKER_HOST, DOCKER_CONTEXT, config.json "currentContext", the default context. A
// context lives in <config dir>/contexts/meta/<sha256 of its name>/meta.json, `Endpoints.docker.Host`,
// with its TLS files in contexts/tls/<sha256>/docker/{ca,cert,key}.pem (cli/context/store).
import { resolveDockerHost, type DockerEndpoint } from './docker-host.js';
import { ExtmountError } from '../errors.js';
import { isRecord } from '../json.js';

export const PLUGIN_NAME = 'extmount';

/** The docker CLI's global flags (cli/flags/options.go InstallFlags) that reach a plugin. */
export interface DockerCliFlags {
  host?: string;
  context?: string;
  config?: string;
  debug: boolean;
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

interface GlobalFlag {
  /** -l/--log-level is read (it takes a value) and dropped: extmount has its own log level. */
  key: keyof DockerCliFlags | 'log-level';
  boolean: boolean;
}

const LONG_FLAGS: Record<string, GlobalFlag> = {
  host: { key: 'host', boolean: false },
  context: { key: 'context', boolean: false },
  config: { key: 'config', boolean: false },
  debug: { key: 'debug', boolean: true },
  'log-level': { key: 'log-level', boolean: false },
  tls: { key: 'tls', boolean: true },
  tlsverify: { key: 'tlsverify', boolean: true },
  tlscacert: { key: 'tlscacert', boolean: false },
  tlscert: { key: 'tlscert', boolean: false },
  tlskey: { key: 'tlskey', boolean: false },
};
const SHORT_FLAGS: Record<string, string> = { H: 'host', c: 'context', D: 'debug', l: 'log-level' };

const PLUGIN_HINT =
  'extmount reads the docker CLI\'s global flags -H/--host, -c/--context, --config, -D, -l and --tls*; put extmount\'s own flags after "extmount"';

function usage(message: string, hint = PLUGIN_HINT): ExtmountError {
  return new ExtmountError('usage', message, { hint });
}

/** Own keys only: `--constructor` is not a flag. */
function longFlag(name: string): GlobalFlag | undefined {
  return Object.hasOwn(LONG_FLAGS, name) ? LONG_FLAGS[name] : undefined;
}

/** Go's strconv.ParseBool, which pflag uses for `--tls=false`. */
function parseBool(flag: string, text: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  throw usage(`docker flag ${flag}: "${text}" is not a boolean`);
}

/**
 * Splits the plugin's argv into the docker CLI's global flags and what follows "extmount". Reads them as
 * pflag does: `--flag VALUE`, `--flag=VALUE`, `-H VALUE`, `-HVALUE`, `-H=VALUE`, `-DH VALUE`, `--`.
 */
export function parseDockerCliArgv(argv: readonly string[]): { flags: DockerCliFlags; rest: string[] } {
  const flags: DockerCliFlags = { debug: false };
  const set = (spelled: string, flag: GlobalFlag, value: string | undefined): void => {
    if (flag.key === 'debug' || flag.key === 'tls' || flag.key === 'tlsverify') {
      flags[flag.key] = value === undefined ? true : parseBool(spelled, value);
      return;
    }
    if (value === undefined) throw usage(`docker flag ${spelled} needs an argument`);
    if (flag.key === 'log-level') return;
    // cli/flags/options.go hostVar: "specify only one -H".
    if (flag.key === 'host' && flags.host !== undefined)
      throw usage('specify only one -H', 'give the docker CLI one -H/--host');
    flags[flag.key] = value;
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const flag = longFlag(name);
      if (!flag) throw usage(`docker flag --${name} before "${PLUGIN_NAME}" is not one extmount knows`);
      const value = eq !== -1 ? arg.slice(eq + 1) : flag.boolean ? undefined : argv[++i];
      set(`--${name}`, flag, value);
      continue;
    }
    // A group of shorthands: booleans may be followed by more; a flag with a value takes the rest or the next arg.
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!;
      const flag = Object.hasOwn(SHORT_FLAGS, letter) ? longFlag(SHORT_FLAGS[letter]!) : undefined;
      if (!flag) throw usage(`docker flag -${letter} before "${PLUGIN_NAME}" is not one extmount knows`);
      const tail = arg.slice(j + 1);
      if (flag.boolean && !tail.startsWith('=')) {
        set(`-${letter}`, flag, undefined);
        continue;
      }
      const attached = tail.startsWith('=') ? tail.slice(1) : tail;
      set(`-${letter}`, flag, attached !== '' || tail.startsWith('=') ? attached : argv[++i]);
      break;
    }
  }
  if (argv[i] !== PLUGIN_NAME) {
    throw usage(
      `expected "docker [OPTIONS] ${PLUGIN_NAME} COMMAND …", got ${argv[i] === undefined ? 'no plugin name' : `"${argv[i]}"`} after the docker flags`,
      'hooks/docker-extmount is run by the docker CLI as "docker extmount …"; run extmount itself otherwise',
    );
  }
  return { flags, rest: argv.slice(i + 1) };
}

/** The engine the docker CLI would use; `explicit` when it came from docker's -H or --context flags. */
export interface DockerCliEngine {
  endpoint: DockerEndpoint;
  /** For messages and logs: what chose it, e.g. `docker --context remote`. */
  via: string;
  explicit: boolean;
}

export type DockerCliSelection =
  | { kind: 'default'; explicit: boolean; via: string }
  | { kind: 'context'; name: string; explicit: boolean; via: string }
  /** Nothing chose: the context is config.json's "currentContext" (else the default). */
  | { kind: 'current-context' };

const nonEmpty = (value: string | undefined): value is string => value !== undefined && value !== '';

/** The docker CLI's precedence: --host > --context > DOCKER_HOST > DOCKER_CONTEXT > currentContext > default. */
export function selectDockerCliContext(flags: DockerCliFlags, env: NodeJS.ProcessEnv): DockerCliSelection {
  if (flags.host !== undefined && flags.context !== undefined) {
    // cli/command/cli.go Initialize refuses the pair; so does extmount.
    throw usage(
      'conflicting options: cannot specify both --host and --context',
      'give the docker CLI one of -H/--host and --context',
    );
  }
  const named = (name: string, explicit: boolean, via: string): DockerCliSelection =>
    name === DEFAULT_CONTEXT ? { kind: 'default', explicit, via } : { kind: 'context', name, explicit, via };
  if (flags.context !== undefined) return named(flags.context, true, `docker --context ${flags.context}`);
  if (flags.host !== undefined) return { kind: 'default', explicit: true, via: 'docker -H' };
  if (nonEmpty(env.DOCKER_HOST)) return { kind: 'default', explicit: false, via: 'DOCKER_HOST' };
  if (nonEmpty(env.DOCKER_CONTEXT)) return named(env.DOCKER_CONTEXT, false, `DOCKER_CONTEXT=${env.DOCKER_CONTEXT}`);
  return { kind: 'current-context' };
}

export const DEFAULT_CONTEXT = 'default';

/** config.json's "currentContext" (undefined when the file, or the field, is absent). */
export function currentContextOf(text: string | undefined, origin: string): string | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ExtmountError('bad-input', `${origin} is not valid JSON (${(err as Error).message})`, {
      hint: 'fix it, or choose the engine with docker --context / -H',
    });
  }
  const current = isRecord(doc) ? goField(doc, 'currentContext') : undefined;
  if (current === undefined || current === '') return undefined;
  if (typeof current !== 'string')
    throw new ExtmountError('bad-input', `${origin}: "currentContext" must be a string`, {
      hint: 'fix it with docker context use NAME',
    });
  return current;
}

/** The selection after config.json was read: a named context, or the default one. */
export function selectCurrentContext(
  current: string | undefined,
  origin: string,
): Exclude<DockerCliSelection, { kind: 'current-context' }> {
  if (current === undefined || current === DEFAULT_CONTEXT)
    return { kind: 'default', explicit: false, via: 'the default context' };
  return { kind: 'context', name: current, explicit: false, via: `currentContext ${current} in ${origin}` };
}

/** The default context: -H, else DOCKER_HOST, else the local socket, with the TLS flags and env (cli/flags/options.go). */
export function defaultContextEngine(
  flags: DockerCliFlags,
  env: NodeJS.ProcessEnv,
  configDir: string,
  selection: { explicit: boolean; via: string },
): DockerCliEngine {
  // SetDefaultOptions: giving --tlsverify at all (even =false) turns TLS on; DOCKER_TLS_VERIFY counts when non-empty.
  const verify = flags.tlsverify ?? nonEmpty(env.DOCKER_TLS_VERIFY);
  const tls = flags.tlsverify !== undefined || verify || (flags.tls ?? nonEmpty(env.DOCKER_TLS));
  const host = flags.host ?? (nonEmpty(env.DOCKER_HOST) ? env.DOCKER_HOST : tls ? 'tcp://localhost:2376' : undefined);
  const endpoint = resolveDockerHost(host === undefined ? undefined : withScheme(host), {});
  if (!tls) return chosen(endpoint, selection);
  if (!verify)
    throw tlsRefusal(`${selection.via}: TLS without verifying the engine (--tls, --tlsverify=false or DOCKER_TLS)`);
  const certDir = nonEmpty(env.DOCKER_CERT_PATH) ? env.DOCKER_CERT_PATH : configDir;
  const files = {
    ca: flags.tlscacert ?? `${certDir}/ca.pem`,
    cert: flags.tlscert ?? `${certDir}/cert.pem`,
    key: flags.tlskey ?? `${certDir}/key.pem`,
  };
  const dir = dirnameOf(files.ca);
  const standard = Object.entries(files).every(([name, path]) => path === `${dir === '/' ? '' : dir}/${name}.pem`);
  if (!standard) {
    throw new ExtmountError(
      'usage',
      `${selection.via}: extmount reads the TLS files of an engine as ca.pem, cert.pem and key.pem of one folder`,
      {
        hint: 'put them in one folder under those names and pass --tlsverify with DOCKER_CERT_PATH=FOLDER',
      },
    );
  }
  return chosen(withTls(endpoint, dir, selection.via), selection);
}

/** What the adapter found of a context: its meta.json text (undefined: no such file) and which TLS files it has. */
export interface StoredContext {
  name: string;
  metaPath: string;
  metaText: string | undefined;
  tlsDir: string;
  /** Names present in tlsDir, e.g. ["ca.pem", "cert.pem", "key.pem"]. */
  tlsFiles: readonly string[];
}

/** A named context's docker endpoint (cli/context/docker EndpointFromContext + WithTLSData). */
export function storedContextEngine(
  stored: StoredContext,
  selection: { explicit: boolean; via: string },
): DockerCliEngine {
  const what = `docker context "${stored.name}"`;
  if (stored.metaText === undefined) {
    throw new ExtmountError('bad-input', `${what} does not exist (no ${stored.metaPath})`, {
      hint: `"docker context ls" lists the contexts; pick one with docker --context NAME or DOCKER_CONTEXT (chosen by ${selection.via})`,
    });
  }
  const malformed = (why: string) =>
    new ExtmountError('bad-input', `${what}: ${stored.metaPath} ${why}`, {
      hint: `recreate it with docker context create ${stored.name} --docker host=…`,
    });
  let doc: unknown;
  try {
    doc = JSON.parse(stored.metaText);
  } catch (err) {
    throw malformed(`is not valid JSON (${(err as Error).message})`);
  }
  const endpoints = isRecord(doc) ? goField(doc, 'Endpoints') : undefined;
  const docker = isRecord(endpoints) ? goField(endpoints, 'docker') : undefined;
  if (!isRecord(docker)) throw malformed('has no docker endpoint (Endpoints.docker)');
  const host = goField(docker, 'Host');
  if (typeof host !== 'string' || host === '') throw malformed('has no docker host (Endpoints.docker.Host)');
  if (goField(docker, 'SkipTLSVerify') === true) throw tlsRefusal(`${what} skips TLS verification (SkipTLSVerify)`);
  const endpoint = resolveDockerHost(withScheme(host), {});
  const tlsFiles = ['ca.pem', 'cert.pem', 'key.pem'].filter((f) => stored.tlsFiles.includes(f));
  if (tlsFiles.length === 0) return chosen(endpoint, selection);
  if (tlsFiles.length < 3) {
    throw tlsRefusal(`${what} has only ${tlsFiles.join(' and ')} in ${stored.tlsDir}`);
  }
  return chosen(withTls(endpoint, stored.tlsDir, what), selection);
}

function chosen(endpoint: DockerEndpoint, selection: { explicit: boolean; via: string }): DockerCliEngine {
  return { endpoint, via: selection.via, explicit: selection.explicit };
}

function withTls(endpoint: DockerEndpoint, certPath: string, what: string): DockerEndpoint {
  if (endpoint.kind !== 'tcp') throw tlsRefusal(`${what}: TLS to a ${endpoint.kind} engine`);
  return { ...endpoint, tls: true, certPath };
}

function tlsRefusal(what: string): ExtmountError {
  return new ExtmountError(
    'usage',
    `${what}: extmount connects with TLS only to a verified tcp:// engine with a client certificate`,
    {
      hint: 'use a context with ca.pem, cert.pem and key.pem, a unix socket or an ssh:// host',
    },
  );
}

/** dopts.ParseHost: an address without a scheme is tcp. */
function withScheme(host: string): string {
  return host.includes('://') || host.startsWith('/') ? host : `tcp://${host}`;
}

function dirnameOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? (slash === 0 ? '/' : '.') : path.slice(0, slash);
}

/** Go's encoding/json matches object keys case-insensitively (an exact match first). */
function goField(doc: Record<string, unknown>, name: string): unknown {
  if (name in doc) return doc[name];
  const lower = name.toLowerCase();
  const key = Object.keys(doc).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : doc[key];
}
