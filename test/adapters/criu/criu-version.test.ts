// The CRIU version cache on real files, with a stand-in CRIU that counts how often it is asked.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CRIU_VERSION_CACHE, criuVersion } from '../../../src/adapters/criu/criu-version.js';

describe('criuVersion: the cache keyed by the CRIU file', () => {
  let dir: string;
  let criu: string;
  let calls: string;
  let stateDir: string;

  async function standIn(version: string): Promise<void> {
    await writeFile(criu, `#!/bin/sh\necho x >> '${calls}'\necho 'Version: ${version}'\n`, { mode: 0o755 });
  }
  async function timesAsked(): Promise<number> {
    return (await readFile(calls, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-criu-version-'));
    criu = join(dir, 'criu');
    calls = join(dir, 'calls');
    stateDir = join(dir, 'state');
    await mkdir(stateDir, { mode: 0o700 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('asks CRIU once, then answers from the cache', async () => {
    await standIn('4.1.1');
    assert.equal((await criuVersion(criu, { stateDir })).text, '4.1.1');
    assert.equal((await criuVersion(criu, { stateDir })).text, '4.1.1');
    assert.equal(await timesAsked(), 1);
  });

  it('asks again when the file changed (an upgrade), and keeps the new answer', async () => {
    await standIn('4.2.1');
    assert.equal((await criuVersion(criu, { stateDir })).text, '4.2.1');
    assert.equal((await criuVersion(criu, { stateDir })).text, '4.2.1');
    assert.equal(await timesAsked(), 2);
  });

  it('asks again when the cache is damaged, and does not believe one written for another file', async () => {
    await writeFile(join(stateDir, CRIU_VERSION_CACHE), '{"identity": 1');
    assert.equal((await criuVersion(criu, { stateDir })).text, '4.2.1');
    const cached = JSON.parse(await readFile(join(stateDir, CRIU_VERSION_CACHE), 'utf8')) as { identity: string };
    await writeFile(
      join(stateDir, CRIU_VERSION_CACHE),
      JSON.stringify({ identity: cached.identity.replace(criu, '/usr/sbin/criu'), version: '9.9.9' }),
    );
    assert.equal((await criuVersion(criu, { stateDir })).text, '4.2.1');
    assert.equal(await timesAsked(), 4);
  });

  it('without a state dir, or where it does not exist, asks every time and writes nothing', async () => {
    const missing = join(dir, 'no-state');
    await criuVersion(criu);
    await criuVersion(criu, { stateDir: missing });
    await criuVersion(criu, { stateDir: missing });
    assert.equal(await timesAsked(), 7);
    await assert.rejects(readFile(join(missing, CRIU_VERSION_CACHE)), { code: 'ENOENT' });
  });
  it('a CRIU found through an empty or relative PATH entry (the working directory) is asked every time, never cached', async () => {
    const saved = { path: process.env.PATH, cwd: process.cwd() };
    const fresh = join(dir, 'state-rel');
    await mkdir(fresh, { mode: 0o700 });
    const before = await timesAsked();
    try {
      process.chdir(dir);
      process.env.PATH = `:${join(dir, 'nowhere')}`;
      assert.equal((await criuVersion('criu', { stateDir: fresh })).text, '4.2.1');
      assert.equal((await criuVersion('criu', { stateDir: fresh })).text, '4.2.1');
    } finally {
      process.chdir(saved.cwd);
      process.env.PATH = saved.path;
    }
    assert.equal(await timesAsked(), before + 2);
    await assert.rejects(readFile(join(fresh, CRIU_VERSION_CACHE)), { code: 'ENOENT' });
  });
});
