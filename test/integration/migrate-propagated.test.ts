// Issue 4 with issue 3's runtime: a container under the extmount runtime, with a host mount that
// propagated into it after start, migrates from host a to host b; both engines run the runtime.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { TEST_IMAGE, type Daemon, runDetached } from '../helpers/dockerd.js';
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

test('a container with a propagated mount migrates through the extmount runtime on both hosts', async (t) => {
  if (!(await requireE2E(t, ['root', 'dockerd', 'criu']))) return;
  const box = await hostSandbox('extmount-mig-prop-');
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  try {
    const config = await writeTestConfig(box.dir);
    a = await startRuntimeDaemon('a', { config, dir: box.dir });
    b = await startRuntimeDaemon('b', { config, dir: box.dir });
    // Host a's /srv/a/prop and host b's /srv/b/prop: shared folders with disk2 mounted below each.
    const propA = join(box.dir, 'srv/a/prop');
    const propB = join(box.dir, 'srv/b/prop');
    const disk2 = join(box.dir, 'disk2');
    for (const dir of [join(propA, 'sub'), join(propB, 'sub'), disk2]) await mkdir(dir, { recursive: true });
    await writeFile(join(disk2, 'hello.txt'), 'from disk2\n');
    for (const prop of [propA, propB]) {
      await execa('mount', ['--bind', prop, prop]);
      await execa('mount', ['--make-shared', prop]);
    }
    await runDetached(a, [
      '--name',
      'pm',
      '--runtime',
      'extmount',
      '-v',
      `${propA}:/prop:rslave`,
      TEST_IMAGE,
      'sh',
      '-c',
      counterLoop('/prop/counter'),
    ]);
    await execa('mount', ['--bind', disk2, join(propA, 'sub')]);
    await execa('mount', ['--bind', disk2, join(propB, 'sub')]);
    assert.equal((await a.cli(['exec', 'pm', 'cat', '/prop/sub/hello.txt'])).stdout, 'from disk2');
    await waitFor('the counter', async () => (await readCount(join(propA, 'counter'))).n > 5);
    const mountsBefore = hostMounts();
    const before = await readCount(join(propA, 'counter'));

    const r = await runCli([
      '--config',
      config,
      'migrate',
      'pm',
      '--from',
      a.host,
      '--to',
      b.host,
      '--map',
      `${propA}=${propB}`,
      '--copy-binds',
      '--json',
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).mounts.map((m: { destination: string; target: string }) => [m.destination, m.target]),
      [['/prop', propB]],
    );
    await waitFor("the counter to go on in host b's folder", async () =>
      continued(await readCount(join(propB, 'counter')), before),
    );
    assert.equal((await b.cli(['exec', 'pm', 'cat', '/prop/sub/hello.txt'])).stdout, 'from disk2');
    const inside = (await b.cli(['exec', 'pm', 'cat', '/proc/1/mountinfo'])).stdout
      .split('\n')
      .find((l) => l.split(' ')[4] === '/prop/sub');
    assert.match(inside ?? '', / master:\d+ /, `/prop/sub is not a slave on b: ${inside}`);
    assert.equal((await a.cli(['ps', '-aq'])).stdout.trim(), '', 'the source container is still on a');
    assert.deepEqual(
      lostMounts(mountsBefore, hostMounts(), { ignoreUnder: [a.dir, b.dir], mine: box.dir }),
      [],
      'a host mount was lost',
    );

    // The way back, to a bind path host a lacks, is refused before anything stops.
    await execa('umount', [join(propA, 'sub')]);
    assertOneLineError(
      await runCli([
        '--config',
        config,
        'migrate',
        'pm',
        '--from',
        b.host,
        '--to',
        a.host,
        '--map',
        `${propB}=/nonexistent/prop`,
      ]),
      2,
      /does not exist/,
    );
    assert.equal((await b.docker.getContainer('pm').inspect()).State.Running, true);
  } finally {
    await a?.stop();
    await b?.stop();
    await box.cleanup();
  }
});
