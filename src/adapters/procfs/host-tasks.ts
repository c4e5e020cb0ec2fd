// A container's task on this host, seen from the process table rather than through its engine: for
// copies whose engine died during their start (core/migrate/orphan-task.ts says why that matters).
import { closeSync, lstatSync, openSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadExeca } from '../execa-import.js';
import { ExtmountError } from '../../core/errors.js';
import { inContainerCgroup, isContainerId, isCopyRecord, shimOf } from '../../core/migrate/orphan-task.js';
import { procStatFields } from '../../core/proc-stat.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../fs/untrusted-file.js';

export type UnknownTaskOutcome =
  /** Nothing can be told from here: the engine's data is not on this host as root's, or a restore did not end in time. */
  | { kind: 'unknown'; why: string }
  | { kind: 'none' }
  /** recordLeft: why containerd's record of the task (and its shim) may be left. */
  | { kind: 'killed'; pids: number[]; recordLeft: string | undefined };

interface HostProcess {
  pid: number;
  ppid: number;
  uid: number;
  argv: string[];
  cgroup: string;
}

/** At most MAX bytes of a /proc file: a process sets its own cmdline, up to ARG_MAX. */
function readProcFile(path: string, max: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(max);
    return buf.subarray(0, readSync(fd, buf, 0, max, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Live processes (zombies left out). */
function hostProcesses(): HostProcess[] {
  const out: HostProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readProcFile(`/proc/${entry}/stat`, 4096);
      const [state, ppid] = procStatFields(stat);
      if (state === 'Z' || state === 'X') continue;
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readProcFile(`/proc/${entry}/status`, 8192))?.[1] ?? -1);
      const argv = readProcFile(`/proc/${entry}/cmdline`, 8192).split('\0').slice(0, 64);
      out.push({
        pid: Number(entry),
        ppid: Number(ppid),
        uid,
        argv,
        cgroup: readProcFile(`/proc/${entry}/cgroup`, 16384),
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Owned by root and writable by no one but root (and root's group): what another user (a rootless engine, say) cannot have made. */
function rootOnly(path: string): boolean {
  try {
    const s = lstatSync(path);
    return s.uid === 0 && (s.mode & 0o002) === 0 && ((s.mode & 0o020) === 0 || s.gid === 0);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const RESTORE_WAIT_MS = 60_000;

/**
 * Ends the task of copy ID that its engine may not know of, if this host holds it: only when
 * DATAROOT/containers/ID/config.v2.json on this host is that copy's record (labelled LABEL=SOURCE),
 * root's all the way down, so an engine elsewhere, or another user's, that reports the same data root
 * and ID never makes us kill a process here. A restore still running in root's shim is waited for
 * (the process appears at its end), the task's processes are SIGKILLed, then containerd's record of
 * it is deleted with ctr, over root's socket the shim names.
 */
export async function endUnknownTask(
  dataRoot: string,
  id: string,
  copy: { label: string; source: string },
): Promise<UnknownTaskOutcome> {
  if (!isContainerId(id) || !dataRoot.startsWith('/'))
    return { kind: 'unknown', why: 'the target engine reports no usable data root or ID' };
  const dir = join(dataRoot, 'containers', id);
  const record = join(dir, 'config.v2.json');
  const text = [dataRoot, join(dataRoot, 'containers'), dir, record].every(rootOnly)
    ? await readBoundedTextIfExists(record, READ_LIMITS.dockerConfig).catch(() => undefined)
    : undefined;
  if (text === undefined || !isCopyRecord(text, id, copy.label, copy.source))
    return { kind: 'unknown', why: "the target engine's data is not on this host" };

  const scan = () => {
    const all = hostProcesses();
    const shim = all
      .filter((p) => p.uid === 0)
      .map((p) => ({ pid: p.pid, at: shimOf(p.argv, id) }))
      .find((s) => s.at !== undefined);
    const inTask = all.filter((p) => inContainerCgroup(p.cgroup, id));
    // The shim's children outside the container's cgroup: runc (and CRIU under it) restoring.
    const restoring = shim ? all.filter((p) => p.ppid === shim.pid && !inContainerCgroup(p.cgroup, id)) : [];
    return { shim, inTask, restoring };
  };
  let seen = scan();
  for (const deadline = Date.now() + RESTORE_WAIT_MS; seen.restoring.length > 0 && Date.now() < deadline; seen = scan())
    await sleep(100);
  if (seen.restoring.length > 0)
    return {
      kind: 'unknown',
      why: `a restore of ${id.slice(0, 12)} still runs under its shim after ${RESTORE_WAIT_MS / 1000} s`,
    };
  const killed = new Set<number>();
  for (let pass = 0; seen.inTask.length > 0; pass++, seen = scan()) {
    if (pass === 50) {
      throw new ExtmountError(
        'docker-failed',
        `the processes of container ${id.slice(0, 12)} on this host (${seen.inTask.map((p) => p.pid).join(', ')}) did not die on SIGKILL`,
        {
          hint: 'see what holds them (cat /proc/PID/stack), kill them by hand, then run migrate again',
        },
      );
    }
    for (const p of seen.inTask) {
      try {
        // Looked at again just before the signal: a pid that ended since the scan may be another process now.
        if (!inContainerCgroup(readProcFile(`/proc/${p.pid}/cgroup`, 16384), id)) continue;
        process.kill(p.pid, 'SIGKILL');
        killed.add(p.pid);
      } catch {
        // gone meanwhile
      }
    }
    await sleep(pass === 0 ? 20 : 100);
  }
  // The shim and containerd's record outlive the processes (dockerd never deletes them, moby#41397).
  let recordLeft: string | undefined = seen.shim ? undefined : 'no shim of it was found';
  if (seen.shim) {
    const { address, namespace } = seen.shim.at!;
    if (!rootOnly(address) || !lstatSync(address, { throwIfNoEntry: false })?.isSocket()) {
      recordLeft = `its shim names ${address}, not a socket of root's`;
    } else {
      const { execa } = await loadExeca();
      const ctr = (...args: string[]) =>
        execa('ctr', ['--address', address, '--namespace', namespace, ...args], {
          reject: false,
          timeout: 15_000,
          stdin: 'ignore',
        });
      const task = await ctr('tasks', 'delete', '--force', id);
      await ctr('containers', 'delete', id);
      if (task.timedOut) recordLeft = 'ctr tasks delete timed out';
      else if (task.exitCode === undefined) recordLeft = 'no ctr could be run here';
      else if (task.exitCode !== 0 && !/not found/i.test(String(task.stderr)))
        recordLeft = `ctr tasks delete: ${String(task.stderr).trim().split('\n')[0]?.slice(0, 200)}`;
    }
  }
  return killed.size > 0 ? { kind: 'killed', pids: [...killed], recordLeft } : { kind: 'none' };
}
