// Failure leaves nothing worse than before: a failed checkpoint leaves the container running with a
// message that says why; a restore refused by preflight exits 2 and touches nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { TEST_IMAGE, runDetached } from '../helpers/dockerd.js';
import { counterLoop, hostMounts, lostMounts, readCount, requireE2E, runtimeBed, waitFor } from '../helpers/e2e.js';

const TCP_LOOP =
  'sleep 100000 | nc -l -p 1234 >/dev/null & usleep 300000; sleep 100000 | nc 127.0.0.1 1234 >/dev/null & ' +
  'i=0; while :; do i=$((i+1)); echo $i > /data/counter; usleep 100000; done';

test('failures through the extmount runtime leave containers and host as they were', async (t) => {
  if (!(await requireE2E(t, ['root', 'dockerd', 'criu']))) return;
  const { box, config, daemon, close } = await runtimeBed('extmount-rt-fail-', 'f');
  try {
    const cli = (args: string[]) => runCli(['--config', config, '--host', daemon.host, ...args]);
    const id = async (name: string) => (await daemon.cli(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
    const status = async (name: string) =>
      (await daemon.cli(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', name])).stdout.trim();

    await t.test(
      'a checkpoint CRIU refuses (established TCP) fails with the CRIU reason and leaves the container running',
      async () => {
        const data = join(box.dir, 'tcp');
        await mkdir(data);
        await runDetached(daemon, [
          '--name',
          'tcp1',
          '--runtime',
          'extmount',
          '-v',
          `${data}:/data`,
          TEST_IMAGE,
          'sh',
          '-c',
          TCP_LOOP,
        ]);
        const counter = async () => Number((await readFile(join(data, 'counter'), 'utf8')).trim());
        await waitFor('the counter to pass 5', async () => (await counter()) > 5);
        const dump = await daemon.cli(['checkpoint', 'create', 'tcp1', 'bad'], { reject: false });
        assert.notEqual(dump.exitCode, 0);
        // Instead of "criu failed: type NOTIFY errno 0": the Error line of CRIU's log and where the log is kept.
        assert.match(
          dump.stderr,
          /exit status 1: extmount: checkpoint failed: inet: Connected TCP socket, consider using --tcp-established option\.; full log: \S+criu-dump-\S+\.log/,
        );
        assert.equal(await status('tcp1'), 'running false');
        const n = await counter();
        await waitFor('the counter to go on after the failed checkpoint', async () => (await counter()) > n);
        const logs = await readdir(join(box.dir, 'state', await id('tcp1'), 'logs'));
        assert.equal(logs.filter((l) => l.startsWith('criu-dump-')).length, 1);
        // Through the CLI: exit 1, the same reason on the first line.
        const viaCli = await cli(['checkpoint', 'tcp1', '--name', 'bad2']);
        assertOneLineError(
          viaCli,
          1,
          /^extmount: checkpoint bad2 of tcp1 failed: inet: Connected TCP socket, consider using --tcp-established option\.; full log: /,
        );
        assert.equal(await status('tcp1'), 'running false');
      },
    );

    // Shared by the next tests: a container with a propagated mount, checkpointed through the runtime.
    const prop = join(box.dir, 'prop');
    const disk2 = join(box.dir, 'disk2');
    await mkdir(join(prop, 'sub'), { recursive: true });
    await mkdir(disk2);
    await writeFile(join(disk2, 'hello.txt'), 'from disk2\n');
    await execa('mount', ['--bind', prop, prop]);
    await execa('mount', ['--make-shared', prop]);

    await t.test(
      'extmount checkpoint refuses a container that needs the extmount runtime and runs under runc',
      async () => {
        await runDetached(daemon, ['--name', 'plain1', '-v', `${prop}:/prop:rslave`, TEST_IMAGE, 'sleep', '100000']);
        const other = join(box.dir, 'other');
        await mkdir(other);
        await mkdir(join(prop, 'plainsub'));
        await execa('mount', ['--bind', other, join(prop, 'plainsub')]);
        try {
          assertOneLineError(
            await cli(['checkpoint', 'plain1']),
            2,
            /container plain1 has mounts runc cannot checkpoint by itself: \/prop\/plainsub \(propagated.*runs under runtime "runc"; recreate it with --runtime extmount/,
          );
          assert.equal(await status('plain1'), 'running false');
          assert.equal(
            (await daemon.cli(['checkpoint', 'ls', 'plain1'])).stdout.trim().split('\n').length,
            1,
            'a checkpoint was created',
          );
        } finally {
          await execa('umount', [join(prop, 'plainsub')], { reject: false });
        }
      },
    );

    await t.test('a restore refused by preflight exits 2 and changes nothing', async () => {
      await runDetached(daemon, [
        '--name',
        'pf1',
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
      await waitFor('the counter', async () => (await readCount(join(prop, 'counter'))).n > 3);
      const dump = await cli(['checkpoint', 'pf1', '--name', 'cp1']);
      assert.equal(dump.exitCode, 0, dump.stderr);
      const images = join(daemon.dataRoot, 'containers', await id('pf1'), 'checkpoints', 'cp1');
      const fingerprint = await digestDir(images);
      const mountsBefore = hostMounts();

      assertOneLineError(
        await cli(['restore', 'pf1', '--map', `prop-sub=${join(box.dir, 'missing')}`]),
        2,
        /\/prop\/sub \(key prop-sub\) → \S+\/missing: no such file or directory on this host/,
      );
      assertOneLineError(
        await cli(['restore', 'pf1', '--map', 'prop-sub=/etc']),
        2,
        /the path is under the denied host path \/etc/,
      );
      assertOneLineError(
        await cli(['restore', 'pf1', '--map', `prop-sub=${join(disk2, 'hello.txt')}`]),
        2,
        /a directory was recorded, this is a file/,
      );
      assertOneLineError(
        await cli(['restore', 'pf1', '--map', `nokey=${disk2}`]),
        2,
        /the images have no external mount with key nokey/,
      );

      assert.equal(await status('pf1'), 'exited false');
      assert.equal(await digestDir(images), fingerprint, 'the checkpoint images changed');
      assert.deepEqual(lostMounts(mountsBefore, hostMounts(), { ignoreUnder: [daemon.dir], mine: box.dir }), []);
      assert.ok(!(await readdir(images)).includes('extmount.maps.json'), 'a maps file was left behind');

      // The wrapper refuses on its own too (here: maps pointing nowhere, beside the images), before runc runs.
      await writeFile(
        join(images, 'extmount.maps.json'),
        JSON.stringify({ maps: { 'prop-sub': join(box.dir, 'missing') } }),
      );
      const start = await daemon.cli(['start', '--checkpoint', 'cp1', 'pf1'], { reject: false });
      assert.notEqual(start.exitCode, 0);
      assert.match(
        start.stderr,
        /extmount: \/prop\/sub \(key prop-sub\) → \S+\/missing: no such file or directory on this host/,
      );
      assert.equal(await status('pf1'), 'exited false');
      await rm(join(images, 'extmount.maps.json'));
      assert.equal(await digestDir(images), fingerprint, 'the checkpoint images changed');
      assert.deepEqual(lostMounts(mountsBefore, hostMounts(), { ignoreUnder: [daemon.dir], mine: box.dir }), []);

      // Nothing was damaged: the same checkpoint restores. Even with the manifest's host path for
      // /prop/sub edited to /root: a propagated mount comes back only from the mount this host shows
      // under the container's own bind (prop/sub), never from a recorded path.
      const manifestFile = join(images, 'extmount.yaml');
      const manifest = await readFile(manifestFile, 'utf8');
      assert.ok(manifest.includes(`hostPath: ${disk2}\n`), manifest);
      await writeFile(manifestFile, manifest.replace(`hostPath: ${disk2}\n`, 'hostPath: /root\n'));
      const restore = await cli(['--json', 'restore', 'pf1', '--name', 'cp1']);
      assert.equal(restore.exitCode, 0, restore.stderr);
      assert.equal((await daemon.cli(['exec', 'pf1', 'cat', '/prop/sub/hello.txt'])).stdout, 'from disk2');
      const sub = (JSON.parse(restore.stdout) as { mounts: Array<{ mountpoint: string; path: string }> }).mounts.find(
        (m) => m.mountpoint === '/prop/sub',
      );
      assert.equal(sub?.path, join(prop, 'sub'));
    });
  } finally {
    await close();
  }
});

/** A digest of every file name and content below a folder. */
async function digestDir(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    hash.update(name);
    hash.update(await readFile(join(dir, name)).catch(() => Buffer.from('<dir>')));
  }
  return hash.digest('hex');
}
