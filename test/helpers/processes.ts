// Processes the integration tests watch: their state, polling, and a CLI run stopped at a fault point.
import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { CLI, type CliResult } from './cli.js';
import { waitFor } from './wait.js';

export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** The parent's PID, or undefined once the process is gone. */
export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** A process for a failure message: its parent, name and cgroup (which container it is in). */
export function describeProcess(pid: number): string {
  const read = (file: string) => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  return `pid ${pid} (parent ${parentOf(pid) ?? '?'}, ${read('comm')}, cgroup ${read('cgroup').split('\n').pop()})`;
}

/** The PIDs in /proc for which `keep` holds; a process gone meanwhile (keep throws) is left out. */
export function processes(keep: (pid: number) => boolean): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (keep(Number(entry))) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Runs the CLI with EXTMOUNT_MIGRATE_FAULT=`point`:stop, does `meanwhile` while it is stopped there, then continues it. */
export async function runStopped(args: string[], point: string, meanwhile: () => Promise<void>): Promise<CliResult> {
  const child = execa(process.execPath, [CLI, ...args], {
    reject: false,
    stdin: 'ignore',
    env: { EXTMOUNT_MIGRATE_FAULT: `${point}:stop` },
  });
  const pid = child.pid!;
  await waitFor(`migrate to stop at ${point}`, async () => [undefined, 'T'].includes(processState(pid)), 60_000);
  try {
    await meanwhile();
  } finally {
    try {
      process.kill(pid, 'SIGCONT');
    } catch (err) {
      // Gone already (it ended before the point): its own exit code and stderr then say why.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  const result = await child;
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
