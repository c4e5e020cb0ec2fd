// The Dockerfile built and run: on a base image made here (scripts/image-base.sh; no registry to pull
// node:20 from), then --version, show and detect --mountinfo on fixtures, and migrate between two engines.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { importTestImage, runDetached, startDaemon, TEST_IMAGE, type Daemon } from '../helpers/dockerd.js';
import {
  continued,
  counterLoop,
  hostSandbox,
  missing,
  readCount,
  requireE2E,
  waitFor,
  type HostSandbox,
} from '../helpers/e2e.js';
import { FIXTURES } from '../helpers/fixtures.js';

const needs = ['root', 'dockerd', 'criu'] as const;
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BASE_IMAGE = 'extmount-base:trixie';
const IMAGE = 'extmount:test';

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

describe('the Dockerfile, built on a local base and run', () => {
  let box: HostSandbox | undefined;
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  const timings: Record<string, number> = {};

  /** Runs `fn`, recording how long it took under `what`. */
  async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await fn();
    } finally {
      timings[what] = Date.now() - started;
    }
  }

  before(async () => {
    if (await missing(needs)) return;
    box = await hostSandbox('extmount-img-');
    // Cached in /var/cache/extmount/image-base: a debootstrap on the first run only. In a
    // scripts/stacks root (no debootstrap there) run.sh binds the machine's tar in and names it.
    const tar = await timed(
      'base rootfs (scripts/image-base.sh)',
      async () =>
        process.env.EXTMOUNT_IMAGE_BASE ||
        String((await execa('bash', [join(REPO, 'scripts/image-base.sh')], { stdin: 'ignore' })).stdout).trim(),
    );
    [a, b] = await timed('two dockerd', () =>
      Promise.all([startDaemon('a', { baseDir: box!.dir }), startDaemon('b', { baseDir: box!.dir })]),
    );
    await timed('docker import of the base', () => a!.cli(['import', tar, BASE_IMAGE]));
    // The classic builder: the host's Docker 20.10 has no buildx, and a build of COPY steps needs no
    // BuildKit. --network none: the build must not need the network (it starts no container anyway).
    await timed('docker build', () =>
      execa(
        'docker',
        ['-H', a!.host, 'build', '--network', 'none', '--build-arg', `BASE=${BASE_IMAGE}`, '-t', IMAGE, REPO],
        {
          env: { DOCKER_BUILDKIT: '0' },
          stdin: 'ignore',
        },
      ),
    );
    await importTestImage(a);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await box?.cleanup();
  });

  /** `docker run --rm --network none [RUN_ARGS…] IMAGE ARGS…` on engine a. */
  function runImage(runArgs: string[], args: string[]) {
    return a!.cli(['run', '--rm', '--network', 'none', ...runArgs, IMAGE, ...args], { reject: false });
  }

  it('builds with --build-arg BASE on the local base, and says how big the image is', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const [image, baseImage] = await Promise.all(
      [IMAGE, BASE_IMAGE].map(async (name) => a!.docker.getImage(name).inspect()),
    );
    // Built on the given base: the base's layers are the image's first layers.
    assert.deepEqual(image!.RootFS.Layers!.slice(0, baseImage!.RootFS.Layers!.length), baseImage!.RootFS.Layers);
    assert.deepEqual(image!.Config.Entrypoint, ['node', '/opt/extmount/build/src/cli/extmount.cjs']);
    // What .dockerignore leaves out is not in the image.
    const ls = await runImage(['--entrypoint', 'ls'], ['/opt/extmount/node_modules']);
    assert.equal(ls.exitCode, 0, ls.stderr);
    assert.doesNotMatch(ls.stdout, /^(typescript|esbuild|\.bin)$/m);
    assert.match(ls.stdout, /^dockerode$/m);
    const sizes = `image ${IMAGE}: ${mib(image!.Size)} (${image!.Size} bytes); its base ${BASE_IMAGE}: ${mib(baseImage!.Size)}, so extmount adds ${mib(image!.Size - baseImage!.Size)}`;
    t.diagnostic(sizes);
    t.diagnostic(
      `timings: ${Object.entries(timings)
        .map(([k, v]) => `${k} ${v} ms`)
        .join(', ')}`,
    );
    process.stderr.write(`dockerfile.test: ${sizes}\n`);
  });

  it('extmount --version prints the package version', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const r = await runImage([], ['--version']);
    assert.equal(r.exitCode, 0, r.stderr);
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(r.stdout.trim(), version);
  });

  it('extmount show and detect --mountinfo on fixtures print what the host CLI prints', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    // The fixtures at the same path inside: the outputs name the files they read.
    const ro = ['-v', `${FIXTURES}:${FIXTURES}:ro`];
    const images = join(FIXTURES, 'images/seed');
    const [inImage, onHost] = await Promise.all([runImage(ro, ['show', images]), runCli(['show', images])]);
    assert.equal(inImage.exitCode, 0, inImage.stderr);
    assert.equal(onHost.exitCode, 0, onHost.stderr);
    assert.match(inImage.stdout, /barmount/);
    assert.equal(inImage.stdout, onHost.stdout);

    const mountinfo = [
      'detect',
      '--mountinfo',
      join(FIXTURES, 'mountinfo/seed.mountinfo'),
      '--key',
      '/bar=barmount',
      '--json',
    ];
    const [detectIn, detectHost] = await Promise.all([runImage(ro, mountinfo), runCli(mountinfo)]);
    assert.equal(detectIn.exitCode, 0, detectIn.stderr);
    const [fromImage, fromHost] = [JSON.parse(detectIn.stdout), JSON.parse(detectHost.stdout)];
    // The same mounts and keys; only the CRIU version differs (the image has no CRIU).
    assert.deepEqual(fromImage.external, fromHost.external);
    assert.deepEqual(fromImage.mounts, fromHost.mounts);
    assert.equal(fromImage.external[0].key, 'barmount');
  });

  it('extmount migrate run from the image moves a running container from a to b (only the two sockets mounted)', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const srvA = join(box!.dir, 'srv/a');
    const srvB = join(box!.dir, 'srv/b');
    await mkdir(srvA, { recursive: true });
    await runDetached(a!, [
      '--name',
      'mover',
      '-v',
      `${srvA}:/data`,
      TEST_IMAGE,
      'sh',
      '-c',
      counterLoop('/data/counter'),
    ]);
    await waitFor('the counter', async () => (await readCount(join(srvA, 'counter'))).n > 3);
    // migrate talks to both engines through their APIs only: their sockets are all it needs. No
    // --privileged, no --pid host, no host paths: bind contents move through helper containers.
    const sockets = [a!, b!].flatMap((d) => [
      '-v',
      `${d.host.slice('unix://'.length)}:${d.host.slice('unix://'.length)}`,
    ]);
    const r = await timed('migrate from the image', () =>
      runImage(sockets, [
        'migrate',
        'mover',
        '--from',
        a!.host,
        '--to',
        b!.host,
        '--map',
        `${srvA}=${srvB}`,
        '--copy-binds',
        '--json',
      ]),
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.to, b!.host);
    assert.equal(report.mode, 'migrated');
    // Nothing writes on a any more: its file holds the value at checkpoint, which --copy-binds copied to b.
    const atCheckpoint = await readCount(join(srvA, 'counter'));
    const now = await waitFor('the counter on b to go on', async () => {
      const c = await readCount(join(srvB, 'counter'));
      return continued(c, atCheckpoint) ? c : undefined;
    });
    t.diagnostic(
      `counter ${atCheckpoint.n} on a at checkpoint, ${now.n} on b (same process); downtime ${report.downtimeMs} ms, migrate from the image ${timings['migrate from the image']} ms`,
    );
    assert.equal((await b!.docker.getContainer('mover').inspect()).State.Running, true);
    assert.deepEqual(
      (await a!.docker.listContainers({ all: true })).map((c) => c.Names),
      [],
    );
  });
});
