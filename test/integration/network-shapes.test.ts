// A container shape the engine cannot restore is refused before anything stops: Docker 28 /
// containerd 2.1 cannot `docker start --checkpoint` a `--network none` container (containerd#12141).
// On every stack the same test runs; what it expects follows from the engines' own containerd version.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { restoreBlocker } from '../../src/core/docker/restore-blockers.js';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { importTestImage, sleep, startDaemon, TEST_IMAGE, type Daemon } from '../helpers/dockerd.js';
import { missing, requireE2E } from '../helpers/e2e.js';

const needs = ['root', 'dockerd', 'criu'] as const;

describe('network shapes an engine cannot restore', () => {
  let base: string;
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  let containerd: string | undefined;

  before(async () => {
    if (await missing(needs)) return;
    base = await mkdtemp(join(tmpdir(), 'extmount-net-'));
    [a, b] = await Promise.all([startDaemon('a', { baseDir: base }), startDaemon('b', { baseDir: base })]);
    await Promise.all([importTestImage(a), importTestImage(b)]);
    containerd = (await a.docker.version()).Components?.find((c) => c.Name.toLowerCase() === 'containerd')?.Version;
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (base) await rm(base, { recursive: true, force: true });
  });

  const blocked = () => restoreBlocker(containerd, { networkMode: 'none', networkDisabled: false, bridgeExists: false }) !== undefined;

  it('checkpoint of a --network none container: refused with the issue and left running where it cannot come back, else it round-trips', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    await a!.cli(['run', '-d', '--name', 'none1', '--network', 'none', TEST_IMAGE, 'sleep', '100000']);
    const r = await runCli(['--host', a!.host, 'checkpoint', 'none1', '--name', 'cp1']);
    if (blocked()) {
      assertOneLineError(r, 2, /none1 would be stopped but could not be restored on unix:\S+: containerd \S+ cannot restore .*network mode "none"\) \(containerd#12141\); nothing was stopped; create the container with "NetworkDisabled": true/);
      assert.equal((await a!.docker.getContainer('none1').inspect()).State.Running, true);
      // --leave-running stops nothing: allowed.
      const kept = await runCli(['--host', a!.host, 'checkpoint', 'none1', '--name', 'cp2', '--leave-running']);
      assert.equal(kept.exitCode, 0, kept.stderr);
    } else {
      assert.equal(r.exitCode, 0, r.stderr);
      const back = await runCli(['--host', a!.host, 'restore', 'none1', '--name', 'cp1']);
      assert.equal(back.exitCode, 0, back.stderr);
      assert.equal((await a!.docker.getContainer('none1').inspect()).State.Running, true);
    }
  });

  it('migrate of a --network none container: refused before it stops where it cannot come back, else it moves', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    await a!.cli(['run', '-d', '--name', 'none2', '--network', 'none', TEST_IMAGE, 'sleep', '100000']);
    const r = await runCli(['migrate', 'none2', '--from', a!.host, '--to', b!.host]);
    if (blocked()) {
      assertOneLineError(r, 2, /none2 would be stopped but could not be restored on the target unix:\S+: .*\(containerd#12141\); nothing was stopped/);
      assert.equal((await a!.docker.getContainer('none2').inspect()).State.Running, true);
      assert.deepEqual(await b!.docker.listContainers({ all: true }), []);
    } else {
      assert.equal(r.exitCode, 0, r.stderr);
      await sleep(500);
      assert.equal((await b!.docker.getContainer('none2').inspect()).State.Running, true);
      assert.equal((await b!.docker.getContainer('none2').inspect()).HostConfig.NetworkMode, 'none');
    }
  });

  it('a NetworkDisabled container (the workaround the refusal names) migrates on every stack', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const c = await a!.docker.createContainer({ name: 'nd1', Image: TEST_IMAGE, Cmd: ['sleep', '100000'], NetworkDisabled: true, HostConfig: { NetworkMode: 'none' } });
    await c.start();
    const r = await runCli(['migrate', 'nd1', '--from', a!.host, '--to', b!.host]);
    assert.equal(r.exitCode, 0, r.stderr);
    const moved = await b!.docker.getContainer('nd1').inspect();
    assert.equal(moved.State.Running, true);
    assert.equal((moved.Config as { NetworkDisabled?: boolean }).NetworkDisabled, true);
  });
});
