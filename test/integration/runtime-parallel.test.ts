// Ten containers checkpointed at once through the extmount runtime, each with its own propagated submount,
// restore each with its own mapping: per-container CRIU config files, no cross-talk.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { parseManifest } from '../../src/core/checkpoint/manifest-read.js';
import { runCli } from '../helpers/cli.js';
import { TEST_IMAGE, runDetached } from '../helpers/dockerd.js';
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

const COUNT = 10;

test(`${COUNT} containers checkpointed in parallel restore with their own mounts`, async (t) => {
  if (!(await requireE2E(t, ['root', 'dockerd', 'criu']))) return;
  const { box, config, daemon, close } = await runtimeBed('extmount-rt-par-', 'n');
  try {
    // One shared host folder; container i binds its own subfolder rslave and later gets disk i below it.
    const shared = join(box.dir, 'shared');
    await mkdir(shared);
    await execa('mount', ['--bind', shared, shared]);
    await execa('mount', ['--make-shared', shared]);
    const all = [...Array(COUNT).keys()];
    const name = (i: number) => `par${i}`;
    const propOf = (i: number) => join(shared, name(i));
    await Promise.all(
      all.map(async (i) => {
        await mkdir(join(propOf(i), 'sub'), { recursive: true });
        for (const kind of ['disk', 'alt']) {
          await mkdir(join(box.dir, `${kind}${i}`));
          await writeFile(join(box.dir, `${kind}${i}`, 'id.txt'), `${kind} ${i}\n`);
        }
        await runDetached(daemon, [
          '--name',
          name(i),
          '--runtime',
          'extmount',
          '-v',
          `${propOf(i)}:/prop:rslave`,
          TEST_IMAGE,
          'sh',
          '-c',
          counterLoop('/prop/counter'),
        ]);
        await execa('mount', ['--bind', join(box.dir, `disk${i}`), join(propOf(i), 'sub')]);
      }),
    );
    const counter = (i: number) => readCount(join(propOf(i), 'counter'));
    await waitFor('every counter to pass 5', async () => (await Promise.all(all.map(counter))).every((c) => c.n > 5));
    const before = hostMounts();

    const started = Date.now();
    const dumps = await Promise.all(
      all.map((i) => daemon.cli(['checkpoint', 'create', name(i), 'cp'], { reject: false })),
    );
    t.diagnostic(`${COUNT} parallel checkpoints: ${Date.now() - started} ms`);
    dumps.forEach((d, i) => assert.equal(d.exitCode, 0, `${name(i)}: ${d.stderr}`));
    const atDump = await Promise.all(all.map(counter));
    for (const i of all) {
      const id = (await daemon.cli(['inspect', '-f', '{{.Id}}', name(i)])).stdout.trim();
      const manifest = parseManifest(
        await readFile(join(daemon.dataRoot, 'containers', id, 'checkpoints', 'cp', 'extmount.yaml'), 'utf8'),
        name(i),
      );
      assert.equal(
        manifest.mounts.find((m) => m.key === 'prop-sub')?.hostPath,
        join(box.dir, `disk${i}`),
        `${name(i)} recorded another container's mount`,
      );
    }

    // Even ones: plain docker start --checkpoint (the recorded mount); odd ones: extmount restore --map to their alt folder.
    const restoreStarted = Date.now();
    const restores = await Promise.all(
      all.map(async (i) => {
        if (i % 2 === 0) {
          return waitFor(
            `docker start --checkpoint ${name(i)}`,
            async () => {
              const r = await daemon.cli(['start', '--checkpoint', 'cp', name(i)], { reject: false });
              return r.exitCode === 0 ? r : /already exists/.test(r.stderr) ? undefined : r;
            },
            10_000,
            500,
          );
        }
        const r = await runCli([
          '--config',
          config,
          '--host',
          daemon.host,
          '--json',
          'restore',
          name(i),
          '--map',
          `prop-sub=${join(box.dir, `alt${i}`)}`,
        ]);
        return { exitCode: r.exitCode, stderr: r.stderr, stdout: r.stdout };
      }),
    );
    t.diagnostic(`${COUNT} parallel restores: ${Date.now() - restoreStarted} ms`);
    restores.forEach((r, i) => assert.equal(r.exitCode, 0, `${name(i)}: ${r.stderr}`));

    for (const i of all) {
      const expected = i % 2 === 0 ? `disk ${i}` : `alt ${i}`;
      assert.equal(
        (await daemon.cli(['exec', name(i), 'cat', '/prop/sub/id.txt'])).stdout,
        expected,
        `${name(i)} shows another mount`,
      );
      await waitFor(`${name(i)}'s process to go on counting`, async () => continued(await counter(i), atDump[i]!));
      const sub =
        (await daemon.cli(['exec', name(i), 'cat', '/proc/1/mountinfo'])).stdout
          .split('\n')
          .find((l) => l.split(' ')[4] === '/prop/sub') ?? '';
      // Even: a slave of the host's submount again. Odd: mapped to a plain folder, private.
      if (i % 2 === 0) assert.match(sub, / master:\d+ /, `${name(i)}: ${sub}`);
      else assert.doesNotMatch(sub, / (master|shared):\d+ /, `${name(i)}: ${sub}`);
      if (i % 2 === 1) {
        // A plain folder has no peer group to follow: restored private, and extmount says so.
        const report = JSON.parse(restores[i]!.stdout) as { notes: string[] };
        assert.match(report.notes.join('\n'), /restored private/);
      }
    }
    assert.deepEqual(
      lostMounts(before, hostMounts(), { ignoreUnder: [daemon.dir], mine: box.dir }),
      [],
      'host mounts were lost',
    );
  } finally {
    await close();
  }
});
