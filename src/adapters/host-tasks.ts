// A container's task on this host, seen from the process table rather than through its engine: for
// copies whose engine died during their start (core/migrate/orphan-task.ts says why that matters).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ExtmountError } from '../core/errors.js';
import { inContainerCgroup, isContainerId, isCopyRecord, shimOf } from '../core/migrate/orphan-task.js';
import { READ_LIMITS, readBoundedTextIfExists } from './untrusted-file.js';

export type UnknownTaskOutcome =
  /** The engine's data is not on this host (or the record is not our copy's): nothing can be seen from here. */
  | { kind: 'not-local' }
  | { kind: 'none' }
  /** recordLeft: why containerd's record of the task (and its shim) could not be deleted. */
  | { kind: 'killed'; pids: number[]; recordLeft: string | undefined };

interface HostProcess {
  pid: number;
  ppid: number;
  argv: string[];
  cgroup: string;
}

/** Live processes (zombies left out); each read bounded by what the kernel writes there. */
function hostProcesses(): HostProcess[] {
  const out: HostProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' || state === 'X') continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').slice(0, 64);
      out.push({ pid: Number(entry), ppid: Number(ppid), argv, cgroup: readFileSync(`/proc/${entry}/cgroup`, 'utf8') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Ends the task of copy ID that its engine may not know of, if this host holds it: only when
 * DATAROOT/containers/ID/config.v2.json on this host is that copy's record (labelled LABEL=SOURCE),
 * so an engine elsewhere that reports the same data root and ID never makes us kill a process here.
 * A restore still running in the shim is waited for (the process appears at its end), the task's
 * processes are SIGKILLed, then containerd's record of it is deleted with ctr where ctr exists.
 */
export async function endUnknownTask(dataRoot: string, id: string, copy: { label: string; source: string }): Promise<UnknownTaskOutcome> {
  if (!isContainerId(id) || !dataRoot.startsWith('/')) return { kind: 'not-local' };
  const record = await readBoundedTextIfExists(join(dataRoot, 'containers', id, 'config.v2.json'), READ_LIMITS.dockerConfig).catch(() => undefined);
  if (record === undefined || !isCopyRecord(record, id, copy.label, copy.source)) return { kind: 'not-local' };

  const scan = () => {
    const all = hostProcesses();
    const shim = all.map((p) => ({ pid: p.pid, at: shimOf(p.argv, id) })).find((s) => s.at !== undefined);
    const inTask = all.filter((p) => inContainerCgroup(p.cgroup, id));
    // The shim's children outside the container's cgroup: runc (and CRIU under it) restoring.
    const restoring = shim ? all.filter((p) => p.ppid === shim.pid && !inContainerCgroup(p.cgroup, id)) : [];
    return { shim, inTask, restoring };
  };
  let seen = scan();
  for (const deadline = Date.now() + 60_000; seen.restoring.length > 0 && Date.now() < deadline; seen = scan()) await sleep(100);
  const killed = new Set<number>();
  for (let pass = 0; seen.inTask.length > 0; pass++, seen = scan()) {
    if (pass === 50) {
      throw new ExtmountError('docker-failed', `the processes of container ${id.slice(0, 12)} on this host (${seen.inTask.map((p) => p.pid).join(', ')}) did not die on SIGKILL`, {
        hint: 'see what holds them (cat /proc/PID/stack), kill them by hand, then run migrate again',
      });
    }
    for (const p of seen.inTask) {
      try {
        process.kill(p.pid, 'SIGKILL');
        killed.add(p.pid);
      } catch {
        // gone meanwhile
      }
    }
    await sleep(pass === 0 ? 20 : 100);
  }
  // The shim and containerd's record outlive the processes (dockerd never deletes them, moby#41397).
  let recordLeft: string | undefined;
  if (seen.shim) {
    const { address, namespace } = seen.shim.at!;
    const ctr = (...args: string[]) => execa('ctr', ['--address', address, '--namespace', namespace, ...args], { reject: false, timeout: 15_000, stdin: 'ignore' });
    const task = await ctr('tasks', 'delete', '--force', id);
    await ctr('containers', 'delete', id);
    if (task.exitCode === undefined) recordLeft = 'no ctr could be run here';
    else if (task.exitCode !== 0 && !/not found/i.test(String(task.stderr))) recordLeft = `ctr tasks delete: ${String(task.stderr).trim().split('\n')[0]?.slice(0, 200)}`;
  }
  return killed.size > 0 ? { kind: 'killed', pids: [...killed], recordLeft } : { kind: 'none' };
}
