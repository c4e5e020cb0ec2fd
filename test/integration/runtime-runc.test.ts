// hooks/extmount-runc driven as a shell (or runc's own bats tests) drives runc, beside plain runc on the
// same bundles: runc's defaults, fds, exit codes, stderr and signals must come through as runc's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { parse as parseYaml } from 'yaml';
import {
  continued,
  counterLoop,
  hostSandbox,
  readCount,
  requireE2E,
  waitFor,
  WRAPPER,
  writeTestConfig,
} from '../helpers/e2e.js';
import { makeBundle, runtime } from '../helpers/runc-bundle.js';

test('the wrapper answers as runc does, driven directly', async (t) => {
  if (!(await requireE2E(t, ['root', 'criu']))) return;
  const box = await hostSandbox('extmount-runc-');
  const config = await writeTestConfig(box.dir);
  const runc = runtime('runc');
  const wrapper = runtime('wrapper', { EXTMOUNT_CONFIG: config });
  const roots = [join(box.dir, 'root-a'), join(box.dir, 'root-b')];
  const started: Array<[string, string]> = [];
  const run = async (root: string, bundle: string, id: string) => {
    // The container keeps runc's stdio: a pipe would never close, and CRIU cannot dump a file outside
    // the container. /dev/null it is, and runc's errors go to --log.
    const log = join(box.dir, `run-${id}.log`);
    const r = await runc(['--root', root, '--log', log, 'run', '-d', id], {
      cwd: bundle,
      stdout: 'ignore',
      stderr: 'ignore',
    });
    assert.equal(r.exitCode, 0, await readFile(log, 'utf8').catch(() => ''));
    started.push([root, id]);
  };
  try {
    await t.test(
      "checkpoint and restore without --image-path: runc's $PWD/checkpoint, and --work-path relative to $PWD",
      async () => {
        const b = await makeBundle(join(box.dir, 'b1'), ['sh', '-c', counterLoop('/tmp/counter')]);
        await run(roots[0]!, b.dir, 'c1');
        const counter = () => readCount(join(b.rootfs, 'tmp', 'counter'));
        await waitFor('the counter', async () => (await counter()).n > 3);
        const dump = await wrapper(['--root', roots[0]!, 'checkpoint', '--work-path', './work-dir', 'c1'], {
          cwd: b.dir,
        });
        assert.equal(dump.exitCode, 0, String(dump.stderr));
        assert.equal(dump.stderr, '');
        const images = await readdir(join(b.dir, 'checkpoint'));
        assert.ok(images.includes('inventory.img') && images.includes('extmount.yaml'), images.join(' '));
        assert.ok((await readdir(join(b.dir, 'work-dir'))).includes('dump.log'));
        const atDump = await counter();
        const restore = await wrapper(['--root', roots[0]!, 'restore', '-d', '--work-path', './work-dir', 'c1'], {
          cwd: b.dir,
          stdout: 'ignore',
        });
        assert.equal(restore.exitCode, 0, String(restore.stderr));
        await waitFor('the same process to count on', async () => continued(await counter(), atDump));
      },
    );

    await t.test(
      'a bind whose destination is a symlink in the rootfs is mapped by runc alone, and restores',
      async () => {
        // runc's checkpoint.bats "checkpoint and restore (bind mount, destination is symlink)".
        const b = await makeBundle(join(box.dir, 'b2'), ['sh', '-c', counterLoop('/tmp/counter')]);
        await mkdir(join(b.rootfs, 'real', 'conf'), { recursive: true });
        await symlink('/real/conf', join(b.rootfs, 'conf'));
        await b.update((c) => c.mounts.push({ source: '.', destination: '/conf', options: ['bind'] }));
        await run(roots[0]!, b.dir, 'c2');
        const counter = () => readCount(join(b.rootfs, 'tmp', 'counter'));
        await waitFor('the counter', async () => (await counter()).n > 3);
        const dump = await wrapper(['--root', roots[0]!, 'checkpoint', '--image-path', 'img', 'c2'], { cwd: b.dir });
        assert.equal(dump.exitCode, 0, String(dump.stderr));
        const manifest = parseYaml(await readFile(join(b.dir, 'img', 'extmount.yaml'), 'utf8')) as {
          mounts: Array<{ mountpoint: string; kind: string }>;
        };
        assert.deepEqual(
          manifest.mounts.filter((m) => m.mountpoint.includes('conf')).map((m) => [m.mountpoint, m.kind]),
          [['/real/conf', 'bind']],
        );
        assert.ok(!manifest.mounts.some((m) => m.kind === 'propagated'), 'extmount mapped a mount runc maps');
        const atDump = await counter();
        const restore = await wrapper(['--root', roots[0]!, 'restore', '-d', '--image-path', 'img', 'c2'], {
          cwd: b.dir,
          stdout: 'ignore',
        });
        assert.equal(restore.exitCode, 0, String(restore.stderr));
        await waitFor('the same process to count on', async () => continued(await counter(), atDump));
      },
    );

    await t.test("what runc refuses on its own comes back byte for byte, with runc's exit code", async () => {
      const b = await makeBundle(join(box.dir, 'b3'), ['sleep', '100000']);
      await run(roots[0]!, b.dir, 'c3');
      const ro = await open('/dev/null', 'r');
      try {
        for (const args of [
          ['checkpoint', 'nosuch'],
          ['restore', '--image-path', join(box.dir, 'none'), '--bundle', join(box.dir, 'nobundle'), 'c9'],
          ['checkpoint', '--pre-dump', '--parent-path', '../parent-dir-bad', '--image-path', join(box.dir, 'pd'), 'c3'],
          ['checkpoint', '--lazy-pages', '--status-fd', '22', '--image-path', join(box.dir, 'lz'), 'c3'],
          ['checkpoint', '--lazy-pages', '--status-fd', '23', '--image-path', join(box.dir, 'lz'), 'c3'],
          ['checkpoint', 'a', 'b'],
          ['restore', '--lsm-mount-context'],
        ]) {
          // fd 22: read-only, so runc says "not writable" when it got it and "bad file descriptor" when not.
          const stdio = ['ignore', 'pipe', 'pipe', ...Array(19).fill('ignore'), ro.fd] as const;
          const call = (file: string, env: Record<string, string>) =>
            new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
              const child = spawn(file, ['--root', roots[0]!, ...args], {
                cwd: b.dir,
                stdio: [...stdio],
                env: { ...process.env, ...env },
              });
              let out = '';
              let err = '';
              child.stdout!.on('data', (d) => (out += String(d)));
              child.stderr!.on('data', (d) => (err += String(d)));
              child.on('close', (code) => resolve({ code, out, err }));
            });
          const plain = await call('runc', {});
          const wrapped = await call(WRAPPER, { EXTMOUNT_CONFIG: config, EXTMOUNT_RUNC: 'runc' });
          assert.notEqual(plain.code, 0, args.join(' '));
          assert.equal(wrapped.code, plain.code, args.join(' '));
          // runc's logrus lines carry a time: compare them without it.
          const untimed = (s: string) => s.replace(/time="[^"]*"/g, 'time=T');
          assert.equal(untimed(wrapped.err), untimed(plain.err), args.join(' '));
          assert.equal(wrapped.out, plain.out, args.join(' '));
        }
      } finally {
        await ro.close();
      }
      assert.equal((await runc(['--root', roots[0]!, 'state', 'c3'])).exitCode, 0, 'the container is gone');
    });

    await t.test("checkpoint --help and restore -h are runc's help, exit 0", async () => {
      for (const args of [
        ['checkpoint', '--help'],
        ['restore', '-h'],
        ['checkpoint', 'c1', '--help'],
      ]) {
        const plain = await runc(args);
        const wrapped = await wrapper(args, { env: { EXTMOUNT_NODE: '/nonexistent/node' } });
        assert.equal(plain.exitCode, 0);
        assert.equal(wrapped.exitCode, 0, String(wrapped.stderr));
        assert.equal(wrapped.stdout, plain.stdout);
      }
    });

    await t.test(
      "a foreground restore: signals reach the container through runc, and its exit status is the wrapper's",
      async () => {
        const loop = `trap 'echo usr1 >> /tmp/signals' USR1; trap 'echo term >> /tmp/signals; exit 7' TERM; ${counterLoop('/tmp/counter')}`;
        const b = await makeBundle(join(box.dir, 'b4'), ['sh', '-c', loop]);
        await run(roots[0]!, b.dir, 'c4');
        const counter = () => readCount(join(b.rootfs, 'tmp', 'counter'));
        await waitFor('the counter', async () => (await counter()).n > 3);
        assert.equal((await wrapper(['--root', roots[0]!, 'checkpoint', 'c4'], { cwd: b.dir })).exitCode, 0);
        const atDump = await counter();
        const restore = execa(WRAPPER, ['--root', roots[0]!, 'restore', 'c4'], {
          cwd: b.dir,
          reject: false,
          stdin: 'ignore',
          stdout: 'ignore',
          env: { ...process.env, EXTMOUNT_CONFIG: config, EXTMOUNT_RUNC: 'runc' },
        });
        await waitFor('the same process to count on', async () => continued(await counter(), atDump));
        const signals = () => readFile(join(b.rootfs, 'tmp', 'signals'), 'utf8').catch(() => '');
        restore.kill('SIGUSR1');
        await waitFor('SIGUSR1 in the container', async () => (await signals()) === 'usr1\n');
        restore.kill('SIGTERM');
        const done = await restore;
        assert.equal(await signals(), 'usr1\nterm\n');
        assert.doesNotMatch(String(done.stderr), /Debugger listening/);
        assert.equal(done.exitCode, 7, String(done.stderr));
      },
    );

    await t.test(
      'two runc roots with the same container ID checkpoint at once without sharing a state folder',
      async () => {
        const bundles = await Promise.all(
          roots.map((_, i) => makeBundle(join(box.dir, `same-${i}`), ['sh', '-c', counterLoop('/tmp/counter')])),
        );
        for (const [i, root] of roots.entries()) await run(root, bundles[i]!.dir, 'same');
        for (const b of bundles)
          await waitFor('the counter', async () => (await readCount(join(b.rootfs, 'tmp', 'counter'))).n > 3);
        const dumps = await Promise.all(
          roots.map((root, i) => wrapper(['--root', root, 'checkpoint', 'same'], { cwd: bundles[i]!.dir })),
        );
        for (const d of dumps) assert.equal(d.exitCode, 0, String(d.stderr));
        const rootDirs = await readdir(join(box.dir, 'state', 'same', 'roots'));
        assert.equal(rootDirs.length, 2, rootDirs.join(' '));
        const recorded = await Promise.all(
          rootDirs.map((d) => readFile(join(box.dir, 'state', 'same', 'roots', d, 'root'), 'utf8')),
        );
        assert.deepEqual(recorded.map((r) => r.trim()).sort(), [...roots].sort());
        const restores = await Promise.all(
          roots.map((root, i) =>
            wrapper(['--root', root, 'restore', '-d', 'same'], { cwd: bundles[i]!.dir, stdout: 'ignore' }),
          ),
        );
        for (const r of restores) assert.equal(r.exitCode, 0, String(r.stderr));
      },
    );
  } finally {
    for (const [root, id] of started) await execa('runc', ['--root', root, 'delete', '--force', id], { reject: false });
    await box.cleanup();
  }
});
