// hooks/extmount-runc's fast path: every verb but checkpoint/restore reaches runc untouched and cheaply.
// Needs no root: a fake runc and a fake node record what they were given.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { WRAPPER as REPO_WRAPPER } from '../helpers/e2e.js';

// Prints its argv one per line (so spaces survive) and exits with $FAKE_EXIT.
const RECORDER = '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\nexit "${FAKE_EXIT:-0}"\n';

describe('hooks/extmount-runc', () => {
  let dir: string;
  let fakeRunc: string;
  let fakeNode: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-shim-'));
    fakeRunc = join(dir, 'fake-runc');
    fakeNode = join(dir, 'fake-node');
    for (const f of [fakeRunc, fakeNode]) {
      await writeFile(f, RECORDER);
      await chmod(f, 0o755);
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = (args: string[], env: Record<string, string> = {}, wrapper = REPO_WRAPPER) =>
    execa(wrapper, args, { reject: false, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', EXTMOUNT_RUNC: fakeRunc, EXTMOUNT_NODE: fakeNode, EXTMOUNT_CONFIG: '/nonexistent', ...env }, extendEnv: false });

  it('execs runc with the same argv and exit code for every other verb', async () => {
    const calls = [
      ['--root', '/run/docker/runtime-runc/moby', '--log', '/b/log.json', '--log-format', 'json', 'create', '--bundle', '/b', '--pid-file', '/b/init.pid', 'id1'],
      ['--root', '/r', 'state', 'id1'],
      ['--log=/x.json', 'start', 'id1'],
      ['--debug', '--systemd-cgroup', 'kill', 'id1', '9'],
      ['--rootless', 'false', 'delete', '--force', 'id1'],
      ['-log', '/l', 'exec', '--process', '/tmp/p.json', 'id1'],
      ['--root', 'checkpoint', 'state', 'a value that is a verb'],
      ['pause', 'id with spaces "and quotes"'],
      ['--version'],
    ];
    for (const args of calls) {
      const r = await run(args, { FAKE_EXIT: '3' });
      assert.equal(r.exitCode, 3, args.join(' '));
      assert.deepEqual(String(r.stdout).split('\n'), args, args.join(' '));
    }
  });

  it('hands checkpoint and restore to the Node handler next to it, with the same argv', async () => {
    const main = await realpath(join(REPO_WRAPPER, '../../build/src/runtime/main.bundle.mjs'));
    for (const args of [
      ['--root', '/r', '--log', '/l', '--log-format', 'json', 'checkpoint', '--image-path', '/i', '--work-path', '/w', 'id1'],
      ['--root', '/r', 'restore', '--image-path', '/i', '--detach', '-no-subreaper', '--bundle', '/b', 'id1'],
    ]) {
      const r = await run(args);
      const [script, ...rest] = String(r.stdout).split('\n');
      assert.equal(await realpath(script!), main);
      assert.deepEqual(rest, args);
    }
    // Also through a symlink to the wrapper (how a package manager may install it).
    const link = join(dir, 'extmount-runc');
    await symlink(REPO_WRAPPER, link);
    const viaLink = await run(['checkpoint', 'x'], {}, link);
    assert.equal(await realpath(String(viaLink.stdout).split('\n')[0]!), main);
  });

  it('takes runc from the config ("runc"), and EXTMOUNT_RUNC over it', async () => {
    const config = join(dir, 'config.json');
    await writeFile(config, `{\n  "criu": "runc",\n  "runc" :  "${fakeRunc}",\n  "stateDir": "/var/lib/extmount"\n}\n`);
    const r = await run(['state', 'x'], { EXTMOUNT_RUNC: '', EXTMOUNT_CONFIG: config });
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.equal(String(r.stdout), 'state\nx');
    await writeFile(config, '{"runc": "/nonexistent/runc"}');
    const env = await run(['state', 'y'], { EXTMOUNT_CONFIG: config });
    assert.equal(String(env.stdout), 'state\ny');
  });

  it('refuses to loop when "runc" is the wrapper itself', async () => {
    const r = await run(['state', 'x'], { EXTMOUNT_RUNC: REPO_WRAPPER });
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stderr), /the configured runc is this wrapper again/);
  });

  it('costs next to nothing on the fast path', async (t) => {
    const rounds = 100;
    const time = async (command: string, args: string[]) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++) await execa(command, args, { env: { EXTMOUNT_RUNC: fakeRunc, EXTMOUNT_CONFIG: '/nonexistent' } });
      return Number(process.hrtime.bigint() - start) / 1e6 / rounds;
    };
    const direct = await time(fakeRunc, ['--root', '/r', 'state', 'id']);
    const wrapped = await time(REPO_WRAPPER, ['--root', '/r', 'state', 'id']);
    t.diagnostic(`runc directly: ${direct.toFixed(2)} ms per call; through the wrapper: ${wrapped.toFixed(2)} ms (+${(wrapped - direct).toFixed(2)} ms)`);
    // One extra sh exec per call; Node.js alone takes ~40-90 ms to start.
    assert.ok(wrapped - direct < 15, `the wrapper adds ${(wrapped - direct).toFixed(1)} ms per call`);
  });
});
