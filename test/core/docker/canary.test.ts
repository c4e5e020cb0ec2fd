import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CANARY_PATH, canaryImageArchive, canaryProgram } from '../../../src/core/docker/canary.js';
import { decodeHeader } from '../../../src/core/migrate/migrate-tar.js';

describe('the canary program', () => {
  it('is a static x86-64 ELF whose one loadable segment holds the file, entered after the headers', () => {
    const elf = canaryProgram('x86_64')!;
    assert.equal(elf.length, 129);
    assert.equal(elf.subarray(0, 4).toString('latin1'), '\x7fELF');
    assert.equal(elf.readUInt16LE(18), 0x3e);
    assert.equal(elf.readBigUInt64LE(24), 0x400000n + 120n);
    assert.equal(elf.readBigUInt64LE(64 + 32), 129n);
    assert.deepEqual(canaryProgram('amd64'), elf);
    assert.equal(canaryProgram('aarch64'), undefined);
  });

  it(
    'runs here and waits in pause(2) until a signal ends it',
    { skip: process.arch !== 'x64' && 'x86-64 only' },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'extmount-canary-'));
      try {
        await writeFile(join(dir, 'canary'), canaryProgram('x86_64')!, { mode: 0o755 });
        const child = spawn(join(dir, 'canary'));
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.match(await readFile(`/proc/${child.pid}/wchan`, 'utf8').catch(() => 'gone'), /pause/);
        const ended = new Promise<NodeJS.Signals | null>((resolve) =>
          child.on('exit', (_code, signal) => resolve(signal)),
        );
        child.kill('SIGTERM');
        assert.equal(await ended, 'SIGTERM');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it('is the only file of the image archive, executable, at /canary', () => {
    const program = canaryProgram('x86_64')!;
    const archive = canaryImageArchive(program);
    const header = decodeHeader(archive.subarray(0, 512))!;
    assert.equal(`/${header.name}`, CANARY_PATH);
    assert.equal(header.type, 'file');
    assert.equal(header.mode & 0o777, 0o755);
    assert.equal(header.size, program.length);
    assert.deepEqual(archive.subarray(512, 512 + program.length), program);
    assert.equal(archive.length, 512 + 512 + 1024);
  });
});
