// Runs a helper program (runc state, mount, umount) and collects its output: node:child_process, not
// execa, because the runtime handler loads this inside the container's freeze (issue 12: start time).
import { execFile } from 'node:child_process';

export interface FileRun {
  /** The exit status; undefined when the program could not be started or was killed. */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** Why it could not run, when it could not. */
  error?: string;
  /** The program could not be started at all (ENOENT, EACCES …), as opposed to failing or being killed. */
  notStarted?: boolean;
}

export function runFile(file: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<FileRun> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { maxBuffer: 16 * 1024 * 1024, timeout: options.timeoutMs ?? 0 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        if (!e) return resolve({ exitCode: 0, stdout, stderr });
        const notStarted = typeof e.code === 'string' && e.syscall?.startsWith('spawn') === true;
        resolve({
          exitCode: typeof e.code === 'number' ? e.code : undefined,
          stdout,
          stderr,
          error: e.message,
          ...(notStarted ? { notStarted } : {}),
        });
      },
    );
    child.stdin?.end();
  });
}
