// A container's status as `runc state` would give it, from the files runc itself reads: its state.json,
// the init's /proc/PID/stat, the freezer and the exec fifo (runc libcontainer/container_linux.go,
// refreshState). `runc state` costs a runc start, and runc 1.1 probes intel RDT by reading the whole host
// mount table (18 ms on an idle host, 44-70 ms with 5,000 extra mounts), inside a checkpoint's freeze.
// Anything this does not recognise is undefined: the caller asks `runc state` instead.
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

export function freezerFile(freezer: RuncStateFile['freezer']): string {
  return `${freezer.path}/${freezer.cgroup === 'v1' ? 'freezer.state' : 'cgroup.freeze'}`;
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
  // runc keeps the bundle as a label (utils.SearchLabels(config.Labels, "bundle")).
  const label = labels.find((l): l is string => typeof l === 'string' && l.startsWith('bundle='));
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
  // The comm (field 2) may hold spaces and parentheses: the fields that follow start after the last ')'.
  const rest = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  const [state] = rest;
  const start = Number(rest[19]);
  return state !== undefined && state !== 'Z' && state !== 'X' && start === startTime;
}

/**
 * runc's status from what was read: paused first (runc asks the freezer before the init), then stopped
 * (`stat` undefined: no such process), created (the exec fifo is still there), running.
 */
export function statusOf(
  file: RuncStateFile,
  seen: { freezer: string; stat: string | undefined; execFifo: boolean },
): RuncState | undefined {
  const freezer = seen.freezer.trim();
  const frozen =
    file.freezer.cgroup === 'v1'
      ? freezer === 'FROZEN'
        ? true
        : freezer === 'THAWED'
          ? false
          : undefined
      : freezer === '1'
        ? true
        : freezer === '0'
          ? false
          : undefined;
  // FREEZING, or a file runc would read otherwise: runc's own answer.
  if (frozen === undefined) return undefined;
  const state = (status: string): RuncState => ({ pid: file.pid, status, bundle: file.bundle });
  if (frozen) return state('paused');
  if (seen.stat === undefined || !isSameLiveProcess(seen.stat, file.startTime)) return state('stopped');
  return state(seen.execFifo ? 'created' : 'running');
}
