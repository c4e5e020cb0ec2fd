// crun as the real runtime behind hooks/extmount-runc (Podman's default; dockerd runs it through
// containerd's shim as it runs runc). What extmount must add for crun is read off plain crun on the
// same container shape: a mount that appears under an rslave bind after the start.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { parseManifest } from '../../src/core/checkpoint/manifest-read.js';
import { runCli } from '../helpers/cli.js';
import { TEST_IMAGE, runDetached, type Daemon } from '../helpers/dockerd.js';
import {
  continued,
  counterLoop,
  hostMounts,
  hostSandbox,
  lostMounts,
  readCount,
  requireE2E,
  startRuntimeDaemon,
  waitFor,
  writeTestConfig,
} from '../helpers/e2e.js';

test('crun behind the wrapper: a mount that appeared under an rslave bind after start survives docker checkpoint/restore', async (t) => {
  if (!(await requireE2E(t, ['root', 'dockerd', 'criu', 'crun-criu']))) return;
  const box = await hostSandbox('extmount-crun-');
  let daemon: Daemon | undefined;
  try {
    const crun = (await execa('sh', ['-c', 'command -v crun'])).stdout.trim();
    const config = await writeTestConfig(box.dir, { runc: crun });
    daemon = await startRuntimeDaemon('k', { config, dir: box.dir, runtimes: { crun } });
    const prop = join(box.dir, 'prop');
    const disk2 = join(box.dir, 'disk2');
    for (const d of [join(prop, 'plain'), join(prop, 'sub'), disk2]) await mkdir(d, { recursive: true });
    await writeFile(join(disk2, 'hello.txt'), 'from disk2\n');
    await execa('mount', ['--bind', prop, prop]);
    await execa('mount', ['--make-shared', prop]);

    await t.test('plain crun refuses the checkpoint (what the wrapper is for)', async () => {
      await runDetached(daemon!, [
        '--name',
        'plain',
        '--runtime',
        'crun',
        '-v',
        `${prop}:/prop:rslave`,
        TEST_IMAGE,
        'sleep',
        '100000',
      ]);
      await execa('mount', ['--bind', disk2, join(prop, 'plain')]);
      try {
        const dump = await daemon!.cli(['checkpoint', 'create', 'plain', 'cp0'], { reject: false });
        const lines = dump.stderr.split('\n');
        const criuErrors = lines.filter((l) => /Error \(|error opening/.test(l)).slice(0, 4);
        const why = criuErrors.length > 0 ? criuErrors : lines.slice(0, 3);
        t.diagnostic(`plain crun: exit ${dump.exitCode}: ${why.join(' | ').replaceAll(box.dir, 'DIR').slice(0, 800)}`);
        assert.notEqual(dump.exitCode, 0, 'plain crun checkpointed it: the wrapper would add nothing here');
        assert.equal(
          (await daemon!.docker.getContainer('plain').inspect()).State.Running,
          true,
          'the failed checkpoint stopped it',
        );
      } finally {
        await daemon!.cli(['rm', '-f', 'plain'], { reject: false });
        await execa('umount', [join(prop, 'plain')]);
      }
    });

    await t.test('through the wrapper: the same process, the content, still a slave, the host mount kept', async () => {
      await runDetached(daemon!, [
        '--name',
        'kc1',
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
      await waitFor('the counter to pass 5', async () => (await counter()).n > 5);
      const before = hostMounts();
      const dump = await daemon!.cli(['checkpoint', 'create', 'kc1', 'cp1'], { reject: false });
      assert.equal(dump.exitCode, 0, `docker checkpoint create through the wrapper and crun failed: ${dump.stderr}`);
      const atDump = await counter();
      const id = (await daemon!.docker.getContainer('kc1').inspect()).Id;
      const manifest = parseManifest(
        await readFile(join(daemon!.dataRoot, 'containers', id, 'checkpoints', 'cp1', 'extmount.yaml'), 'utf8'),
        'extmount.yaml',
      );
      if (process.env.EXTMOUNT_CRUN_DEBUG) {
        t.diagnostic(`manifest: ${JSON.stringify(manifest.mounts.map((m) => [m.mountpoint, m.kind, m.key]))}`);
        const shown = await runCli(['show', join(daemon!.dataRoot, 'containers', id, 'checkpoints', 'cp1')]);
        for (const line of shown.stdout.split('\n').slice(0, 60)) t.diagnostic(line);
      }
      const sub = manifest.mounts.find((m) => m.mountpoint === '/prop/sub');
      assert.deepEqual({ kind: sub?.kind, hostPath: sub?.hostPath }, { kind: 'propagated', hostPath: disk2 });

      const errors: string[] = [];
      await waitFor(
        'docker start --checkpoint',
        async () => {
          const start = await daemon!.cli(['start', '--checkpoint', 'cp1', 'kc1'], { reject: false });
          if (start.exitCode !== 0 && !errors.includes(start.stderr)) errors.push(start.stderr);
          return start.exitCode === 0 || undefined;
        },
        10_000,
        500,
      ).catch(() => {
        assert.fail(`docker start --checkpoint through the wrapper and crun failed: ${errors.join(' // then: ')}`);
      });
      await waitFor(`the counter to go on from ${atDump.n}`, async () => continued(await counter(), atDump));
      assert.equal((await daemon!.cli(['exec', 'kc1', 'cat', '/prop/sub/hello.txt'])).stdout, 'from disk2');
      const inside = (await daemon!.cli(['exec', 'kc1', 'cat', '/proc/1/mountinfo'])).stdout.split('\n');
      for (const mp of ['/prop', '/prop/sub'])
        assert.match(
          inside.find((l) => l.split(' ')[4] === mp) ?? '',
          / master:\d+ /,
          `${mp} is not a slave after restore`,
        );
      const lost = lostMounts(before, hostMounts(), { ignoreUnder: [daemon!.dir], mine: box.dir });
      assert.deepEqual(lost, [], `the restore removed host mounts: ${JSON.stringify(lost)}`);
      assert.deepEqual(
        hostMounts().filter((m) => m.mountpoint.startsWith(join(box.dir, 'state'))),
        [],
        'the wrapper left mounts behind',
      );
    });
  } finally {
    await daemon?.stop();
    await box.cleanup();
  }
});
