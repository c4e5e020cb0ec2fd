// Reads a runc command line as runc itself reads it (global options, verb, its options, the ID), and `runc state`.
//
// The shape (go-runc, containerd 1.6): `--root R --log F --log-format json checkpoint --image-path P
// --work-path W [--leave-running] ID` and `… restore --image-path P --work-path W --detach --pid-file F
// -no-subreaper --bundle B ID`. runc 1.1 parses with urfave/cli v1.22.1 over Go's flag package: `-flag`
// and `--flag` alike, `--flag=value`, and a command's flags may follow its arguments (urfave reorderArgs
// moves every flag, with the argument after it, before the others). hooks/extmount-runc finds the verb,
// and the calls that only runc can answer (help, a flag without its value), the same way in sh; keep
// the lists in step.
import { ExtmountError } from '../errors.js';

/** runc's global options that take a value (runc 1.1 main.go). */
const GLOBAL_VALUE_FLAGS = new Set(['root', 'log', 'log-format', 'criu', 'rootless']);

/** Options of `runc checkpoint` and `runc restore` that take a value (runc 1.1 checkpoint.go, restore.go). */
const VERB_VALUE_FLAGS = new Set([
  'image-path',
  'work-path',
  'parent-path',
  'page-server',
  'manage-cgroups-mode',
  'empty-ns',
  'status-fd',
  'lsm-profile',
  'lsm-mount-context',
  'console-socket',
  'bundle',
  'b',
  'pid-file',
]);

/** urfave/cli gives every command a `--help, -h` flag; runc prints the command's help and exits 0. */
const HELP_FLAGS = new Set(['help', 'h']);

export interface RuncInvocation {
  /** Everything before the verb, as given. */
  globals: string[];
  verb: string | undefined;
  /** Global options by name (without dashes); boolean options map to "true". */
  globalOptions: ReadonlyMap<string, string>;
  /** The verb's options by name (without dashes); boolean options map to "true". */
  options: ReadonlyMap<string, string>;
  /** The verb's arguments, in order, once its options are taken out (urfave's reordering). */
  positionals: string[];
  /** The container ID: the one argument checkpoint and restore take. */
  containerId: string | undefined;
  /** `--help` or `-h` among the verb's options: runc answers with the command's help. */
  help: boolean;
  /**
   * Set when runc would refuse the command line itself (a flag without its value, bad flag syntax, not
   * exactly one container ID): runc's own message and exit code are the answer, extmount adds nothing.
   */
  usageProblem: string | undefined;
}

export function parseRuncArgv(argv: readonly string[]): RuncInvocation {
  const globalOptions = new Map<string, string>();
  let i = 0;
  let problem: string | undefined;
  for (; i < argv.length; i++) {
    const read = readOption(argv, i, GLOBAL_VALUE_FLAGS, globalOptions);
    if (read.consumed === 0) break;
    problem ??= read.problem;
    i += read.consumed - 1;
  }
  const globals = argv.slice(0, i);
  const verb = argv[i];
  const options = new Map<string, string>();
  const args = reorderArgs(argv.slice(i + 1));
  let j = 0;
  for (; j < args.length; j++) {
    const read = readOption(args, j, VERB_VALUE_FLAGS, options);
    if (read.consumed === 0) break;
    problem ??= read.problem;
    j += read.consumed - 1;
  }
  const rest = args.slice(j);
  const positionals = rest[0] === '--' ? rest.slice(1) : rest;
  const help = [...HELP_FLAGS].some((h) => options.has(h) && options.get(h) !== 'false');
  if (!problem && positionals.length !== 1) problem = `"runc ${verb ?? ''}" requires exactly 1 argument`;
  return {
    globals,
    verb,
    globalOptions,
    options,
    positionals,
    containerId: positionals[0],
    help,
    usageProblem: problem,
  };
}

/** urfave/cli v1.22.1 reorderArgs: flags (each with the next non-flag argument) first, then the rest; `--` ends it. */
export function reorderArgs(args: readonly string[]): string[] {
  const flags: string[] = [];
  const others: string[] = [];
  let readFlagValue = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      others.push(...args.slice(i));
      break;
    }
    if (readFlagValue && !arg.startsWith('-')) {
      readFlagValue = false;
      flags.push(arg);
      continue;
    }
    readFlagValue = false;
    if (arg !== '-' && arg.startsWith('-')) {
      flags.push(arg);
      readFlagValue = !arg.includes('=');
    } else {
      others.push(arg);
    }
  }
  return [...flags, ...others];
}

/** How many arguments the option at argv[i] takes up (0: not an option), as Go's flag package reads it. */
function readOption(
  argv: readonly string[],
  i: number,
  valueFlags: ReadonlySet<string>,
  into: Map<string, string>,
): { consumed: number; problem?: string } {
  const arg = argv[i]!;
  if (!arg.startsWith('-') || arg === '-') return { consumed: 0 };
  if (arg === '--') return { consumed: 0 };
  const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
  if (body === '' || body.startsWith('-') || body.startsWith('='))
    return { consumed: 1, problem: `bad flag syntax: ${arg}` };
  const eq = body.indexOf('=');
  if (eq !== -1) {
    into.set(body.slice(0, eq), body.slice(eq + 1));
    return { consumed: 1 };
  }
  if (valueFlags.has(body)) {
    const value = argv[i + 1];
    // Go's flag package takes the next argument whatever it looks like, or fails.
    if (value === undefined) return { consumed: 1, problem: `flag needs an argument: ${arg}` };
    into.set(body, value);
    return { consumed: 2 };
  }
  into.set(body, 'true');
  return { consumed: 1 };
}

/** A path as runc opens it: relative ones from its working directory. */
function fromCwd(path: string, cwd: string): string {
  return path.startsWith('/') ? path : `${cwd.replace(/\/$/, '')}/${path}`;
}

/**
 * The images dir of a checkpoint or restore: `--image-path`, else runc's default `$PWD/checkpoint`
 * (runc 1.1 utils_linux.go getDefaultImagePath; an empty value counts as unset, checkpoint.go
 * prepareImagePaths).
 */
/** Whether a boolean option of the verb is set, read as runc reads `--leave-running=…` (Go's strconv.ParseBool true values). */
export function optionSet(invocation: RuncInvocation, name: string): boolean {
  return ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(invocation.options.get(name) ?? '');
}

export function imagePathOf(invocation: RuncInvocation, cwd: string): string {
  const given = invocation.options.get('image-path');
  return fromCwd(given ? given : 'checkpoint', cwd);
}

/**
 * Where CRIU writes dump.log / restore.log: `--work-path`, else CRIU's own default, the images dir (runc
 * passes no work dir fd then: libcontainer container_linux.go, "if criuOpts.WorkDirectory is not set,
 * criu default is used").
 */
export function workPathOf(invocation: RuncInvocation, cwd: string): string {
  const given = invocation.options.get('work-path');
  return given ? fromCwd(given, cwd) : imagePathOf(invocation, cwd);
}

/** The bundle of a restore: `--bundle`/`-b`, else runc's working directory (runc 1.1 utils_linux.go setupSpec). */
export function bundleOf(invocation: RuncInvocation, cwd: string): string {
  const given = invocation.options.get('bundle') || invocation.options.get('b');
  return given ? fromCwd(given, cwd) : cwd;
}

/**
 * runc's state root: `--root`, else /run/runc, or $XDG_RUNTIME_DIR/runc for a non-root user (runc 1.1
 * main.go, shouldHonorXDGRuntimeDir; the rootless-in-userns case is left out: the wrapper runs as root).
 */
export function runcRootOf(
  invocation: RuncInvocation,
  cwd: string,
  env: { XDG_RUNTIME_DIR?: string | undefined },
  euid: number,
): string {
  const given = invocation.globalOptions.get('root');
  if (given) return fromCwd(given, cwd);
  if (euid !== 0 && env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/runc`;
  return '/run/runc';
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
  if (
    !state ||
    typeof state.pid !== 'number' ||
    typeof state.status !== 'string' ||
    typeof state.bundle !== 'string' ||
    !state.bundle.startsWith('/')
  ) {
    throw new ExtmountError('bad-input', `runc state ${id}: unexpected output "${text.trim().slice(0, 80)}"`, {
      hint: 'is "runc" in the config the real runc?',
    });
  }
  return { pid: state.pid, status: state.status, bundle: state.bundle };
}
