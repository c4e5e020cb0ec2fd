// The bounded reader on real files: symlinks, FIFOs, devices, sizes. Needs nothing but a temp dir.
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { ExtmountError } from '../../../src/core/errors.js';
import {
  READ_LIMITS,
  readAtMost,
  readBoundedText,
  readBoundedTextIfExists,
} from '../../../src/adapters/fs/untrusted-file.js';

const limit = { what: 'manifest (extmount.yaml)', maxBytes: 1024 };

function refused(pattern: RegExp) {
  return (e: unknown) =>
    e instanceof ExtmountError && e.exitCode === 2 && pattern.test(e.message) && e.hint !== undefined;
}

describe('readBoundedText', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-untrusted-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads a regular file within the cap', async () => {
    await writeFile(join(dir, 'ok'), 'format: extmount/v1\n');
    assert.equal(await readBoundedText(join(dir, 'ok'), limit), 'format: extmount/v1\n');
  });

  it('refuses a symlink (to /dev/zero) without following it', async () => {
    await symlink('/dev/zero', join(dir, 'zero-link'));
    await assert.rejects(
      readBoundedText(join(dir, 'zero-link'), limit),
      refused(/zero-link: the manifest \(extmount\.yaml\) is a symlink, which extmount does not follow/),
    );
  });

  it('refuses a FIFO at once, with no writer and no reader waiting (never blocks)', async () => {
    const fifo = join(dir, 'fifo');
    await execa('mkfifo', [fifo]);
    const started = Date.now();
    await assert.rejects(
      readBoundedText(fifo, limit),
      refused(/fifo: the manifest \(extmount\.yaml\) is a FIFO \(named pipe\), not a regular file/),
    );
    assert.ok(Date.now() - started < 2000, 'the FIFO refusal took too long');
  });

  it('refuses a character device and a directory', async () => {
    await assert.rejects(readBoundedText('/dev/zero', limit), refused(/a character device, not a regular file/));
    await assert.rejects(readBoundedText(dir, limit), refused(/a directory, not a regular file/));
  });

  it('refuses a 200 MB file from its size, before reading it (sparse: no disk used)', async () => {
    const big = join(dir, 'big');
    await writeFile(big, '');
    await truncate(big, 200 * 1024 * 1024);
    const rss = process.memoryUsage().rss;
    const started = Date.now();
    await assert.rejects(
      readBoundedText(big, READ_LIMITS.manifest),
      refused(/has 209715200 bytes, more than the 1 MiB allowed/),
    );
    assert.ok(Date.now() - started < 2000, 'refusing took too long: was the file read?');
    assert.ok(process.memoryUsage().rss - rss < 50 * 1024 * 1024, 'memory grew as if the file had been read');
  });

  it('readAtMost stops one byte past the cap, whatever the file holds (a file that grows)', async () => {
    const path = join(dir, 'grown');
    await writeFile(path, Buffer.alloc(100_000, 0x61));
    const handle = await open(path, 'r');
    try {
      assert.equal((await readAtMost(handle, 1024)).length, 1025);
    } finally {
      await handle.close();
    }
  });

  it('a missing file is undefined for readBoundedTextIfExists, an error for readBoundedText', async () => {
    assert.equal(await readBoundedTextIfExists(join(dir, 'none'), limit), undefined);
    assert.equal(await readBoundedTextIfExists(join(dir, 'ok', 'below-a-file'), limit), undefined);
    await assert.rejects(
      readBoundedText(join(dir, 'none'), limit),
      (e: unknown) =>
        e instanceof ExtmountError &&
        e.exitCode === 2 &&
        /cannot read .*none: no such file or directory/.test(e.message),
    );
  });
});
