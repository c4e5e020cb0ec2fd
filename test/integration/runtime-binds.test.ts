// A plain bind (-v DIR:/data) and a named volume survive checkpoint/restore through the extmount runtime,
// with `docker` itself and with `extmount checkpoint|restore CONTAINER` (whose --map moves a bind).
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { TEST_IMAGE, runDetached } from '../helpers/dockerd.js';
import { continued, counterLoop, readCount, requireE2E, runtimeBed, waitFor, writeTestConfig } from '../helpers/e2e.js';

test('a bind mount and a named volume survive checkpoint/restore through the extmount runtime', async (t) => {
  if (!(await requireE2E(t, ['root', 'dockerd', 'criu']))) return;
  const { box, config, daemon, close } = await runtimeBed('extmount-rt-binds-', 'b');
  try {
    const data = join(box.dir, 'data');
    const data2 = join(box.dir, 'data2');
    await mkdir(data);
    await mkdir(data2);
    await daemon.cli(['volume', 'create', 'rtvol']);
    await runDetached(daemon, [
      '--name',
      'bc1',
      '--runtime',
      'extmount',
      '-v',
      `${data}:/data`,
      '-v',
      'rtvol:/vol',
      TEST_IMAGE,
      'sh',
      '-c',
      counterLoop('/data/counter', '/vol/counter'),
    ]);
    const volume = join(daemon.dataRoot, 'volumes', 'rtvol', '_data');
    const read = (dir: string) => readCount(join(dir, 'counter'));
    await waitFor('the counters to pass 5', async () => (await read(data)).n > 5 && (await read(volume)).n > 5);

    await t.test('docker checkpoint create / docker start --checkpoint', async () => {
      const dump = await daemon.cli(['checkpoint', 'create', 'bc1', 'cp1'], { reject: false });
      assert.equal(dump.exitCode, 0, dump.stderr);
      const atDump = await read(data);
      await waitFor(
        'docker start --checkpoint',
        async () =>
          (await daemon.cli(['start', '--checkpoint', 'cp1', 'bc1'], { reject: false })).exitCode === 0 || undefined,
        10_000,
        500,
      );
      await waitFor(
        'both counters to go on in the same process',
        async () => continued(await read(data), atDump) && continued(await read(volume), atDump),
      );
    });

    await t.test('extmount checkpoint --leave-running keeps the container going', async () => {
      const dump = await runCli([
        '--config',
        config,
        '--host',
        daemon.host,
        '--json',
        'checkpoint',
        'bc1',
        '--name',
        'live',
        '--leave-running',
      ]);
      assert.equal(dump.exitCode, 0, dump.stderr);
      assert.equal((JSON.parse(dump.stdout) as { leftRunning: boolean }).leftRunning, true);
      assert.equal((await daemon.cli(['inspect', '-f', '{{.State.Status}}', 'bc1'])).stdout.trim(), 'running');
      const n = await read(data);
      await waitFor('the counter to go on', async () => continued(await read(data), n));
    });

    await t.test('extmount checkpoint CONTAINER --json, then extmount restore CONTAINER --map data=OTHER', async () => {
      const dump = await runCli([
        '--config',
        config,
        '--host',
        daemon.host,
        '--json',
        'checkpoint',
        'bc1',
        '--name',
        'cp2',
      ]);
      assert.equal(dump.exitCode, 0, dump.stderr);
      const report = JSON.parse(dump.stdout) as {
        checkpoint: string;
        leftRunning: boolean;
        mounts: Array<{ mountpoint: string; kind: string; mappedBy: string; path: string }>;
      };
      assert.equal(report.checkpoint, 'cp2');
      assert.equal(report.leftRunning, false);
      const byMountpoint = new Map(report.mounts.map((m) => [m.mountpoint, m]));
      assert.deepEqual(
        { ...byMountpoint.get('/data') },
        { ...byMountpoint.get('/data'), kind: 'bind', mappedBy: 'runc', path: data },
      );
      assert.equal(byMountpoint.get('/vol')?.kind, 'volume');
      const atDump = await read(data);

      const restore = await runCli([
        '--config',
        config,
        '--host',
        daemon.host,
        '--json',
        'restore',
        'bc1',
        '--name',
        'cp2',
        '--map',
        `data=${data2}`,
      ]);
      assert.equal(restore.exitCode, 0, restore.stderr);
      const restored = JSON.parse(restore.stdout) as {
        pid: number;
        mounts: Array<{ mountpoint: string; path: string }>;
      };
      assert.ok(restored.pid > 0);
      assert.equal(restored.mounts.find((m) => m.mountpoint === '/data')?.path, data2);
      // The restored process goes on counting, now into the folder --map chose.
      await waitFor('the same process to go on counting in the mapped folder', async () =>
        continued(await read(data2), atDump),
      );
      assert.ok(continued(await read(volume), atDump));
    });

    await t.test(
      "restore CONTAINER --map with a config whose stateDir is not the runtime's: the map still reaches it (it travels with the checkpoint)",
      async () => {
        const other = await writeTestConfig(join(box.dir, 'elsewhere'));
        const data3 = join(box.dir, 'data3');
        await mkdir(data3);
        const dump = await runCli(['--config', other, '--host', daemon.host, 'checkpoint', 'bc1', '--name', 'cp3']);
        assert.equal(dump.exitCode, 0, dump.stderr);
        const atDump = await read(data2);
        const checkpoint = join(
          daemon.dataRoot,
          'containers',
          (await daemon.docker.getContainer('bc1').inspect()).Id,
          'checkpoints',
          'cp3',
        );
        const restore = await runCli([
          '--config',
          other,
          '--host',
          daemon.host,
          '--json',
          'restore',
          'bc1',
          '--name',
          'cp3',
          '--map',
          `data=${data3}`,
        ]);
        assert.equal(restore.exitCode, 0, restore.stderr);
        assert.match(
          (JSON.parse(restore.stdout) as { notes: string[] }).notes.join('\n'),
          /left no result in .*elsewhere\/state/,
        );
        await waitFor('the same process to go on counting in the folder --map chose', async () =>
          continued(await read(data3), atDump),
        );
        // The maps file was removed after the start: a later plain docker start --checkpoint gets the recorded paths.
        await assert.rejects(stat(join(checkpoint, 'extmount.maps.json')), /ENOENT/);
      },
    );
  } finally {
    await close();
  }
});
