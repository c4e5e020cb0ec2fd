// Reads a runc command line as containerd's shim builds it (global options, verb, its options, the ID), and `runc state`.
//
// The shape (go-runc, containerd 1.6): `--root R --log F --log-format json checkpoint --image-path P
// --work-path W [--leave-running] ID` and `… restore --image-path P --work-path W --detach --pid-file F
// -no-subreaper --bundle B ID`. runc parses with urfave/cli v1, which also takes `-flag`, `--flag=value`.
// hooks/extmount-runc finds the verb the same way in sh; keep the two lists in step.
import { ExtmountError } from './errors.js';

/** runc's global options that take a value (runc 1.1 main.go). */
const GLOBAL_VALUE_FLAGS = new Set(['root', 'log', 'log-format', 'criu', 'rootless']);

/** Options of `runc checkpoint` and `runc restore` that take a value (runc 1.1 checkpoint.go, restore.go). */
const VERB_VALUE_FLAGS = new Set([
  'image-path', 'work-path', 'parent-path', 'page-server', 'manage-cgroups-mode', 'empty-ns', 'status-fd',
  'lsm-profile', 'lsm-mount-context', 'console-socket', 'bundle', 'b', 'pid-file',
]);

export interface RuncInvocation {
  /** Everything before the verb, as given. */
  globals: string[];
  verb: string | undefined;
  /** Global options by name (without dashes); boolean options map to "true". */
  globalOptions: ReadonlyMap<string, string>;
  /** The verb's options by name (without dashes); boolean options map to "true". */
  options: ReadonlyMap<string, string>;
  /** The first positional argument after the verb's options: the container ID. */
  containerId: string | undefined;
}

export function parseRuncArgv(argv: readonly string[]): RuncInvocation {
  const globalOptions = new Map<string, string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const consumed = readOption(argv, i, GLOBAL_VALUE_FLAGS, globalOptions);
    if (consumed === 0) break;
    i += consumed - 1;
  }
  const globals = argv.slice(0, i);
  const verb = argv[i];
  const options = new Map<string, string>();
  let containerId: string | undefined;
  for (let j = i + 1; j < argv.length; j++) {
    const consumed = readOption(argv, j, VERB_VALUE_FLAGS, options);
    if (consumed === 0) {
      containerId = argv[j];
      break;
    }
    j += consumed - 1;
  }
  return { globals, verb, globalOptions, options, containerId };
}

/** How many arguments the option at argv[i] takes up (0: not an option). */
function readOption(argv: readonly string[], i: number, valueFlags: ReadonlySet<string>, into: Map<string, string>): number {
  const arg = argv[i]!;
  if (arg === '--' || !arg.startsWith('-') || arg === '-') return 0;
  const body = arg.replace(/^--?/, '');
  const eq = body.indexOf('=');
  if (eq !== -1) {
    into.set(body.slice(0, eq), body.slice(eq + 1));
    return 1;
  }
  if (valueFlags.has(body)) {
    const value = argv[i + 1];
    if (value === undefined) return 1;
    into.set(body, value);
    return 2;
  }
  into.set(body, 'true');
  return 1;
}

/** runc's own rule for container IDs (libcontainer/factory_linux.go): also safe as a file name. */
export function isValidContainerId(id: string): boolean {
  return /^[\w+,.-]{1,1024}$/.test(id) && id !== '.' && id !== '..';
}

export interface RuncState {
  pid: number;
  /** created, running, pausing, paused, stopped */
  status: string;
  bundle: string;
}

/** Parses `runc state ID` output (the OCI state, with runc's "bundle" and "status"). */
export function parseRuncState(text: string, id: string): RuncState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  const state = doc as { pid?: unknown; status?: unknown; bundle?: unknown } | undefined;
  if (!state || typeof state.pid !== 'number' || typeof state.status !== 'string' || typeof state.bundle !== 'string' || !state.bundle.startsWith('/')) {
    throw new ExtmountError('bad-input', `runc state ${id}: unexpected output "${text.trim().slice(0, 80)}"`, { hint: 'is "runc" in the config the real runc?' });
  }
  return { pid: state.pid, status: state.status, bundle: state.bundle };
}
