// Runs the CRIU binary: its version, and (later) dump and restore.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { ExtmountError } from '../core/errors.js';
import { parseCriuVersion, type CriuVersion } from '../core/render.js';

export async function criuVersion(criu: string): Promise<CriuVersion> {
  const result = await execa(criu, ['--version'], { reject: false });
  if (result.failed && result.exitCode === undefined) {
    throw new ExtmountError('bad-input', `cannot run CRIU (${criu}): ${result.shortMessage}`, {
      hint: 'install CRIU (scripts/provision.sh) or set "criu" in the config',
    });
  }
  return parseCriuVersion(`${result.stdout}\n${result.stderr}`);
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
