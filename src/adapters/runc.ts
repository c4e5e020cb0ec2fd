// Runs the real runc for the wrapper: its state, resume, and the checkpoint/restore call itself.
import { constants } from 'node:os';
import { execa } from 'execa';
import { ExtmountError } from '../core/errors.js';
import { parseRuncState, type RuncInvocation, type RuncState } from '../core/runc-argv.js';

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
  const result = await execa(runc, [...stateGlobals(invocation), 'state', id], { reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new ExtmountError('bad-input', `runc state ${id} failed: ${String(result.stderr).trim().split('\n').at(-1) ?? result.shortMessage}`, {
      hint: 'is the container known to this runc root?',
    });
  }
  return parseRuncState(String(result.stdout), id);
}

export async function runcResume(runc: string, invocation: RuncInvocation, id: string): Promise<boolean> {
  const result = await execa(runc, [...stateGlobals(invocation), 'resume', id], { reject: false, stdin: 'ignore' });
  return result.exitCode === 0;
}

export interface RuncRun {
  exitCode: number;
  /** runc's stderr when captured (checkpoint), else empty. */
  stderr: string;
}

/**
 * Runs runc with the caller's argv. stdin and stdout stay the caller's (on restore they are the
 * container's stdio, which CRIU hands to the restored tree); stderr is captured when asked so that
 * our message can come first: containerd shows only the first line of a failed checkpoint.
 */
export async function runRunc(runc: string, argv: readonly string[], options: { env: Record<string, string>; captureStderr: boolean }): Promise<RuncRun> {
  const result = await execa(runc, [...argv], {
    reject: false,
    env: options.env,
    stdin: 'inherit',
    stdout: 'inherit',
    stderr: options.captureStderr ? 'pipe' : 'inherit',
    stripFinalNewline: false,
  });
  const signal = result.signal ? constants.signals[result.signal as keyof typeof constants.signals] : undefined;
  const exitCode = result.exitCode ?? (signal !== undefined ? 128 + signal : undefined);
  if (exitCode === undefined) {
    throw new ExtmountError('bad-input', `cannot run runc (${runc}): ${result.shortMessage}`, { hint: 'set "runc" in the config to the real runc' });
  }
  return { exitCode, stderr: options.captureStderr ? String(result.stderr ?? '') : '' };
}
