// extmount detect CONTAINER against a real private dockerd ("host a").
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { importTestImage, sleep, startDaemon, TEST_IMAGE, type Daemon } from '../helpers/dockerd.js';
import { missing, requireE2E } from '../helpers/e2e.js';

describe('detect CONTAINER on a real dockerd', () => {
  let daemon: Daemon | undefined;
  let dir: string;
  const needs = ['root', 'dockerd'] as const;

  before(async () => {
    if (await missing(needs)) return;
    dir = await mkdtemp(join(tmpdir(), 'extmount-detect-'));
    daemon = await startDaemon('a');
    await importTestImage(daemon);
  });
  after(async () => {
    await daemon?.stop();
    if (dir) {
      await execa('umount', ['-R', join(dir, 'prop')], { reject: false });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports -v DIR:/data as a bind with host path DIR, and a named volume by name', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const data = join(dir, 'data');
    await mkdir(data);
    await daemon!.cli(['volume', 'create', 'detectvol']);
    await daemon!.cli([
      'run',
      '-d',
      '--name',
      'c1',
      '--network',
      'none',
      '-v',
      `${data}:/data`,
      '-v',
      'detectvol:/vol',
      TEST_IMAGE,
      'sleep',
      '1000',
    ]);
    const r = await runCli(['--host', daemon!.host, 'detect', 'c1', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const byMountpoint = new Map(report.external.map((e: { mountpoint: string }) => [e.mountpoint, e]));
    assert.deepEqual(byMountpoint.get('/data'), {
      ...(byMountpoint.get('/data') as object),
      hostPath: data,
      kind: 'bind',
      key: 'data',
      readOnly: false,
    });
    const vol = byMountpoint.get('/vol') as { kind: string; volumeName: string; key: string; hostPath: string };
    assert.equal(vol.kind, 'volume');
    assert.equal(vol.volumeName, 'detectvol');
    assert.equal(vol.key, 'detectvol');
    assert.ok(vol.hostPath.startsWith(daemon!.dataRoot));
    assert.equal((byMountpoint.get('/etc/hosts') as { kind: string }).kind, 'runtime');

    // DOCKER_HOST is honoured when --host is absent.
    const viaEnv = await runCli(['detect', 'c1', '--json'], { env: { DOCKER_HOST: daemon!.host } });
    assert.equal(viaEnv.exitCode, 0, viaEnv.stderr);
    assert.deepEqual(JSON.parse(viaEnv.stdout).external, report.external);
  });

  it('finds a host submount that appeared under an rslave bind after start: propagated, needs external masters', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const prop = join(dir, 'prop');
    const disk2 = join(dir, 'disk2');
    await mkdir(prop);
    await mkdir(disk2);
    await writeFile(join(disk2, 'content.txt'), 'from disk2\n');
    await execa('mount', ['--bind', prop, prop]);
    await execa('mount', ['--make-shared', prop]);
    await daemon!.cli([
      'run',
      '-d',
      '--name',
      'c2',
      '--network',
      'none',
      '-v',
      `${prop}:/prop:rslave`,
      TEST_IMAGE,
      'sleep',
      '1000',
    ]);
    await mkdir(join(prop, 'sub'));
    await execa('mount', ['--bind', disk2, join(prop, 'sub')]);
    await sleep(50);
    const r = await runCli(['--host', daemon!.host, 'detect', 'c2', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const sub = report.external.find((e: { mountpoint: string }) => e.mountpoint === '/prop/sub');
    assert.ok(sub, 'no /prop/sub in the external mounts');
    assert.equal(sub.kind, 'propagated');
    assert.equal(sub.hostPath, disk2);
    assert.equal(sub.propagation, 'slave');
    assert.match(sub.reason, /appeared after start/);
    assert.ok(report.criu.dump.includes('--enable-external-masters'));
    const table = await runCli(['--host', daemon!.host, 'detect', 'c2']);
    assert.match(table.stdout, /\/prop\/sub\s+prop-sub\s+propagated\s/);
  });

  it('an unknown container exits 2 with one line', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    assertOneLineError(
      await runCli(['--host', daemon!.host, 'detect', 'no-such-container']),
      2,
      /no container "no-such-container" on unix:\/\//,
    );
  });

  it('a stopped container exits 2 with one line', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    await daemon!.cli(['create', '--name', 'c3', '--network', 'none', TEST_IMAGE, 'true']);
    assertOneLineError(await runCli(['--host', daemon!.host, 'detect', 'c3']), 2, /container c3 is not running/);
  });
});
