// `extmount install-runtime`: prints the daemon.json entry, merges it with --apply keeping a backup.
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
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
    assertOneLineError(
      await runCli(['install-runtime', '--apply', '--daemon-json', file]),
      2,
      /bad\.json is not valid JSON/,
    );
    assert.equal(await readFile(file, 'utf8'), '{"runtimes": ');
    await writeFile(file, '{"runtimes": []}');
    assertOneLineError(
      await runCli(['install-runtime', '--apply', '--daemon-json', file]),
      2,
      /"runtimes" must be an object/,
    );
  });

  it('--apply never writes through a planted daemon.json.extmount.tmp symlink', async () => {
    const file = join(dir, 'planted.json');
    await writeFile(file, JSON.stringify({ experimental: true }));
    const victim = join(dir, 'victim');
    await writeFile(victim, 'untouched\n');
    await symlink(victim, `${file}.extmount.tmp`);
    const r = await runCli(['install-runtime', '--apply', '--daemon-json', file]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(await readFile(victim, 'utf8'), 'untouched\n');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')).runtimes, { extmount: { path: WRAPPER } });
    assert.ok((await lstat(file)).isFile());
    // No temporary file of ours is left beside it.
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith('.planted.json.')),
      [],
    );
  });

  it('--apply refuses a daemon.json that is a FIFO (at once, exit 2) or a symlink, and changes nothing', async () => {
    const fifo = join(dir, 'fifo.json');
    await execa('mkfifo', [fifo]);
    const started = Date.now();
    assertOneLineError(
      await runCli(['install-runtime', '--apply', '--daemon-json', fifo]),
      2,
      /fifo\.json: the daemon\.json is a FIFO \(named pipe\), not a regular file/,
    );
    assert.ok(Date.now() - started < 10_000);
    assert.ok((await lstat(fifo)).isFIFO());
    const target = join(dir, 'real-daemon.json');
    await writeFile(target, '{}');
    const link = join(dir, 'link.json');
    await symlink(target, link);
    assertOneLineError(
      await runCli(['install-runtime', '--apply', '--daemon-json', link]),
      2,
      /link\.json: the daemon\.json is a symlink, which extmount does not follow/,
    );
    assert.equal(await readFile(target, 'utf8'), '{}');
  });
});

describe('extmount install-runtime --podman', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-install-podman-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const files = (sub: string) => [
    '--containers-conf',
    join(dir, sub, 'containers.conf.d', 'extmount.conf'),
    '--runtime-config',
    join(dir, sub, 'extmount', 'config.json'),
  ];

  it('prints the drop-in and the config; --apply writes both (folders made), a second run changes nothing', async () => {
    const show = await runCli(['install-runtime', '--podman', ...files('a')]);
    assert.equal(show.exitCode, 0, show.stderr);
    assert.match(
      show.stdout,
      new RegExp(`^extmount = \\["${WRAPPER.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"\\]$`, 'm'),
    );
    const r = await runCli(['install-runtime', '--podman', '--apply', '--json', ...files('a')]);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.podman.action, 'create');
    assert.equal(report.config.action, 'create');
    const config = JSON.parse(await readFile(join(dir, 'a', 'extmount', 'config.json'), 'utf8'));
    assert.equal(config.node, process.execPath);
    assert.match(config.runc, /^\/.*runc$/);
    assert.match(config.criu, /^\/.*criu$/);
    const again = JSON.parse(
      (await runCli(['install-runtime', '--podman', '--apply', '--json', ...files('a')])).stdout,
    );
    assert.deepEqual([again.podman.action, again.config.action], ['none', 'none']);
  });

  it('refuses a drop-in it did not write, and an extmount config that is not one (exit 2, nothing changed)', async () => {
    const [, conf, , cfg] = files('b');
    await execa('mkdir', ['-p', join(dir, 'b', 'containers.conf.d'), join(dir, 'b', 'extmount')]);
    await writeFile(conf!, '[engine]\nruntime = "crun"\n');
    assertOneLineError(
      await runCli(['install-runtime', '--podman', '--apply', ...files('b')]),
      2,
      /exists and was not written by extmount/,
    );
    assert.equal(await readFile(conf!, 'utf8'), '[engine]\nruntime = "crun"\n');
    await rm(conf!);
    await writeFile(cfg!, '{"runtimes": {}}');
    assertOneLineError(
      await runCli(['install-runtime', '--podman', '--apply', ...files('b')]),
      2,
      /unknown field "runtimes"/,
    );
    await assert.rejects(readFile(conf!));
    assertOneLineError(
      await runCli(['install-runtime', '--podman', '--daemon-json', '/x']),
      2,
      /--daemon-json is for dockerd/,
    );
    assertOneLineError(
      await runCli(['install-runtime', '--runtime-config', '/x']),
      2,
      /--runtime-config goes with --podman/,
    );
  });
});
