// A container's status as `runc state` would give it, from the files runc itself reads: its state.json,
// the init's /proc/PID/stat, the freezer and the exec fifo (runc libcontainer/container_linux.go,
// refreshState). `runc state` costs a runc start, and runc 1.1 probes intel RDT by reading the whole host
// mount table (18 ms on an idle host, 44-70 ms with 5,000 extra mounts), inside a checkpoint's freeze.
// Anything this does not recognise is undefined: the caller asks `runc state` instead.
import { procStatFields } from '../proc-stat.js';
import type { RuncState } from './runc-argv.js';

/** What state.json says, as far as the status needs it. */
export interface RuncStateFile {
  pid: number;
  /** The init's start time in clock ticks since boot (/proc/PID/stat field 22). */
  startTime: number;
  bundle: string;
  /** Where the freezer says whether the container is paused. */
  freezer: { cgroup: 'v1' | 'v2'; path: string };
}

/** Where the status files are, relative to the container's folder under runc's root. */
export const STATE_JSON = 'state.json';
export const EXEC_FIFO = 'exec.fifo';

/**
 * The freezer's files runc reads: the state, then what tells it apart (libcontainer/cgroups fs and fs2
 * freezer.go): under v1 whether FROZEN is the cgroup's own freeze or an ancestor's; under v2 whether the
 * freeze asked for has taken effect.
 */
export function freezerFiles(freezer: RuncStateFile['freezer']): { state: string; detail: string } {
  return freezer.cgroup === 'v1'
    ? { state: `${freezer.path}/freezer.state`, detail: `${freezer.path}/freezer.self_freezing` }
    : { state: `${freezer.path}/cgroup.freeze`, detail: `${freezer.path}/cgroup.events` };
}

export function parseRuncStateFile(text: string): RuncStateFile | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const state = doc as {
    init_process_pid?: unknown;
    init_process_start?: unknown;
    config?: { labels?: unknown };
    cgroup_paths?: Record<string, unknown>;
  } | null;
  if (!state || typeof state !== 'object') return undefined;
  const pid = state.init_process_pid;
  const startTime = state.init_process_start;
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0 || !Number.isSafeInteger(startTime)) return undefined;
  const labels = Array.isArray(state.config?.labels) ? (state.config.labels as unknown[]) : [];
  // runc keeps the bundle as a label after the spec's annotations (specconv), and `runc state` takes the
  // last one (utils.Annotations): an annotation named "bundle" comes first and is not the bundle.
  const label = [...labels].reverse().find((l): l is string => typeof l === 'string' && l.startsWith('bundle='));
  const bundle = label?.slice('bundle='.length);
  if (!bundle?.startsWith('/')) return undefined;
  const paths = state.cgroup_paths && typeof state.cgroup_paths === 'object' ? state.cgroup_paths : {};
  // cgroup v1 has a path per controller; v2 one unified path under "". A hybrid host lists both, and runc's
  // v1 manager uses the freezer controller.
  const v1 = paths['freezer'];
  const v2 = paths[''];
  const freezer =
    typeof v1 === 'string'
      ? { cgroup: 'v1' as const, path: v1 }
      : typeof v2 === 'string'
        ? { cgroup: 'v2' as const, path: v2 }
        : undefined;
  if (!freezer?.path.startsWith('/sys/fs/cgroup/') || freezer.path.split('/').includes('..')) return undefined;
  return { pid: pid as number, startTime: startTime as number, bundle, freezer };
}

/** Whether /proc/PID/stat is the init state.json names: alive (not a zombie) and started when it did. */
export function isSameLiveProcess(statText: string, startTime: number): boolean {
  const fields = procStatFields(statText);
  const [state] = fields;
  const start = Number(fields[19]);
  return state !== undefined && state !== 'Z' && state !== 'X' && start === startTime;
}

/** What was read for statusOf: the freezer's two files (undefined: missing) and the init's stat (undefined: no such process). */
export interface SeenState {
  freezer: string;
  freezerDetail: string | undefined;
  stat: string | undefined;
  execFifo: boolean;
}

/**
 * runc's status from what was read: paused first (runc asks the freezer before the init), then stopped
 * (pid 0, as runc reports it), created (the exec fifo is still there), running.
 */
export function statusOf(file: RuncStateFile, seen: SeenState): RuncState | undefined {
  const frozen = file.freezer.cgroup === 'v1' ? frozenV1(seen) : frozenV2(seen);
  // FREEZING, a freeze not yet in effect, or a file runc would read otherwise: runc's own answer.
  if (frozen === undefined) return undefined;
  const state = (status: string, pid = file.pid): RuncState => ({ pid, status, bundle: file.bundle });
  if (frozen) return state('paused');
  if (seen.stat === undefined || !isSameLiveProcess(seen.stat, file.startTime)) return state('stopped', 0);
  return state(seen.execFifo ? 'created' : 'running');
}

function frozenV1(seen: SeenState): boolean | undefined {
  const state = seen.freezer.trim();
  if (state === 'THAWED') return false;
  if (state !== 'FROZEN') return undefined;
  // Frozen by an ancestor is not paused; a kernel without the file: frozen (runc's rule).
  if (seen.freezerDetail === undefined) return true;
  const self = seen.freezerDetail.trim();
  return self === '1' ? true : self === '0' ? false : undefined;
}

function frozenV2(seen: SeenState): boolean | undefined {
  const state = seen.freezer.trim();
  if (state === '0') return false;
  if (state !== '1') return undefined;
  // runc waits for cgroup.events to say "frozen 1"; not there yet: runc state waits for it.
  const events = (seen.freezerDetail ?? '').split('\n').map((line) => line.trim());
  return events.includes('frozen 1') ? true : undefined;
}
