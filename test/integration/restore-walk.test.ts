// A container that turns a bind's destination into a symlink (issue 27: `umount /dest; rmdir /dest;
// ln -s / /dest` with CAP_SYS_ADMIN) must not get, on restore, runc's mountpoints made in the host's bind
// source: the wrapper refuses before runc runs (exit 2, one line naming /dest), writes nothing into the
// source, and leaves no criu-root mount, no runc state and nothing running behind; a retry says the same.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  counterLoop,
  hostSandbox,
  readCount,
  requireE2E,
  runtimeBed,
  waitFor,
  writeTestConfig,
} from '../helpers/e2e.js';
import { TEST_IMAGE, runDetached } from '../helpers/dockerd.js';
import { assertOneLineError } from '../helpers/cli.js';
import { makeBundle, runtime } from '../helpers/runc-bundle.js';

const criuRootMounts = async () =>
  (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes('criu-root'));

test('restore refuses a bind destination the container made a symlink out of place', async (t) => {
  if (!(await requireE2E(t, ['root', 'criu']))) return;
  const box = await hostSandbox('extmount-walk-');
  const config = await writeTestConfig(box.dir);
  const runc = runtime('runc');
  const wrapper = runtime('wrapper', { EXTMOUNT_CONFIG: config });
  const root = join(box.dir, 'runc-root');
  const id = 'walk1';
  const source = join(box.dir, 'host-data');
  await mkdir(source);
  await writeFile(join(source, 'marker'), 'host\n');
  let running = false;
  try {
    const b = await makeBundle(join(box.dir, 'bundle'), ['sh', '-c', counterLoop('/tmp/counter')]);
    await mkdir(join(b.rootfs, 'dest'));
    await writeFile(join(box.dir, 'hosts'), '127.0.0.1 localhost\n');
    await b.update((c) => {
      c.mounts.push({ source, destination: '/dest', options: ['rbind', 'rprivate'] });
      // Docker's file binds: made after /dest, so runc would make their mountpoints in the host's source.
      c.mounts.push({ source: join(box.dir, 'hosts'), destination: '/etc/hosts', options: ['rbind'] });
    });
    const log = join(box.dir, 'run.log');
    const run = await runc(['--root', root, '--log', log, 'run', '-d', id], {
      cwd: b.dir,
      stdout: 'ignore',
      stderr: 'ignore',
    });
    assert.equal(run.exitCode, 0, await readFile(log, 'utf8').catch(() => ''));
    running = true;
    await waitFor('the counter', async () => (await readCount(join(b.rootfs, 'tmp', 'counter'))).n > 3);
    const evil = await runc([
      '--root',
      root,
      'exec',
      '--cap',
      'CAP_SYS_ADMIN',
      id,
      '/bin/busybox',
      'sh',
      '-c',
      '/bin/busybox umount /dest && /bin/busybox rmdir /dest && /bin/busybox ln -s / /dest',
    ]);
    assert.equal(evil.exitCode, 0, String(evil.stderr));

    const dump = await wrapper(['--root', root, 'checkpoint', '--image-path', 'img', '--work-path', 'work', id], {
      cwd: b.dir,
    });
    assert.equal(dump.exitCode, 0, String(dump.stderr));
    running = false;

    for (const attempt of ['restore', 'the retry']) {
      const restore = await wrapper(
        ['--root', root, 'restore', '-d', '--image-path', 'img', '--work-path', 'work-restore', id],
        { cwd: b.dir, stdout: 'ignore' },
      );
      assertOneLineError(
        { exitCode: restore.exitCode ?? -1, stdout: '', stderr: String(restore.stderr) },
        2,
        /^extmount: restore refused: mount \/dest leads to the container's root \("\/"\) through a symlink in the rootfs: .*; start it afresh from its image$/,
      );
      assert.deepEqual(
        (await readdir(source)).sort(),
        ['marker'],
        `${attempt}: something was made in the host's bind source`,
      );
      assert.deepEqual(await criuRootMounts(), [], `${attempt}: a criu-root mount is left`);
      assert.equal(existsSync(join(root, id)), false, `${attempt}: runc state left for ${id}`);
      assert.notEqual((await runc(['--root', root, 'state', id])).exitCode, 0, `${attempt}: runc has ${id}`);
    }
  } finally {
    if (running) await runc(['--root', root, 'delete', '--force', id]);
    await box.cleanup();
  }
});

test('docker start --checkpoint through the extmount runtime: the same refusal, nothing in the bind source, no criu-root left', async (t) => {
  if (!(await requireE2E(t, ['root', 'dockerd', 'criu']))) return;
  const { box, daemon, close } = await runtimeBed('extmount-walk-d-', 'w');
  try {
    const source = join(box.dir, 'host-data');
    await mkdir(source);
    await writeFile(join(source, 'marker'), 'host\n');
    await runDetached(daemon, [
      '--name',
      'w1',
      '--runtime',
      'extmount',
      '--cap-add',
      'SYS_ADMIN',
      '-v',
      `${source}:/dest`,
      TEST_IMAGE,
      'sh',
      '-c',
      counterLoop('/tmp/counter'),
    ]);
    const evil = await daemon.cli(['exec', 'w1', 'sh', '-c', 'umount /dest && rmdir /dest && ln -s / /dest'], {
      reject: false,
    });
    assert.equal(evil.exitCode, 0, String(evil.stderr));
    const dump = await daemon.cli(['checkpoint', 'create', 'w1', 'cp1'], { reject: false });
    assert.equal(dump.exitCode, 0, String(dump.stderr));
    for (const attempt of ['start', 'the retry']) {
      // Right after a checkpoint containerd may refuse the upload ("content … already exists", ENVIRONMENT.md): again a moment later.
      const start = (await waitFor(
        'docker start --checkpoint to reach the runtime',
        async () => {
          const r = await daemon.cli(['start', '--checkpoint', 'cp1', 'w1'], { reject: false });
          return /failed to upload checkpoint to containerd/.test(r.stderr) ? undefined : r;
        },
        10_000,
        500,
      ))!;
      assert.notEqual(start.exitCode, 0, `${attempt}: started`);
      assert.match(
        String(start.stderr),
        /extmount: restore refused: mount \/dest leads to the container's root \("\/"\) through a symlink in the rootfs/,
        attempt,
      );
      assert.deepEqual(
        (await readdir(source)).sort(),
        ['marker'],
        `${attempt}: something was made in the host's bind source`,
      );
      assert.deepEqual(await criuRootMounts(), [], `${attempt}: a criu-root mount is left`);
      assert.equal((await daemon.cli(['inspect', '-f', '{{.State.Running}}', 'w1'])).stdout.trim(), 'false');
    }
  } finally {
    await close();
  }
});
