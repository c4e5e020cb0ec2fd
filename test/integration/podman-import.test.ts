// Issue 10 item 3: a `podman container checkpoint --export` archive made on one Podman host, restored on
// another by `extmount restore --import` with its binds remapped (Podman's own --import has no way to).
// Two private Podman hosts (helpers/podman.ts), each with its own storage, runroot and /etc; the
// exporting host's folders are deleted before the import, as they would not exist on another machine.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI } from '../helpers/cli.js';
import { buildBusyboxRootfs } from '../helpers/dockerd.js';
import { continued, counterLoop, readCount, requireE2E, waitFor } from '../helpers/e2e.js';
import { PODMAN_IMAGE, startPodmanHost, type PodmanHost } from '../helpers/podman.js';

for (const real of ['runc', 'crun'] as const) {
  test(`restore --import of a Podman archive on another Podman host, binds remapped, ${real} behind the wrapper on both`, async (t) => {
    if (
      !(await requireE2E(t, ['root', 'podman', 'criu', 'zstd', ...(real === 'crun' ? (['crun-criu'] as const) : [])]))
    )
      return;
    await exportAndImport(real);
  });
}

async function exportAndImport(real: 'runc' | 'crun'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'extmount-pimport-'));
  const hosts: PodmanHost[] = [];
  try {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const archive = join(dir, 'pm1.tar.zst');
    const image = join(dir, 'image.tar');
    const ok = async (what: string, p: ReturnType<PodmanHost['run']>) => {
      const r = await p;
      assert.equal(r.exitCode, 0, `${what} failed (exit ${r.exitCode}): ${String(r.stderr)}`);
      return String(r.stdout);
    };
    const startHost = async (root: string) => {
      await mkdir(join(root, 'etc', 'extmount'), { recursive: true });
      await writeFile(join(root, 'etc', 'extmount', 'config.json'), JSON.stringify({ stateDir: join(root, 'state') }));
      const host = await startPodmanHost(root);
      hosts.push(host);
      await ok('install-runtime --podman', host.run([process.execPath, CLI, 'install-runtime', '--podman', '--apply']));
      if (real === 'crun') {
        const crun = (await ok('command -v crun', host.run(['sh', '-c', 'command -v crun']))).trim();
        const configPath = join(root, 'etc', 'extmount', 'config.json');
        await writeFile(configPath, JSON.stringify({ ...JSON.parse(await readFile(configPath, 'utf8')), runc: crun }));
      }
      return host;
    };

    // Host A: a bind, a shared folder bound rslave with a submount made after start, a named volume.
    const hostA = await startHost(a);
    const rootfs = join(dir, 'rootfs');
    await buildBusyboxRootfs(rootfs);
    await ok(
      'podman import',
      hostA.run(['sh', '-c', 'tar -C "$1" -c . | podman import - "$2"', 'sh', rootfs, PODMAN_IMAGE]),
    );
    for (const d of [join(a, 'data'), join(a, 'prop', 'sub'), join(a, 'disk')]) await mkdir(d, { recursive: true });
    await writeFile(join(a, 'disk', 'hello.txt'), 'from A\n');
    await ok('bind prop', hostA.run(['mount', '--bind', join(a, 'prop'), join(a, 'prop')]));
    await ok('make prop shared', hostA.run(['mount', '--make-shared', join(a, 'prop')]));
    await ok(
      'podman run',
      hostA.podman([
        'run',
        '-d',
        '--name',
        'pm1',
        '--runtime',
        'extmount',
        '--network',
        'none',
        '-v',
        `${join(a, 'data')}:/data`,
        '-v',
        `${join(a, 'prop')}:/prop:rslave`,
        '-v',
        'pmvol:/vol',
        PODMAN_IMAGE,
        'sh',
        '-c',
        counterLoop('/data/counter'),
      ]),
    );
    await ok('mount the submount', hostA.run(['mount', '--bind', join(a, 'disk'), join(a, 'prop', 'sub')]));
    await waitFor(
      'the counter to pass 10',
      async () => (await readCount(join(a, 'data', 'counter')).catch(() => ({ n: 0 }))).n > 10,
    );
    await ok(
      'podman container checkpoint --export',
      hostA.podman(['container', 'checkpoint', '--export', archive, 'pm1']),
    );
    const atDump = await readCount(join(a, 'data', 'counter'));
    await ok('podman save', hostA.podman(['save', '-o', image, PODMAN_IMAGE]));
    await ok('podman rm', hostA.podman(['rm', '-f', '-t', '0', 'pm1']));
    await hostA.stop();
    hosts.splice(0);

    // Host B: the bind's content copied over (as rsync would), B's own disk under B's shared folder; none of A's paths.
    for (const d of [join(b, 'data'), join(b, 'prop', 'sub'), join(b, 'disk')]) await mkdir(d, { recursive: true });
    await cp(join(a, 'data'), join(b, 'data'), { recursive: true });
    await rm(a, { recursive: true, force: true });
    await writeFile(join(b, 'disk', 'hello.txt'), 'from B\n');
    const hostB = await startHost(b);
    await ok('podman load', hostB.podman(['load', '-i', image]));
    await ok('bind prop', hostB.run(['mount', '--bind', join(b, 'prop'), join(b, 'prop')]));
    await ok('make prop shared', hostB.run(['mount', '--make-shared', join(b, 'prop')]));
    await ok('mount the submount', hostB.run(['mount', '--bind', join(b, 'disk'), join(b, 'prop', 'sub')]));
    const digest = async () =>
      createHash('sha256')
        .update(await readFile(archive))
        .digest('hex');
    const archiveBefore = await digest();

    // Without maps: refused before Podman runs, one line naming the bind, nothing created.
    const refused = await hostB.run([process.execPath, CLI, 'restore', '--import', archive]);
    assert.equal(refused.exitCode, 2, String(refused.stderr));
    assert.match(
      String(refused.stderr),
      new RegExp(
        `^extmount: bind /(data|prop) → ${a}/\\1: no such file or directory on this host; create it, or map it with --map ${a}/\\1=PATH\\n?$`,
      ),
    );
    assert.equal(
      (await ok('podman ps -a', hostB.podman(['ps', '-a', '-q']))).trim(),
      '',
      'a refused import created a container',
    );

    const before = hostB.mounts();
    const restored = await hostB.run([
      process.execPath,
      CLI,
      '--json',
      'restore',
      '--import',
      archive,
      '--map',
      `${a}=${b}`,
      '--name',
      'pmB',
    ]);
    assert.equal(restored.exitCode, 0, String(restored.stderr));
    const report = JSON.parse(String(restored.stdout));
    assert.match(report.id, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      report.binds
        .map((x: { destination: string; path: string; from: string }) => [x.destination, x.path, x.from])
        .sort(),
      [
        ['/data', join(b, 'data'), 'map'],
        ['/prop', join(b, 'prop'), 'map'],
      ],
    );
    assert.equal(
      (await ok('inspect', hostB.podman(['inspect', '--format', '{{.Id}} {{.State.Running}}', 'pmB']))).trim(),
      `${report.id} true`,
    );

    // The same process goes on (its token, its count) in B's folder; the propagated mount is B's disk, still a slave.
    await waitFor(`the counter to go on from ${atDump.n}`, async () =>
      continued(await readCount(join(b, 'data', 'counter')), atDump),
    );
    assert.equal(await ok('cat in pmB', hostB.podman(['exec', 'pmB', 'cat', '/prop/sub/hello.txt'])), 'from B');
    const inside = (await ok('mountinfo of pmB', hostB.podman(['exec', 'pmB', 'cat', '/proc/1/mountinfo']))).split(
      '\n',
    );
    const subLine = inside.find((l) => l.split(' ')[4] === '/prop/sub');
    assert.match(subLine ?? '', / master:\d+ /, `/prop/sub is not a slave after the import: ${subLine}`);
    assert.deepEqual(
      inside.filter((l) => l.includes(`${a}/`) || l.split(' ')[3]?.startsWith(a)),
      [],
      'a path of host A is mounted in the copy',
    );

    // Nothing of host B lost, no copy of the archive left, the archive unchanged.
    const now = new Set(hostB.mounts().map((m) => `${m.id} ${m.mountpoint}`));
    const lost = before.filter(
      (m) =>
        !now.has(`${m.id} ${m.mountpoint}`) &&
        !m.mountpoint.startsWith(join(b, 'storage')) &&
        !m.mountpoint.startsWith(join(b, 'runroot')),
    );
    assert.deepEqual(lost, [], `the import removed host mounts: ${JSON.stringify(lost)}`);
    assert.deepEqual(
      (await readdir(join(b, 'state'))).filter((n) => n.startsWith('import-')),
      [],
      'the archive copy was left behind',
    );
    assert.equal(await digest(), archiveBefore, 'the archive was changed');
    // The wrapper did the restore on B (its short log names the runtime it handed it to).
    const logs = (
      await ok(
        'the runtime logs',
        hostB.run(['sh', '-c', 'find "$1" -name runtime.log -exec cat {} +', 'sh', join(b, 'state')]),
      )
    ).split('\n');
    assert.ok(
      logs.some((l) => /^\S+ restore: /.test(l)),
      `no restore by the wrapper on B: ${logs.join('\n')}`,
    );
    await ok('podman rm', hostB.podman(['rm', '-f', '-t', '0', 'pmB']));
  } finally {
    for (const host of hosts) await host.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
