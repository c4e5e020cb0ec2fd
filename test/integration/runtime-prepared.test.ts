// A checkpoint prepared on `pause` under dockerd (issue 26): containerd pauses the task, then asks for the
// checkpoint; the wrapper analysed the container on the pause and, when nothing changed, runs runc straight
// from the sh. A change between the pause and the checkpoint (the extmount config, a mount over the bind's
// source on the host) sends the call to the full handler, and the checkpoint is still right. A restore
// after a fast-path checkpoint brings the process back with its bind.
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { TEST_IMAGE, type Daemon, runDetached } from '../helpers/dockerd.js';
import {
  WRAPPER,
  continued,
  counterLoop,
  hostSandbox,
  readCount,
  requireE2E,
  startRuntimeDaemon,
  waitFor,
  writeTestConfig,
} from '../helpers/e2e.js';

/** Two busybox nc ends talking over loopback (CRIU refuses established TCP without --tcp-established), and a counter. */
const TCP_LOOP =
  'sleep 100000 | nc -l -p 1234 >/dev/null & usleep 300000; sleep 100000 | nc 127.0.0.1 1234 >/dev/null & ' +
  'i=0; while :; do i=$((i+1)); echo "x $i" > /data/counter; usleep 100000; done';

/**
 * A runtime in front of the wrapper that, on `pause`, runs the wrapper's pause and then, when `trigger`
 * names a change, makes it: the window between the pause and the checkpoint, from the host's side.
 */
function pauseHook(trigger: string, config: string, source: string, other: string): string {
  return `#!/bin/sh
verb= skip=
for a do
  if [ -n "$skip" ]; then skip=; continue; fi
  case $a in --root|--log|--log-format|--criu) skip=1 ;; -*) ;; *) verb=$a; break ;; esac
done
[ "$verb" = pause ] || exec '${WRAPPER}' "$@"
'${WRAPPER}' "$@" || exit $?
change=
[ -f '${trigger}' ] && read -r change < '${trigger}'
case $change in
  config) printf ' ' >> '${config}' ;;
  mount) mount --bind '${other}' '${source}' ;;
esac
exit 0
`;
}

test('a checkpoint prepared on pause: taken under dockerd, dropped on a change, restored with its bind', async (t) => {
  if (!(await requireE2E(t, ['root', 'dockerd', 'criu']))) return;
  const box = await hostSandbox('extmount-rt-prepared-');
  let daemon: Daemon | undefined;
  const data = join(box.dir, 'data');
  const other = join(box.dir, 'other');
  try {
    const config = await writeTestConfig(box.dir);
    const trigger = join(box.dir, 'trigger');
    const hook = join(box.dir, 'pause-hook');
    await mkdir(data);
    await mkdir(other);
    await writeFile(hook, pauseHook(trigger, config, data, other));
    await chmod(hook, 0o755);
    daemon = await startRuntimeDaemon('p', { config, dir: box.dir, runtimes: { 'extmount-hooked': hook } });
    const id = await runDetached(daemon, [
      '--name',
      'pc1',
      '--runtime',
      'extmount-hooked',
      '-v',
      `${data}:/data`,
      TEST_IMAGE,
      'sh',
      '-c',
      counterLoop('/data/counter'),
    ]);
    const state = join(box.dir, 'state', id);
    const read = () => readCount(join(data, 'counter'));
    const result = async () =>
      JSON.parse(await readFile(join(state, 'last-checkpoint.json'), 'utf8')) as { ok: boolean; preparedAt?: string };
    const handlerRuns = async () =>
      (await readFile(join(state, 'runtime.log'), 'utf8').catch(() => ''))
        .split('\n')
        .filter((l) => /runc called/.test(l)).length;
    const manifest = (name: string) =>
      readFile(join(daemon!.dataRoot, 'containers', id, 'checkpoints', name, 'extmount.yaml'), 'utf8');
    await waitFor('the counter to pass 5', async () => (await read()).n > 5);

    await t.test('(a) nothing changed: runc runs from the sh with the analysis made on pause', async () => {
      const before = await handlerRuns();
      const dump = await daemon!.cli(['checkpoint', 'create', '--leave-running', 'pc1', 'fast1'], { reject: false });
      assert.equal(dump.exitCode, 0, dump.stderr);
      const r = await result();
      assert.ok(r.ok && r.preparedAt, JSON.stringify(r));
      assert.equal(await handlerRuns(), before, 'the full handler did not run');
      assert.match(await manifest('fast1'), /mountpoint: \/data/);
      assert.match(await readFile(join(state, 'runtime.log'), 'utf8'), /pause: checkpoint prepared in \d+ ms/);
    });

    for (const change of ['config', 'mount'] as const) {
      await t.test(
        `(b) ${change === 'config' ? 'the extmount config edited' : "a mount over the bind's source on the host"} between pause and checkpoint: the full handler`,
        async () => {
          const before = await handlerRuns();
          await writeFile(trigger, `${change}\n`);
          try {
            const dump = await daemon!.cli(['checkpoint', 'create', '--leave-running', 'pc1', `changed-${change}`], {
              reject: false,
            });
            assert.equal(dump.exitCode, 0, dump.stderr);
          } finally {
            await rm(trigger, { force: true });
            if (change === 'mount') await execa('umount', [data], { reject: false });
          }
          const r = await result();
          assert.ok(r.ok && r.preparedAt === undefined, JSON.stringify(r));
          assert.equal(await handlerRuns(), before + 1, 'the full handler ran once');
          assert.match(await manifest(`changed-${change}`), /mountpoint: \/data/);
        },
      );
    }

    await t.test('(c) a fast-path checkpoint (the container stopped) restores with its bind', async () => {
      const before = await handlerRuns();
      const atLeast = await read();
      const dump = await daemon!.cli(['checkpoint', 'create', 'pc1', 'fast2'], { reject: false });
      assert.equal(dump.exitCode, 0, dump.stderr);
      assert.ok((await result()).preparedAt, 'prepared on pause');
      assert.equal(await handlerRuns(), before, 'the full handler did not run');
      const atDump = await read();
      assert.ok(atDump.n >= atLeast.n);
      await waitFor(
        'docker start --checkpoint',
        async () =>
          (await daemon!.cli(['start', '--checkpoint', 'fast2', 'pc1'], { reject: false })).exitCode === 0 || undefined,
        10_000,
        500,
      );
      await waitFor('the counter to go on in the same process, in the bind', async () =>
        continued(await read(), atDump),
      );
    });

    await t.test("(d) runc failing on the fast path: extmount's explanation and runc's status", async () => {
      const tcpData = join(box.dir, 'tcp');
      await mkdir(tcpData);
      const tcpId = await runDetached(daemon!, [
        '--name',
        'tcp1',
        '--runtime',
        'extmount',
        '-v',
        `${tcpData}:/data`,
        TEST_IMAGE,
        'sh',
        '-c',
        TCP_LOOP,
      ]);
      await waitFor('the counter to pass 5', async () => (await readCount(join(tcpData, 'counter'))).n > 5);
      const dump = await daemon!.cli(['checkpoint', 'create', 'tcp1', 'bad'], { reject: false });
      assert.notEqual(dump.exitCode, 0);
      assert.match(
        dump.stderr,
        /exit status 1: extmount: checkpoint failed: inet: Connected TCP socket, consider using --tcp-established option\.; full log: \S+criu-dump-\S+\.log/,
      );
      const r = JSON.parse(await readFile(join(box.dir, 'state', tcpId, 'last-checkpoint.json'), 'utf8')) as {
        ok: boolean;
        preparedAt?: string;
        criuLog?: string;
      };
      assert.ok(!r.ok && r.preparedAt && r.criuLog, JSON.stringify(r));
      assert.match(
        await readFile(join(box.dir, 'state', tcpId, 'runtime.log'), 'utf8'),
        /prepared on pause; runc exited with 1/,
      );
      assert.equal(
        (await daemon!.cli(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'tcp1'])).stdout.trim(),
        'running false',
      );
    });
  } finally {
    await execa('umount', [data], { reject: false });
    await daemon?.cli(['rm', '-f', 'pc1', 'tcp1'], { reject: false });
    await daemon?.stop();
    await box.cleanup();
  }
});
