// `criu --version`, with node:child_process only: the runtime handler asks it inside the container's freeze.
import { execFile } from 'node:child_process';
import { ExtmountError } from '../core/errors.js';
import { parseCriuVersion, type CriuVersion } from '../core/mounts/render.js';

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
