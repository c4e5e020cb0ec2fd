// Runs the CRIU binary: its version, dump and restore. execa is loaded only for a dump or restore:
// `criu --version` is all an offline `extmount detect` needs, and it must start fast.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExtmountError } from '../core/errors.js';
import { parseCriuVersion, type CriuVersion } from '../core/render.js';

export async function criuVersion(criu: string): Promise<CriuVersion> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(criu, ['--version'], { timeout: 10_000, maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
      // A CRIU that runs but exits non-zero still prints its version; one that cannot start is bad input.
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if (err && typeof code === 'string') {
        reject(new ExtmountError('bad-input', `cannot run CRIU (${criu}): ${err.message}`, {
          hint: 'install CRIU (scripts/provision.sh) or set "criu" in the config',
        }));
      } else resolve(`${stdout}\n${stderr}`);
    });
  });
  return parseCriuVersion(output);
}

export interface CriuRun {
  exitCode: number;
  logPath: string;
  log: string;
}

/**
 * Runs `criu ACTION` with the images in `imagesDir` and its log there too; never throws for a CRIU
 * failure (the caller turns the log into a message).
 */
export async function runCriu(criu: string, action: 'dump' | 'restore', imagesDir: string, args: readonly string[], options: { foreground?: boolean } = {}): Promise<CriuRun> {
  const logName = `${action}.log`;
  const logPath = join(imagesDir, logName);
  const { execa } = await import('execa');
  const result = await execa(criu, [action, '-D', imagesDir, '-o', logName, '-v4', ...args], {
    reject: false,
    stdin: 'ignore',
    stdout: options.foreground ? 'inherit' : 'pipe',
    stderr: options.foreground ? 'inherit' : 'pipe',
  });
  if (result.exitCode === undefined) {
    throw new ExtmountError('bad-input', `cannot run CRIU (${criu}): ${result.shortMessage}`, { hint: 'install CRIU (scripts/provision.sh) or set "criu" in the config' });
  }
  const log = await readFile(logPath, 'utf8').catch(() => String(result.stderr ?? ''));
  return { exitCode: result.exitCode, logPath, log };
}
