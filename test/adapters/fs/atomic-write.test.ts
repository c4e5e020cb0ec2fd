// The atomic writer on real files: planted symlinks and FIFOs, modes, no leftovers.
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { ExtmountError } from '../../../src/core/errors.js';
import { createFileExclusive, writeFileAtomic } from '../../../src/adapters/fs/atomic-write.js';

describe('writeFileAtomic / createFileExclusive', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-atomic-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const sync of [true, false]) {
    it(`writes the file whole with the mode asked, and leaves no temporary file (sync: ${sync})`, async () => {
      const sub = join(dir, `sync-${sync}`);
      await mkdir(sub);
      const path = join(sub, 'a.json');
      await writeFileAtomic(path, '{"a": 1}\n', { mode: 0o640, sync });
      await writeFileAtomic(path, '{"a": 2}\n', { mode: 0o640, sync });
      assert.equal(await readFile(path, 'utf8'), '{"a": 2}\n');
      assert.equal((await lstat(path)).mode & 0o777, 0o640);
      assert.deepEqual(await readdir(sub), ['a.json']);
    });
  }

  it('replaces a symlink at the target instead of writing through it', async () => {
    const victim = join(dir, 'victim');
    await writeFile(victim, 'untouched\n');
    const path = join(dir, 'linked.json');
    await symlink(victim, path);
    await writeFileAtomic(path, 'new\n');
    assert.equal(await readFile(victim, 'utf8'), 'untouched\n');
    assert.ok((await lstat(path)).isFile());
    assert.equal(await readFile(path, 'utf8'), 'new\n');
  });

  it('replaces a FIFO at the target without blocking', async () => {
    const path = join(dir, 'fifo.json');
    await execa('mkfifo', [path]);
    await writeFileAtomic(path, 'new\n');
    assert.ok((await lstat(path)).isFile());
  });

  it('createFileExclusive refuses a planted symlink and an existing file (exit 2), writing nothing through them', async () => {
    const victim = join(dir, 'victim2');
    await writeFile(victim, 'untouched\n');
    const planted = join(dir, 'backup');
    await symlink(victim, planted);
    await assert.rejects(
      createFileExclusive(planted, 'x'),
      (e: unknown) => e instanceof ExtmountError && e.exitCode === 2 && /something is already there/.test(e.message),
    );
    assert.equal(await readFile(victim, 'utf8'), 'untouched\n');
    const fresh = join(dir, 'fresh');
    await createFileExclusive(fresh, 'x', { mode: 0o600 });
    assert.equal(await readFile(fresh, 'utf8'), 'x');
    await assert.rejects(createFileExclusive(fresh, 'y'), /already there/);
  });
});
