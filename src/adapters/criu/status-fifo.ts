// runc's --status-fd, for a lazy checkpoint: CRIU writes one byte to it once its page server listens.
import { execFile } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * A FIFO for runc's --status-fd (runc wants it write-only, which Node's own 'pipe' stdio, a socket
 * pair, is not): the write end for runc, and a poll of the read end for CRIU's "ready" byte.
 */
export async function statusFifo(
  path: string,
): Promise<{ writeFd: number; ready(): Promise<boolean>; close(): Promise<void> }> {
  await execFileAsync('mkfifo', ['-m', '600', path]);
  const reader = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY);
  await rm(path, { force: true });
  return {
    writeFd,
    async ready() {
      try {
        const { bytesRead } = await reader.read(Buffer.alloc(16), 0, 16, null);
        return bytesRead > 0;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        throw err;
      }
    },
    async close() {
      try {
        closeSync(writeFd);
      } catch {
        // closed
      }
      await reader.close();
    },
  };
}
