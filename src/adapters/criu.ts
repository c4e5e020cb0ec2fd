// Runs the CRIU binary: its version, and (later) dump and restore.
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
