// Runs the real runc for the wrapper: its state, resume, and the checkpoint/restore call itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { constants } from 'node:os';
import { runFile } from './run-file.js';
import { isCrun } from '../../core/runtime/crun-compat.js';
import { ExtmountError } from '../../core/errors.js';
import { optionSet, parseRuncState, type RuncInvocation, type RuncState } from '../../core/runtime/runc-argv.js';
import {
  EXEC_FIFO,
  freezerFiles,
  parseRuncStateFile,
  STATE_JSON,
  statusOf,
} from '../../core/runtime/runc-state-file.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../fs/untrusted-file.js';

/** Global options worth repeating on our own runc calls (--log would mix our calls into the shim's log). */
function stateGlobals(invocation: RuncInvocation): string[] {
  const globals: string[] = [];
  for (const name of ['root', 'rootless']) {
    const value = invocation.globalOptions.get(name);
    if (value !== undefined) globals.push(`--${name}`, value);
  }
  if (invocation.globalOptions.get('systemd-cgroup') === 'true') globals.push('--systemd-cgroup');
  return globals;
}

export async function runcState(runc: string, invocation: RuncInvocation, id: string): Promise<RuncState> {
  const result = await runFile(runc, [...stateGlobals(invocation), 'state', id]);
  if (result.exitCode !== 0) {
    throw new ExtmountError(
      'bad-input',
      `runc state ${id} failed: ${result.stderr.trim().split('\n').at(-1) || result.error}`,
      {
        hint: 'is the container known to this runc root?',
      },
    );
  }
  return parseRuncState(result.stdout, id);
}

/**
 * runcState without a runc start: from runc's own files under its root (`root`/`id`), when they are runc's
 * and say something runc would say; otherwise (crun, another layout, FREEZING) `runc state` itself.
 * `id` must be a valid container ID (isValidContainerId): it names a folder.
 */
export async function containerState(
  runc: string,
  invocation: RuncInvocation,
  id: string,
  root: string,
): Promise<RuncState> {
  const read = isCrun(runc) ? undefined : await stateFromRuncFiles(join(root, id)).catch(() => undefined);
  return read ?? runcState(runc, invocation, id);
}

/**
 * The status from runc's files in its folder for the container; undefined where runc's own answer is
 * needed. Rejects when a read fails otherwise than with ENOENT (containerState then asks runc).
 */
export async function stateFromRuncFiles(dir: string): Promise<RuncState | undefined> {
  const text = await readBoundedTextIfExists(join(dir, STATE_JSON), READ_LIMITS.runcStateFile);
  const file = text === undefined ? undefined : parseRuncStateFile(text);
  if (!file) return undefined;
  const freezer = freezerFiles(file.freezer);
  // The cgroup files through the untrusted reader too: no symlink, no FIFO, a few bytes.
  const [freezerState, freezerDetail, stat, execFifo] = await Promise.all([
    readBoundedTextIfExists(freezer.state, READ_LIMITS.cgroupFile),
    readBoundedTextIfExists(freezer.detail, READ_LIMITS.cgroupFile),
    readBoundedTextIfExists(`/proc/${file.pid}/stat`, READ_LIMITS.procStat).catch((err: ExtmountError) => {
      // A process that ends while its stat is read.
      if ((err.cause as NodeJS.ErrnoException | undefined)?.code === 'ESRCH') return undefined;
      throw err;
    }),
    lstat(join(dir, EXEC_FIFO)).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    ),
  ]);
  if (freezerState === undefined) return undefined;
  return statusOf(file, { freezer: freezerState, freezerDetail, stat, execFifo });
}

export async function runcResume(runc: string, invocation: RuncInvocation, id: string): Promise<boolean> {
  return (await runFile(runc, [...stateGlobals(invocation), 'resume', id])).exitCode === 0;
}

export async function runcKill(runc: string, invocation: RuncInvocation, id: string): Promise<boolean> {
  return (await runFile(runc, [...stateGlobals(invocation), 'kill', id, 'KILL'])).exitCode === 0;
}

export async function runcPause(runc: string, invocation: RuncInvocation, id: string): Promise<boolean> {
  return (await runFile(runc, [...stateGlobals(invocation), 'pause', id])).exitCode === 0;
}

/**
 * What runc does itself after a checkpoint that did not leave the container running (runc 1.1
 * checkpoint.go: container.Destroy()) and crun 1.28 does not: its stopped container stays, and the
 * restore that follows fails with "container `ID` already exists" (Docker 28, containerd 2.1).
 * For crun only; a failure (it is gone already) is no failure of the checkpoint.
 */
export async function destroyAfterCheckpoint(runc: string, invocation: RuncInvocation, id: string): Promise<void> {
  if (!isCrun(runc)) return;
  if (optionSet(invocation, 'leave-running') || optionSet(invocation, 'pre-dump')) return;
  await runcDelete(runc, invocation, id).catch(() => undefined);
}

/** `runc delete --force`: the container killed and its state removed, as runc does after a restore it fails. */
export async function runcDelete(runc: string, invocation: RuncInvocation, id: string): Promise<boolean> {
  return (await runFile(runc, [...stateGlobals(invocation), 'delete', '--force', id])).exitCode === 0;
}

export interface RuncRun {
  /** runc's exit status; 128+n when it died of signal n. */
  exitCode: number;
  /** The signal runc died of, if it did. */
  signal?: NodeJS.Signals;
  /** runc's stderr when captured (checkpoint), else empty. */
  stderr: string;
}

export interface RuncRunOptions {
  env: Record<string, string>;
  /** Capture stderr (fd 2 becomes a pipe) instead of handing runc ours. */
  captureStderr: boolean;
  /** Fds above 2 runc gets at the same number (what the caller gave the wrapper). */
  fds: readonly number[];
  /** Receives the child while it runs, to forward the caller's signals to it. */
  relay?: { attach(child: ChildProcess): void; detach(signal?: NodeJS.Signals): void };
  /** An fd (write-only: runc refuses anything else for --status-fd) runc gets at statusFdFor(fds). */
  statusFd?: number;
  /** Told runc's pid once it runs. */
  onSpawn?: (pid: number) => void;
}

/** The fd number runRunc gives the status pipe: the first one above every inherited fd. */
export function statusFdFor(fds: readonly number[]): number {
  return Math.max(2, ...fds) + 1;
}

/**
 * Runs runc with the caller's argv, fds and signals, as an exec would: fds 0 and 1 are the caller's (on
 * restore they are the container's stdio, which CRIU hands to the restored tree), and so is every other
 * fd the caller gave us, at the same number (`--status-fd N`, `--console-socket`'s peer, sd_notify).
 * stderr is captured when asked, so that our message can come first: containerd shows only the first
 * line of a failed checkpoint.
 */
export async function runRunc(runc: string, argv: readonly string[], options: RuncRunOptions): Promise<RuncRun> {
  const top = Math.max(2, ...options.fds);
  // 'ignore' above fd 2 leaves the fd alone in the child (libuv uv__process_child_init): Node's own are
  // close-on-exec and vanish, while the inherited ones are listed by number and stay where they are.
  const stdio: Array<number | 'ignore' | 'pipe'> = Array.from({ length: top + 1 }, (_, fd) =>
    fd <= 2 || options.fds.includes(fd) ? fd : 'ignore',
  );
  if (options.captureStderr) stdio[2] = 'pipe';
  if (options.statusFd !== undefined) stdio.push(options.statusFd);
  const child = spawn(runc, [...argv], { env: options.env, stdio });
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  const chunks: Buffer[] = [];
  child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk));
  options.relay?.attach(child);
  try {
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, s) => resolve([c, s]));
    });
    // The rest of its stderr; a process runc left behind (CRIU's lazy-pages server) may hold the pipe open.
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    const stderr = Buffer.concat(chunks).toString('utf8');
    options.relay?.detach(signal ?? undefined);
    if (signal) return { exitCode: 128 + (constants.signals[signal] ?? 0), signal, stderr };
    return { exitCode: code ?? 1, stderr };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // What a shell says and returns when it cannot exec the command (POSIX 2.8.2: 127 not found, 126 not executable).
    if (code === 'ENOENT' || code === 'EACCES') {
      return {
        exitCode: code === 'ENOENT' ? 127 : 126,
        stderr: `extmount-runc: ${runc}: ${code === 'ENOENT' ? 'not found' : 'Permission denied'}\n`,
      };
    }
    throw new ExtmountError('bad-input', `cannot run runc (${runc}): ${(err as Error).message}`, {
      hint: 'set "runc" in the config to the real runc',
    });
  } finally {
    options.relay?.detach();
  }
}
