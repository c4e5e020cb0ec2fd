// `extmount install-runtime`: prints the daemon.json entry, merges it with --apply keeping a backup.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { WRAPPER } from '../helpers/e2e.js';

describe('extmount install-runtime', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-install-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the runtimes entry for hooks/extmount-runc', async () => {
    const r = await runCli(['install-runtime']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { runtimes: { extmount: { path: WRAPPER } } });
    const named = await runCli(['install-runtime', '--name', 'ext2', '--json']);
    assert.deepEqual(JSON.parse(named.stdout), { runtimes: { ext2: { path: WRAPPER } } });
  });

  it('--apply merges into daemon.json, keeps the other settings and a timestamped backup', async () => {
    const file = join(dir, 'daemon.json');
    await writeFile(file, JSON.stringify({ experimental: true, runtimes: { other: { path: '/usr/bin/other' } } }));
    const r = await runCli(['install-runtime', '--apply', '--daemon-json', file, '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { changed: boolean; backup: string };
    assert.equal(report.changed, true);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), {
      experimental: true,
      runtimes: { other: { path: '/usr/bin/other' }, extmount: { path: WRAPPER } },
    });
    assert.match(report.backup, /daemon\.json\.extmount-backup-\d{8}T\d{6}Z$/);
    assert.deepEqual(JSON.parse(await readFile(report.backup, 'utf8')).runtimes, { other: { path: '/usr/bin/other' } });
    // A second run changes nothing and makes no new backup.
    const again = await runCli(['install-runtime', '--apply', '--daemon-json', file]);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /already in/);
    assert.equal((await readdir(dir)).filter((n) => n.includes('extmount-backup')).length, 1);
  });

  it('--apply creates a missing daemon.json', async () => {
    const file = join(dir, 'new-daemon.json');
    const r = await runCli(['install-runtime', '--apply', '--daemon-json', file]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { runtimes: { extmount: { path: WRAPPER } } });
  });

  it('--apply refuses malformed JSON with exit 2 and leaves the file alone', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, '{"runtimes": ');
    assertOneLineError(await runCli(['install-runtime', '--apply', '--daemon-json', file]), 2, /bad\.json is not valid JSON/);
    assert.equal(await readFile(file, 'utf8'), '{"runtimes": ');
    await writeFile(file, '{"runtimes": []}');
    assertOneLineError(await runCli(['install-runtime', '--apply', '--daemon-json', file]), 2, /"runtimes" must be an object/);
  });
});
