// Runs `criu dump` and `criu restore` for the CLI (its version: criu-version.ts, which loads no execa:
// an offline `extmount detect` and the runtime handler need only that, and must start fast).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExtmountError } from '../../core/errors.js';
import { loadExeca } from '../execa-import.js';

export interface CriuRun {
  exitCode: number;
  logPath: string;
  log: string;
}

/**
 * Runs `criu ACTION` with the images in `imagesDir` and its log there too; never throws for a CRIU
 * failure (the caller turns the log into a message).
 */
export async function runCriu(
  criu: string,
  action: 'dump' | 'restore',
  imagesDir: string,
  args: readonly string[],
  options: { foreground?: boolean } = {},
): Promise<CriuRun> {
  const logName = `${action}.log`;
  const logPath = join(imagesDir, logName);
  const { execa } = await loadExeca();
  const result = await execa(criu, [action, '-D', imagesDir, '-o', logName, '-v4', ...args], {
    reject: false,
    stdin: 'ignore',
    stdout: options.foreground ? 'inherit' : 'pipe',
    stderr: options.foreground ? 'inherit' : 'pipe',
  });
  if (result.exitCode === undefined) {
    throw new ExtmountError('bad-input', `cannot run CRIU (${criu}): ${result.shortMessage}`, {
      hint: 'install CRIU (scripts/provision.sh) or set "criu" in the config',
    });
  }
  const log = await readFile(logPath, 'utf8').catch(() => String(result.stderr ?? ''));
  return { exitCode: result.exitCode, logPath, log };
}
