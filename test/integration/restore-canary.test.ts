// The canary proves that an engine brings back a container of the shape that is about to stop; here
// the target's runtime cannot restore (it refuses `restore`, as a broken CRIU or runtime would),
// which no version table knows: migrate and checkpoint refuse before anything stops.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { importTestImage, startDaemon, TEST_IMAGE, type Daemon } from '../helpers/dockerd.js';
import { missing, requireE2E } from '../helpers/e2e.js';

const needs = ['root', 'dockerd', 'criu'] as const;

describe('restore canary', () => {
  let base: string;
  let a: Daemon | undefined;
  let b: Daemon | undefined;

  before(async () => {
    if (await missing(needs)) return;
    base = await mkdtemp(join(tmpdir(), 'extmount-canary-'));
    const works = join(base, 'passthrough-runc');
    const broken = join(base, 'norestore-runc');
    await writeFile(works, '#!/bin/sh\nexec runc "$@"\n', { mode: 0o755 });
    await writeFile(
      broken,
      '#!/bin/sh\nfor arg; do [ "$arg" = restore ] && { echo "norestore: restore refused" >&2; exit 1; }; done\nexec runc "$@"\n',
      { mode: 0o755 },
    );
    [a, b] = await Promise.all([
      startDaemon('a', { baseDir: base, runtimes: { canaried: works } }),
      startDaemon('b', { baseDir: base, runtimes: { canaried: broken } }),
    ]);
    await Promise.all([importTestImage(a), importTestImage(b)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (base) await rm(base, { recursive: true, force: true });
  });

  const create = async (daemon: Daemon, name: string) => {
    const c = await daemon.docker.createContainer({
      name,
      Image: TEST_IMAGE,
      Cmd: ['sleep', '100000'],
      NetworkDisabled: true,
      HostConfig: { NetworkMode: 'none', Runtime: 'canaried' },
    });
    await c.start();
    return c;
  };

  it('migrate to an engine whose runtime cannot restore: refused, nothing stopped, nothing left on either engine', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    await create(a!, 'c1');
    const r = await runCli(['migrate', 'c1', '--from', a!.host, '--to', b!.host]);
    assertOneLineError(
      r,
      2,
      /c1 would be stopped but could not be restored on the target unix:\S+: a canary container of its shape \(runtime canaried, network mode none\) did not come back from a checkpoint there \(.*norestore-runc.*\); nothing was stopped/,
    );
    assert.equal((await a!.docker.getContainer('c1').inspect()).State.Running, true);
    assert.deepEqual(await b!.docker.listContainers({ all: true }), []);
    assert.deepEqual(
      (await a!.docker.listContainers({ all: true })).map((c) => c.Names),
      [['/c1']],
    );
  });

  it("checkpoint (not --leave-running) where the runtime cannot restore: refused with the canary's reason, left running; a working engine checkpoints", async (t) => {
    if (!(await requireE2E(t, needs))) return;
    await create(b!, 'c2');
    const r = await runCli(['--host', b!.host, 'checkpoint', 'c2', '--name', 'cp1']);
    assertOneLineError(
      r,
      2,
      /c2 would be stopped but could not be restored on unix:\S+: a canary container .*norestore-runc/,
    );
    assert.equal((await b!.docker.getContainer('c2').inspect()).State.Running, true);
    await create(a!, 'c3');
    const ok = await runCli(['--host', a!.host, 'checkpoint', 'c3', '--name', 'cp1']);
    assert.equal(ok.exitCode, 0, ok.stderr);
    const back = await runCli(['--host', a!.host, 'restore', 'c3', '--name', 'cp1']);
    assert.equal(back.exitCode, 0, back.stderr);
  });
});
