// How the wrapper tells containerd and Docker what went wrong: stderr and runc's --log file.
//
// containerd shows only the first line of a failed `runc checkpoint` (its criuError), and for a failed
// restore the last "error" entry of runc's --log file (runtimeError/getLastRuntimeError). Writes go
// through writeSync on the raw fd: on restore, fds 0-2 are the container's stdio pipes, and a Node
// stream on them could switch the shared pipe to non-blocking under the restored process.
import { appendFile } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import type { RuncInvocation } from '../core/runtime/runc-argv.js';

export function writeStderr(lines: readonly string[]): void {
  if (lines.length === 0) return;
  const text = `${lines.join('\n')}\n`;
  try {
    writeSync(2, text);
  } catch {
    // stderr closed: the --log entry still carries the message
  }
}

/** Appends an entry to runc's --log file in its format (json as containerd asks, else logrus text). */
export async function appendRuncLog(
  invocation: RuncInvocation,
  level: 'error' | 'warning' | 'info',
  message: string,
): Promise<void> {
  const file = invocation.globalOptions.get('log');
  if (!file) return;
  const time = new Date().toISOString();
  const line =
    invocation.globalOptions.get('log-format') === 'json'
      ? JSON.stringify({ level, msg: message, time })
      : `time="${time}" level=${level} msg=${JSON.stringify(message)}`;
  await appendFile(file, `${line}\n`).catch(() => undefined);
}
