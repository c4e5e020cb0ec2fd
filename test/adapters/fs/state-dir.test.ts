import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ContainerStateDir } from '../../../src/adapters/fs/state-dir.js';
import { RUNTIME_LOG_MAX_BYTES } from '../../../src/core/runtime/runtime-files.js';

describe('ContainerStateDir.log: runtime.log is bounded', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-statelog-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('past the cap it becomes runtime.log.1, the older one dropped; below it, lines are appended', async () => {
    const state = await ContainerStateDir.open(join(dir, 'state'), 'c1', join(dir, 'runc-root'));
    const log = state.path('runtime.log');
    await state.log('first');
    await state.log('second');
    assert.match(await readFile(log, 'utf8'), /first\n.*second\n$/);
    await writeFile(log, 'x'.repeat(RUNTIME_LOG_MAX_BYTES));
    await state.log('after the cap');
    assert.equal((await stat(`${log}.1`)).size, RUNTIME_LOG_MAX_BYTES);
    assert.match(await readFile(log, 'utf8'), /^\S+ after the cap\n$/);
    await writeFile(log, 'y'.repeat(RUNTIME_LOG_MAX_BYTES + 10));
    await state.log('again');
    assert.match(await readFile(`${log}.1`, 'utf8'), /^y+$/);
    assert.match(await readFile(log, 'utf8'), /^\S+ again\n$/);
  });
});
