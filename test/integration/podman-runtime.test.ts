// Issue 10 item 3 for Podman: hooks/extmount-runc registered by `extmount install-runtime --podman`
// (a containers.conf drop-in and /etc/extmount/config.json with absolute paths: Podman gives the runtime
// no environment), then plain `podman container checkpoint` / `podman container restore` of a container
// with a bind and a mount propagated after start. The "host" is a private namespace with an overlay /etc
// (helpers/podman.ts), so the files land at their real paths without touching the machine's.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI } from '../helpers/cli.js';
import { parseManifest } from '../../src/core/checkpoint/manifest-read.js';
import { buildBusyboxRootfs } from '../helpers/dockerd.js';
import { continued, counterLoop, readCount, requireE2E, waitFor, WRAPPER } from '../helpers/e2e.js';
import { PODMAN_IMAGE, startPodmanHost, type PodmanHost } from '../helpers/podman.js';

// The real runtime behind the wrapper: runc, and crun (Podman's default) where crun has CRIU.
for (const real of ['runc', 'crun'] as const) {
  test(`podman container checkpoint / restore through the extmount runtime, ${real} behind it, keep a bind and a propagated mount`, async (t) => {
    if (!(await requireE2E(t, real === 'crun' ? ['root', 'podman', 'criu', 'crun-criu'] : ['root', 'podman', 'criu'])))
      return;
    await roundTrip(real);
  });
}

async function roundTrip(real: 'runc' | 'crun'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'extmount-podman-'));
  let host: PodmanHost | undefined;
  try {
    // The config an admin would have, its state dir in the test's folder; install-runtime adds the paths.
    await mkdir(join(dir, 'etc', 'extmount'), { recursive: true });
    await writeFile(join(dir, 'etc', 'extmount', 'config.json'), JSON.stringify({ stateDir: join(dir, 'state') }));
    host = await startPodmanHost(dir);
    const h = host;
    const ok = async (what: string, p: ReturnType<PodmanHost['run']>) => {
      const r = await p;
      assert.equal(r.exitCode, 0, `${what} failed (exit ${r.exitCode}): ${String(r.stderr)}`);
      return String(r.stdout);
    };

    const install = JSON.parse(
      await ok(
        'install-runtime --podman --apply',
        h.run([process.execPath, CLI, 'install-runtime', '--podman', '--apply', '--json']),
      ),
    );
    assert.deepEqual(install.podman, {
      containersConf: '/etc/containers/containers.conf.d/extmount.conf',
      runtime: 'extmount',
      path: WRAPPER,
      action: 'create',
    });
    assert.equal(install.config.action, 'update');
    for (const k of ['runc', 'node', 'criu']) assert.match(install.config[k], /^\//, `${k} is not absolute`);
    const configPath = join(dir, 'etc', 'extmount', 'config.json');
    const written = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
    assert.equal(written.stateDir, join(dir, 'state'));
    if (real === 'crun') {
      // As an admin who keeps Podman's crun would: the real runtime the wrapper hands every verb to.
      const crun = (await ok('command -v crun', h.run(['sh', '-c', 'command -v crun']))).trim();
      await writeFile(configPath, JSON.stringify({ ...written, runc: crun }));
    }
    const info = await ok('podman info', h.podman(['info', '--format', '{{.Version.Version}} {{.Store.GraphRoot}}']));
    assert.equal(info.trim().split(' ')[1], join(dir, 'storage'), "Podman is not on the test's private storage");

    const rootfs = join(dir, 'rootfs');
    await buildBusyboxRootfs(rootfs);
    await ok(
      'podman import',
      h.run(['sh', '-c', 'tar -C "$1" -c . | podman import - "$2"', 'sh', rootfs, PODMAN_IMAGE]),
    );

    const data = join(dir, 'data');
    const prop = join(dir, 'prop');
    const disk2 = join(dir, 'disk2');
    for (const d of [data, join(prop, 'sub'), disk2]) await mkdir(d, { recursive: true });
    await writeFile(join(disk2, 'hello.txt'), 'from disk2\n');
    // ENVIRONMENT.md's case on Podman's host: a shared folder bound rslave, a submount made after start.
    await ok('bind prop', h.run(['mount', '--bind', prop, prop]));
    await ok('make prop shared', h.run(['mount', '--make-shared', prop]));
    await ok(
      'podman run',
      h.podman([
        'run',
        '-d',
        '--name',
        'pm1',
        '--runtime',
        'extmount',
        '--network',
        'none',
        '-v',
        `${data}:/data`,
        '-v',
        `${prop}:/prop:rslave`,
        '-v',
        'pmvol:/vol',
        PODMAN_IMAGE,
        'sh',
        '-c',
        counterLoop('/data/counter'),
      ]),
    );
    await ok('mount the submount', h.run(['mount', '--bind', disk2, join(prop, 'sub')]));
    const counter = () => readCount(join(data, 'counter'));
    await waitFor('the counter to pass 10', async () => (await counter()).n > 10);
    assert.equal(await ok('cat in pm1', h.podman(['exec', 'pm1', 'cat', '/prop/sub/hello.txt'])), 'from disk2');
    const id = (await ok('inspect', h.podman(['inspect', '--format', '{{.Id}}', 'pm1']))).trim();

    const before = h.mounts();
    await ok('podman container checkpoint', h.podman(['container', 'checkpoint', 'pm1']));
    const atDump = await counter();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await counter(), atDump, 'the container kept running after the checkpoint');

    const manifest = parseManifest(
      await readFile(join(dir, 'storage', 'overlay-containers', id, 'userdata', 'checkpoint', 'extmount.yaml'), 'utf8'),
      'extmount.yaml',
    );
    const byMp = new Map(manifest.mounts.map((m) => [m.mountpoint, m]));
    assert.deepEqual(
      {
        kind: byMp.get('/prop/sub')?.kind,
        hostPath: byMp.get('/prop/sub')?.hostPath,
        propagation: byMp.get('/prop/sub')?.propagation,
      },
      { kind: 'propagated', hostPath: disk2, propagation: 'slave' },
    );
    assert.deepEqual(manifest.target, { kind: 'container', id, name: 'pm1', image: PODMAN_IMAGE });
    // Podman's own binds are the runtime's (runc maps them); a named volume is a volume.
    const kinds = Object.fromEntries(manifest.mounts.map((m) => [m.mountpoint, m.kind]));
    assert.deepEqual(kinds, {
      '/data': 'bind',
      '/prop': 'bind',
      '/prop/sub': 'propagated',
      '/vol': 'volume',
      '/etc/hosts': 'runtime',
      '/etc/hostname': 'runtime',
      '/run/.containerenv': 'runtime',
      '/dev/shm': 'runtime',
    });
    assert.equal(byMp.get('/vol')?.volume, 'pmvol');

    await ok('podman container restore', h.podman(['container', 'restore', 'pm1']));
    await waitFor(`the counter to go on from ${atDump.n}`, async () => continued(await counter(), atDump));
    assert.equal(
      await ok('cat in pm1 after restore', h.podman(['exec', 'pm1', 'cat', '/prop/sub/hello.txt'])),
      'from disk2',
    );
    const inside = (await ok('mountinfo of pm1', h.podman(['exec', 'pm1', 'cat', '/proc/1/mountinfo']))).split('\n');
    const subLine = inside.find((l) => l.split(' ')[4] === '/prop/sub');
    assert.match(subLine ?? '', / master:\d+ /, `/prop/sub is not a slave after restore: ${subLine}`);

    // Podman's host keeps its own mounts (container rootfs and runtime mounts come and go).
    const now = new Set(h.mounts().map((m) => `${m.id} ${m.mountpoint}`));
    const lost = before.filter(
      (m) =>
        !now.has(`${m.id} ${m.mountpoint}`) &&
        !m.mountpoint.startsWith(join(dir, 'storage')) &&
        !m.mountpoint.startsWith(join(dir, 'runroot')),
    );
    assert.deepEqual(lost, [], `the restore removed host mounts: ${JSON.stringify(lost)}`);
    assert.ok(
      h.mounts().some((m) => m.mountpoint === join(prop, 'sub')),
      'the host lost its own submount',
    );
    assert.deepEqual(
      h.mounts().filter((m) => m.mountpoint.startsWith(join(dir, 'state'))),
      [],
      'the wrapper left mounts behind',
    );

    // The wrapper handed the dump to the runtime configured (its short log names it).
    const logs = (
      await ok(
        'the runtime logs',
        h.run(['sh', '-c', 'find "$1" -name runtime.log -exec cat {} +', 'sh', join(dir, 'state')]),
      )
    ).split('\n');
    const runtimes = new Set(
      logs.flatMap((l) => /^\S+ checkpoint: .*; runtime (\S+); /.exec(l)?.[1] ?? []).map((p) => p.split('/').pop()),
    );
    assert.deepEqual([...runtimes], [real], logs.join('\n'));
    await ok('podman rm', h.podman(['rm', '-f', '-t', '0', 'pm1']));
  } finally {
    await host?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
