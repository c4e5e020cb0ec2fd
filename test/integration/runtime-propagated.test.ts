// Issue 3's acceptance for Docker: a mount that appears under an rslave bind after start survives plain
// `docker checkpoint create` + `docker start --checkpoint` through hooks/extmount-runc, and the host keeps
// every one of its own mounts (runc 1.1 alone unmounts the host's submount on restore).
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { parseManifest } from '../../src/core/checkpoint/manifest-read.js';
import { TEST_IMAGE, type Daemon, runDetached } from '../helpers/dockerd.js';
import {
  continued,
  counterLoop,
  hostMounts,
  lostMounts,
  readCount,
  requireE2E,
  runtimeBed,
  waitFor,
} from '../helpers/e2e.js';

test('a propagated mount survives docker checkpoint create / docker start --checkpoint through the extmount runtime', async (t) => {
  if (!(await requireE2E(t, ['root', 'dockerd', 'criu']))) return;
  const { box, daemon, close } = await runtimeBed('extmount-rt-prop-', 'p');
  try {
    const prop = join(box.dir, 'prop');
    const disk2 = join(box.dir, 'disk2');
    const disk3 = join(box.dir, 'disk3');
    for (const d of [join(prop, 'sub'), join(prop, 'new'), disk2, disk3]) await mkdir(d, { recursive: true });
    await writeFile(join(disk2, 'hello.txt'), 'from disk2\n');
    await writeFile(join(disk3, 'x.txt'), 'from disk3\n');
    // ENVIRONMENT.md's case: a shared host folder, bound rslave, and a submount made after start.
    await execa('mount', ['--bind', prop, prop]);
    await execa('mount', ['--make-shared', prop]);
    await runDetached(daemon, [
      '--name',
      'pc1',
      '--runtime',
      'extmount',
      '-v',
      `${prop}:/prop:rslave`,
      TEST_IMAGE,
      'sh',
      '-c',
      counterLoop('/prop/counter'),
    ]);
    await execa('mount', ['--bind', disk2, join(prop, 'sub')]);
    const counter = () => readCount(join(prop, 'counter'));
    await waitFor('the counter to pass 10', async () => (await counter()).n > 10);
    assert.equal((await daemon.cli(['exec', 'pc1', 'cat', '/prop/sub/hello.txt'])).stdout, 'from disk2');

    const before = hostMounts();
    const dump = await daemon.cli(['checkpoint', 'create', 'pc1', 'cp1'], { reject: false });
    assert.equal(dump.exitCode, 0, `docker checkpoint create failed: ${dump.stderr}`);
    const atDump = await counter();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await counter(), atDump, 'the container kept running after the checkpoint');

    const manifest = parseManifest(
      await readFile(
        join(daemon.dataRoot, 'containers', await id(daemon, 'pc1'), 'checkpoints', 'cp1', 'extmount.yaml'),
        'utf8',
      ),
      'extmount.yaml',
    );
    const sub = manifest.mounts.find((m) => m.mountpoint === '/prop/sub');
    assert.deepEqual(
      { key: sub?.key, kind: sub?.kind, hostPath: sub?.hostPath, propagation: sub?.propagation },
      {
        key: 'prop-sub',
        kind: 'propagated',
        hostPath: disk2,
        propagation: 'slave',
      },
    );
    assert.equal(manifest.target.kind === 'container' && manifest.target.name, 'pc1');

    await waitFor(
      'docker start --checkpoint',
      async () =>
        (await daemon.cli(['start', '--checkpoint', 'cp1', 'pc1'], { reject: false })).exitCode === 0 || undefined,
      10_000,
      500,
    );
    // The process continues from where it was: a restarted loop would draw a new token and count from 1.
    await waitFor(`the counter to go on from ${atDump.n}`, async () => continued(await counter(), atDump));
    assert.equal((await daemon.cli(['exec', 'pc1', 'cat', '/prop/sub/hello.txt'])).stdout, 'from disk2');

    // Slave propagation is back: both mounts have a master, and a mount the host makes now shows inside.
    const inside = (await daemon.cli(['exec', 'pc1', 'cat', '/proc/1/mountinfo'])).stdout.split('\n');
    for (const mp of ['/prop', '/prop/sub']) {
      const line = inside.find((l) => l.split(' ')[4] === mp);
      assert.match(line ?? '', / master:\d+ /, `${mp} is not a slave after restore: ${line}`);
    }
    await execa('mount', ['--bind', disk3, join(prop, 'new')]);
    await waitFor(
      'a new host mount to propagate into the restored container',
      async () =>
        (await daemon.cli(['exec', 'pc1', 'cat', '/prop/new/x.txt'], { reject: false })).stdout === 'from disk3' ||
        undefined,
      5000,
    );
    await execa('umount', [join(prop, 'new')]);

    // The host's own mounts are all still there (docker's own rootfs and netns mounts come and go).
    const lost = lostMounts(before, hostMounts(), { ignoreUnder: [daemon.dir], mine: box.dir });
    assert.deepEqual(lost, [], `the restore removed host mounts: ${JSON.stringify(lost)}`);
    assert.ok(
      hostMounts().some((m) => m.mountpoint === join(prop, 'sub')),
      'the host lost its own submount',
    );
    assert.deepEqual(
      hostMounts().filter((m) => m.mountpoint.startsWith(join(box.dir, 'state'))),
      [],
      'the wrapper left mounts behind',
    );
  } finally {
    await close();
  }
});

async function id(daemon: Daemon, name: string): Promise<string> {
  return (await daemon.cli(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
}
