// extmount's configuration: its fields, defaults and validation (the file is read by an adapter).
import { isRecord } from './json.js';
import { ExtmountError } from './errors.js';
import { stateDirRefused } from './state-dir-rule.js';

export interface RemapRule {
  /** A host path prefix as recorded at checkpoint time… */
  from: string;
  /** …and what it becomes on restore (this path and everything below it). */
  to: string;
}

export interface Config {
  /** CRIU binary (name looked up in PATH, or absolute). */
  criu: string;
  /** The real runc that hooks/extmount-runc hands every verb to. */
  runc: string;
  /** Node.js for the wrapper's checkpoint/restore handler (read by hooks/extmount-runc; absolute for Podman). */
  node: string;
  /** Where the runtime wrapper keeps per-container CRIU config files and kept CRIU logs. */
  stateDir: string;
  hostPaths: {
    /** When non-empty, restore targets must lie under one of these. */
    allow: readonly string[];
    /** Refused as restore targets (with everything below, except "/", which refuses only itself). */
    deny: readonly string[];
  };
  remap: RemapRule[];
  /**
   * `restore --import`: the most bytes an archive may unpack to in the state dir (its tar, uncompressed);
   * a bigger one is refused (exit 2) before more is written. A compressed archive's size says nothing of it.
   */
  importMaxBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/**
 * System, credential and engine paths never restored from unless allowed explicitly. extmount's own
 * state dir and the data roots of the engines it knows of are denied on top of this list (restore-targets.ts
 * restoreDenials), whatever the config's deny list says.
 */
export const DEFAULT_DENY: readonly string[] = [
  '/',
  '/etc',
  '/proc',
  '/sys',
  '/dev',
  '/root',
  '/home',
  '/usr',
  '/boot',
  '/run',
  '/var/run',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/var/lib/containers',
];

/** At most this many entries in hostPaths.allow, hostPaths.deny and remap each. */
export const CONFIG_MAX_LIST = 1024;

/**
 * 16 GiB: an export holds the container's memory pages, its writable layer and volumes; 16 GiB is more than
 * the memory of most containers checkpointed whole, and still a copy a host's /var can take. Raise it for
 * bigger ones.
 */
export const DEFAULT_IMPORT_MAX_BYTES = 16 * 1024 ** 3;

export const DEFAULT_CONFIG: Config = {
  criu: 'criu',
  runc: 'runc',
  node: 'node',
  stateDir: '/var/lib/extmount',
  hostPaths: { allow: [], deny: DEFAULT_DENY },
  remap: [],
  importMaxBytes: DEFAULT_IMPORT_MAX_BYTES,
  logLevel: 'warn',
};

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Validates parsed JSON; missing fields take their defaults, unknown fields are refused (typos). */
export function parseConfig(value: unknown, origin: string): Config {
  const fail = (what: string) =>
    new ExtmountError('bad-input', `${origin}: ${what}`, { hint: 'see "Configuration" in the README' });
  if (!isRecord(value)) throw fail('the configuration must be a JSON object');
  const known = new Set(Object.keys(DEFAULT_CONFIG));
  for (const key of Object.keys(value)) if (!known.has(key)) throw fail(`unknown field "${key}"`);
  const text = (field: 'criu' | 'runc' | 'node' | 'stateDir'): string => {
    const v = value[field] ?? DEFAULT_CONFIG[field];
    if (typeof v !== 'string' || v === '') throw fail(`"${field}" must be a non-empty string`);
    return v;
  };
  const hostPaths = value.hostPaths ?? DEFAULT_CONFIG.hostPaths;
  if (!isRecord(hostPaths)) throw fail('"hostPaths" must be an object with "allow" and "deny" lists');
  const pathList = (field: 'allow' | 'deny'): string[] => {
    const list = hostPaths[field] ?? DEFAULT_CONFIG.hostPaths[field];
    if (!Array.isArray(list) || !list.every(isAbsolutePath))
      throw fail(`"hostPaths.${field}" must be a list of absolute paths`);
    if (list.length > CONFIG_MAX_LIST)
      throw fail(`"hostPaths.${field}" has ${list.length} entries, more than ${CONFIG_MAX_LIST}`);
    return list.map(normalizePath);
  };
  const deny = pathList('deny');
  const remap = value.remap ?? [];
  if (!Array.isArray(remap)) throw fail('"remap" must be a list of {"from", "to"}');
  if (remap.length > CONFIG_MAX_LIST) throw fail(`"remap" has ${remap.length} entries, more than ${CONFIG_MAX_LIST}`);
  const rules = remap.map((rule, i): RemapRule => {
    if (!isRecord(rule) || !isAbsolutePath(rule.from) || !isAbsolutePath(rule.to)) {
      throw fail(`"remap[${i}]" must be {"from": "/abs/path", "to": "/abs/path"}`);
    }
    return { from: normalizePath(rule.from), to: normalizePath(rule.to) };
  });
  const importMaxBytes = value.importMaxBytes ?? DEFAULT_CONFIG.importMaxBytes;
  if (typeof importMaxBytes !== 'number' || !Number.isSafeInteger(importMaxBytes) || importMaxBytes <= 0) {
    throw fail('"importMaxBytes" must be a positive whole number of bytes');
  }
  const logLevel = value.logLevel ?? DEFAULT_CONFIG.logLevel;
  if (typeof logLevel !== 'string' || !LOG_LEVELS.has(logLevel))
    throw fail(`"logLevel" must be one of ${[...LOG_LEVELS].join(', ')}`);
  return {
    criu: text('criu'),
    runc: text('runc'),
    node: text('node'),
    stateDir: checkStateDirPath(text('stateDir'), deny),
    hostPaths: { allow: pathList('allow'), deny },
    remap: rules,
    importMaxBytes,
    logLevel: logLevel as Config['logLevel'],
  };
}

/**
 * The state dir named by a config, normalized ("/var/lib//extmount/" → "/var/lib/extmount"): absolute, no
 * ".." or NUL, not "/", and not in or below a path the deny list (or the default one) names — "/" in a
 * list refuses only itself.
 */
export function checkStateDirPath(stateDir: string, deny: readonly string[]): string {
  if (!stateDir.startsWith('/') || stateDir.includes('\0') || stateDir.split('/').includes('..')) {
    throw stateDirRefused(stateDir, 'must be an absolute path without ".." components');
  }
  const path = normalizePath(stateDir);
  if (path === '/')
    throw stateDirRefused(stateDir, 'must not be "/": extmount would write its files into the root directory');
  for (const denied of new Set([...DEFAULT_DENY, ...deny].map(normalizePath))) {
    if (denied === '/') continue;
    if (path === denied || path.startsWith(`${denied}/`)) {
      throw stateDirRefused(
        stateDir,
        `lies in "${denied}", a system path the deny list names`,
        'choose a folder of its own, such as /var/lib/extmount',
      );
    }
  }
  return path;
}

export function isAbsolutePath(value: unknown): value is string {
  return (
    typeof value === 'string' && value.startsWith('/') && !value.includes('\0') && !value.split('/').includes('..')
  );
}

/** Drops duplicate and trailing slashes and "." components: "/srv//a/./" → "/srv/a". */
export function normalizePath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return `/${parts.join('/')}`;
}
