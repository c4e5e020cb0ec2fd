// `criu --version`, without execa (run-file.ts): the runtime handler asks it inside the container's freeze.
import { ExtmountError } from '../core/errors.js';
import { parseCriuVersion, type CriuVersion } from '../core/mounts/render.js';
import { runFile } from './run-file.js';

export async function criuVersion(criu: string): Promise<CriuVersion> {
  const run = await runFile(criu, ['--version'], { timeoutMs: 10_000 });
  // A CRIU that runs but exits non-zero still prints its version; one that cannot start is bad input.
  if (run.notStarted) {
    throw new ExtmountError('bad-input', `cannot run CRIU (${criu}): ${run.error}`, {
      hint: 'install CRIU (scripts/provision.sh) or set "criu" in the config',
    });
  }
  return parseCriuVersion(`${run.stdout}\n${run.stderr}`);
}
