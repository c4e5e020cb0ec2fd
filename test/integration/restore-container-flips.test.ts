// `extmount restore CONTAINER --map` while a folder above the mapped path is swapped for a symlink and
// back (issue 11): the CLI checks the path, the runtime binds it; whatever moment the swap hits, the
// container never gets the symlink's target, and a refusal is one line with the container left
// stopped with its checkpoint.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { DEFAULT_DENY } from '../../src/core/config.js';
import { runCli } from '../helpers/cli.js';
import { TEST_IMAGE, runDetached, type Daemon } from '../helpers/dockerd.js';
import {
  continued,
  counterLoop,
  anotherFlipRound,
  hostMounts,
  hostSandbox,
  readCount,
  requireE2E,
  startRuntimeDaemon,
  waitFor,
  writeTestConfig,
} from '../helpers/e2e.js';

/** Restores during the flips (CI caps them: anotherFlipRound). */
const ROUNDS = 12;

test('restore CONTAINER --map to a path whose folder is swapped for a symlink and back: the symlink target is never bound', async (t) => {
  if (!(await requireE2E(t, ['root', 'dockerd', 'criu']))) return;
  const box = await hostSandbox('extmount-rflip-');
  let daemon: Daemon | undefined;
  let flipper: ReturnType<typeof spawn> | undefined;
  const stopFlipper = async () => {
    if (flipper) {
      try {
        process.kill(-flipper.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      flipper = undefined;
    }
    // Put x/a back whatever moment the flipper was stopped at.
    await execa('sh', [
      '-c',
      'cd "$1" && { [ -d a.real ] && rm -f a && mv a.real a; true; }',
      'fix',
      join(box.dir, 'x'),
    ]);
  };
  try {
    const real = join(box.dir, 'x', 'a', 't');
    const evil = join(box.dir, 'evil', 't'); // stands for /etc: what the symlink points at
    const data = join(box.dir, 'data');
    await Promise.all([real, evil, data].map((d) => mkdir(d, { recursive: true })));
    const config = await writeTestConfig(box.dir, {
      hostPaths: { allow: [], deny: [...DEFAULT_DENY, join(box.dir, 'evil')] },
    });
    daemon = await startRuntimeDaemon('b', { config, dir: box.dir });
    await runDetached(daemon, [
      '--name',
      'fl',
      '--runtime',
      'extmount',
      '-v',
      `${data}:/data`,
      TEST_IMAGE,
      'sh',
      '-c',
      counterLoop('/data/counter'),
    ]);
    await waitFor('the counter', async () => (await readCount(join(data, 'counter'))).n > 3);
    const { dev, ino } = await stat(real);
    const cli = (args: string[]) => runCli(['--config', config, '--host', daemon!.host, ...args]);
    const pidOf = async () => (await daemon!.docker.getContainer('fl').inspect()).State.Pid;

    const outcomes = new Map<number, number>();
    const reasons = new Set<string>();
    for (let i = 0; anotherFlipRound(i, ROUNDS, (outcomes.get(0) ?? 0) > 0); i++) {
      const dump = await cli(['checkpoint', 'fl', '--name', `c${i}`]);
      assert.equal(dump.exitCode, 0, dump.stderr);
      const atDump = await readCount(join(real, 'counter')).catch(() => readCount(join(data, 'counter')));
      flipper = spawn(
        'sh',
        [
          '-c',
          'cd "$1" && while :; do mv a a.real; ln -s ../evil a; sleep 0.005; rm a; mv a.real a; sleep 0.1; done',
          'flip',
          join(box.dir, 'x'),
        ],
        { stdio: 'ignore', detached: true },
      );
      const r = await cli(['--json', 'restore', 'fl', '--name', `c${i}`, '--map', `data=${real}`]);
      await stopFlipper();
      outcomes.set(r.exitCode, (outcomes.get(r.exitCode) ?? 0) + 1);
      if (r.exitCode === 0) {
        const seen = await stat(`/proc/${await pidOf()}/root/data`);
        assert.deepEqual([seen.dev, seen.ino], [dev, ino], `restore ${i} bound something else than ${real} at /data`);
      } else {
        assert.ok(r.exitCode === 1 || r.exitCode === 2, `restore ${i}: exit ${r.exitCode}: ${r.stderr}`);
        assert.match(r.stderr.split('\n')[0]!, /^extmount: /);
        assert.equal(
          (await daemon.docker.getContainer('fl').inspect()).State.Running,
          false,
          `a refused restore ${i} left the container running`,
        );
        reasons.add(r.stderr.split('\n')[0]!.replaceAll(box.dir, 'DIR'));
        // Without the flips, the same checkpoint restores: nothing was lost.
        const again = await cli(['restore', 'fl', '--name', `c${i}`, '--map', `data=${real}`]);
        assert.equal(again.exitCode, 0, again.stderr);
      }
      await waitFor(`the same process after restore ${i}`, async () =>
        continued(await readCount(join(real, 'counter')), atDump),
      );
    }
    t.diagnostic(
      `exit codes of ${[...outcomes.values()].reduce((a, b) => a + b, 0)} restores during the flips: ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    for (const reason of reasons) t.diagnostic(`refused: ${reason}`);
    assert.ok((outcomes.get(0) ?? 0) > 0, 'no restore got through: the test proves nothing');
    assert.deepEqual(await readdir(evil), [], 'the container wrote into the symlink target');
    const state = join(box.dir, 'state');
    assert.deepEqual(
      hostMounts()
        .filter((m) => m.mountpoint.startsWith(`${state}/`))
        .map((m) => m.mountpoint),
      [],
      'a holder mount was left behind',
    );
  } finally {
    await stopFlipper().catch(() => undefined);
    await daemon?.stop();
    await box.cleanup();
  }
});
