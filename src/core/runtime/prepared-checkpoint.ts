// A checkpoint prepared on `pause` (issue 26): the decisions, and the files the sh wrapper compares. Pure.
//
// containerd's client (dockerd, the CRI) pauses the task, then asks the runtime to checkpoint, then resumes
// it: all the handler does before `runc checkpoint` (Node.js's start, runc state, the analysis) would fall
// inside the container's freeze. So hooks/extmount-runc runs the handler's analysis on `pause`, while the
// task still runs, and writes into <stateDir>/<id>/prepared/ the CRIU config, the manifest, the result,
// and what they were computed from: `expected` holds the exact texts read (the container's mountinfo, the
// host's, the extmount config, the bundle's config.json) and `stamp` names them. On `checkpoint` the sh
// compares — its own view of the call with the stamp's header, `cat` of the named files with `expected`
// (one `cmp`), a path that must be absent — and only when all of it matches runs runc with the prepared
// CRIU config; anything else goes to the full handler. preparationValid below is the same comparison, the
// reference the sh is tested against (test/hooks/prepared-checkpoint.test.ts).
//
// Why the whole host table and not only the lines selectMounts used: a mount added on the host where a
// bind source lies changes which lines selectMounts would pick, and telling that needs the selection run
// again. Comparing the whole table never uses a stale analysis; a host whose table changes between pause
// and checkpoint (a busy Kubernetes node) just takes the full handler more often. A bind source replaced
// without a mount (renamed, removed) shows in the container's own mountinfo (the mount's root path
// follows its dentry, or ends in "//deleted").
import { isCrun } from './crun-compat.js';
import { isValidContainerId, type RuncInvocation } from './runc-argv.js';

export const PREPARED_DIR = 'prepared';
export const PREPARED_STAMP = 'stamp';
export const PREPARED_EXPECTED = 'expected';
export const PREPARED_CRIU_CONFIG = 'criu-dump.conf';
/** runc's stderr on the fast path, for the post-mortem (containerd shows only the first line). */
export const PREPARED_RUNC_STDERR = 'runc.stderr';
const STAMP_MAGIC = 'extmount-prepared 1';
/** The header lines the sh rebuilds from its own view of the call, then the sources, then the end mark. */
const SOURCES = 4;

/** What the wrapper knows of a `pause` call before it prepares anything. */
export interface PauseFacts {
  invocation: RuncInvocation;
  /** The real runc ($EXTMOUNT_RUNC, else the config's). */
  runc: string;
  /** $CRIU_CONFIG_FILE of the caller: its options join ours only in the full handler. */
  inheritedCriuConfig: string | undefined;
  /** The config path the sh reads ($EXTMOUNT_CONFIG, else /etc/extmount/config.json), and whether it is there. */
  configPath: string;
  configPresent: boolean;
  /** Whether migrate --live left a request for this container (it is taken by the full handler). */
  liveRequestPending: boolean;
}

/** Why no checkpoint is prepared on this `pause`, or undefined when one is. */
export function preparationRefusal(facts: PauseFacts): string | undefined {
  const { invocation } = facts;
  if (invocation.verb !== 'pause' || invocation.help || invocation.usageProblem) return 'not a plain pause';
  const id = invocation.containerId ?? '';
  if (!isValidContainerId(id)) return 'no valid container ID';
  const root = rootAsGiven(invocation.globals);
  if (root === null) return 'global options the sh does not read the same way';
  if (isCrun(facts.runc)) return 'crun behind the wrapper (the handler makes up for its differences)';
  if (facts.inheritedCriuConfig) return 'CRIU_CONFIG_FILE set by the caller';
  if (!facts.configPresent) return `no config at ${facts.configPath} (the sh reads only that one)`;
  if (facts.liveRequestPending) return 'a post-copy request is pending';
  for (const value of [facts.runc, facts.configPath, root]) if (!lineSafe(value)) return 'a path the stamp cannot hold';
  return undefined;
}

/**
 * The `--root` value exactly as given (empty without one), or null when the globals hold something the sh
 * reads differently (`--root=…`, `--criu`, `--rootless`): the sh compares the stamp with its own reading.
 */
export function rootAsGiven(globals: readonly string[]): string | null {
  let root = '';
  for (let i = 0; i < globals.length; i++) {
    const arg = globals[i]!;
    if (arg === '--root' || arg === '-root') root = globals[++i] ?? '';
    else if (['--log', '-log', '--log-format', '-log-format'].includes(arg)) i++;
    else if (!['--debug', '-debug', '--systemd-cgroup', '-systemd-cgroup'].includes(arg)) return null;
  }
  return root;
}

/** What a preparation depends on; paths as the sh will see them. */
export interface Preparation {
  id: string;
  /** `--root` as given on the pause (and so on the checkpoint), empty without one. */
  root: string;
  runc: string;
  configPath: string;
  pid: number;
  bundle: string;
  /** <stateDir>/live/<id>/request.json: a post-copy request there makes the checkpoint the handler's. */
  liveRequest: string;
}

/** The files whose text `expected` holds, in its order. */
export function preparedSources(p: Preparation): string[] {
  return [`/proc/${p.pid}/mountinfo`, '/proc/self/mountinfo', p.configPath, `${p.bundle}/config.json`];
}

/** Whether every path of the preparation fits on one stamp line as the sh reads it (`IFS= read -r`). */
export function preparationFits(p: Preparation): boolean {
  return [p.root, p.runc, p.configPath, p.bundle, p.liveRequest].every(lineSafe) && isValidContainerId(p.id);
}

export function renderStamp(p: Preparation): string {
  return `${[
    STAMP_MAGIC,
    ...stampHeader(p),
    ...preparedSources(p).map((s) => `same ${s}`),
    `absent ${p.liveRequest}`,
    'end',
  ].join('\n')}\n`;
}

function stampHeader(v: { id: string; root: string; runc: string; configPath: string }): string[] {
  return [`id ${v.id}`, `root ${v.root}`, `runc ${v.runc}`, `config ${v.configPath}`];
}

/** `expected`: the texts of preparedSources, as read for the analysis, one after the other. */
export function renderExpected(texts: readonly string[]): string {
  return texts.join('');
}

/** What the wrapper sees on `checkpoint`: its reading of the call, and of the files the stamp names. */
export interface CheckpointObservation {
  call: { id: string; root: string; runc: string; configPath: string };
  /** The stamp's text; undefined when there is none. */
  stamp: string | undefined;
  expected: string | undefined;
  /** The text of a file now, undefined when it cannot be read. */
  read(path: string): string | undefined;
  exists(path: string): boolean;
}

/** Whether the prepared files may be used for this checkpoint (what hooks/extmount-runc checks, in sh). */
export function preparationValid(o: CheckpointObservation): boolean {
  if (o.stamp === undefined || o.expected === undefined) return false;
  const lines = o.stamp.split('\n');
  const header = [STAMP_MAGIC, ...stampHeader(o.call)];
  if (header.some((line, i) => lines[i] !== line)) return false;
  const sources = lines.slice(header.length, header.length + SOURCES);
  const absent = lines[header.length + SOURCES];
  if (lines[header.length + SOURCES + 1] !== 'end') return false;
  if (!sources.every((l) => l.startsWith('same ')) || !absent?.startsWith('absent ')) return false;
  if (o.exists(absent.slice('absent '.length))) return false;
  let now = '';
  for (const line of sources) now += o.read(line.slice('same '.length)) ?? '';
  return now === o.expected;
}

/** Which path a `runc checkpoint` call takes, read as hooks/extmount-runc reads it. */
export type CheckpointRoute = { route: 'prepared'; id: string; root: string; images: string } | { route: 'handler' };

/** Options the fast path passes to runc as they are (those of containerd's shim); any other → the handler. */
const FAST_FLAGS = new Set(['leave-running', 'tcp-established', 'ext-unix-sk', 'shell-job', 'file-locks']);
const FAST_VALUE_FLAGS = new Set(['image-path', 'work-path', 'manage-cgroups-mode', 'empty-ns']);

/**
 * The sh's choice for a checkpoint argv: the prepared path only for the plain call containerd's shim makes
 * (`--image-path ABS`, known options without `=`, one ID, no `--lazy-pages`, `--page-server`, `--status-fd`,
 * `--pre-dump`, `--parent-path`, help or `--`); the handler for everything else.
 */
export function checkpointRoute(argv: readonly string[]): CheckpointRoute {
  let i = 0;
  let root = '';
  const handler = { route: 'handler' } as const;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const arg = argv[i]!;
    if (arg === '--root' || arg === '-root') root = argv[++i] ?? '';
    else if (['--log', '-log', '--log-format', '-log-format'].includes(arg)) i++;
    else if (!['--debug', '-debug', '--systemd-cgroup', '-systemd-cgroup'].includes(arg)) return handler;
  }
  if (argv[i] !== 'checkpoint') return handler;
  let id: string | undefined;
  let images = '';
  for (i++; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.replace(/^--?/, '');
    if (!arg.startsWith('-')) {
      if (id !== undefined) return handler;
      id = arg;
    } else if (arg.startsWith('-') && FAST_VALUE_FLAGS.has(name)) {
      if (i + 1 >= argv.length) return handler;
      if (name === 'image-path') images = argv[i + 1]!;
      i++;
    } else if (!FAST_FLAGS.has(name)) return handler;
  }
  if (id === undefined || !isValidContainerId(id) || !images.startsWith('/')) return handler;
  return { route: 'prepared', id, root, images };
}

/** A value the stamp holds on one line, read back unchanged by `IFS= read -r`. */
function lineSafe(value: string): boolean {
  return !/[\n\0]/.test(value);
}
