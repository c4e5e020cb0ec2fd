import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { lockFile } from '../../../src/adapters/fs/dir-lock.js';
import { ExtmountError } from '../../../src/core/errors.js';
import { describeLockHolder } from '../../../src/core/lock-holder.js';

describe('lockFile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-lock-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const busy = (holder: Parameters<typeof describeLockHolder>[0]) =>
    new ExtmountError('busy', `held (${describeLockHolder(holder)})`);

  it('records pid and start time; a second taker is refused (exit 2, code busy) with them; release frees it', async () => {
    const path = join(dir, 'a.lock');
    const lock = await lockFile(path, busy);
    assert.match(await readFile(path, 'utf8'), new RegExp(`^${process.pid} \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\n$`));
    // flock locks belong to the open file description: a second open in this process conflicts too.
    await assert.rejects(
      lockFile(path, busy),
      (e: unknown) =>
        e instanceof ExtmountError &&
        e.code === 'busy' &&
        e.exitCode === 2 &&
        new RegExp(`^held \\(pid ${process.pid}, since \\S+Z\\)$`).test(e.message),
    );
    await lock.release();
    assert.equal(existsSync(path), false);
    const again = await lockFile(path, busy);
    await again.release();
  });

  it('a holder in another process (flock(1) holding the file) is refused too', async () => {
    const path = join(dir, 'b.lock');
    const holder = spawn('flock', ['--nonblock', path, 'sleep', '30'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      await assert.rejects(lockFile(path, busy), /held \(its pid unknown\)/);
    } finally {
      holder.kill();
    }
  });
});
