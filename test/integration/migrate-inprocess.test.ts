// migrate() in-process, between two real private dockerd, through its injected ports: a Faults port
// that fails at a named point, a log that collects, a silent progress. Each failure after the freeze
// must roll back: the same process runs on a again, nothing of it is left on b, the error says so.
// (The CLI-level fault tests in migrate.test.ts kill the process instead, and re-run it.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectEngine } from '../../src/adapters/docker/docker.js';
import { textLogger } from '../../src/adapters/log.js';
import { parseConfig } from '../../src/core/config.js';
import { resolveDockerHost } from '../../src/core/docker/docker-host.js';
import { ExtmountError } from '../../src/core/errors.js';
import { LABEL_FROM } from '../../src/core/migrate/migrate-config.js';
import type { FaultPoint } from '../../src/migrate/faults.js';
import { migrate } from '../../src/migrate/migrate.js';
import { createProgress } from '../../src/migrate/progress.js';
import { execa } from 'execa';
import { CLI, runCli } from '../helpers/cli.js';
import { runDetached, startPair, TEST_IMAGE, type Daemon, type EnginePair } from '../helpers/dockerd.js';
import { processState } from '../helpers/processes.js';
import { counterLoop, missing, requireE2E, waitFor } from '../helpers/e2e.js';

const needs = ['root', 'dockerd', 'criu'] as const;
// A counter in the container's own layer: "<token> <n>"; a restarted process has a new token.
const COUNTER = counterLoop('/counter');

describe('migrate in-process: a failing port after the freeze rolls back', () => {
  let pair: EnginePair | undefined;
  let a: Daemon;
  let b: Daemon;

  before(async () => {
    if (await missing(needs)) return;
    pair = await startPair('extmount-mip-');
    ({ a, b } = pair);
  });
  after(async () => {
    await pair?.stop();
  });

  async function counter(daemon: Daemon, name: string): Promise<{ token: string; n: number } | undefined> {
    const r = await daemon.cli(['exec', name, 'cat', '/counter'], { reject: false });
    const [token, n] = r.stdout.trim().split(' ');
    return r.exitCode === 0 && token && n ? { token, n: Number(n) } : undefined;
  }

  for (const point of ['after-copy', 'before-start', 'after-start'] as const satisfies readonly FaultPoint[]) {
    it(`a failure at ${point} → the same process runs on a again, nothing of it on b`, async (t) => {
      if (!(await requireE2E(t, needs))) return;
      const name = `mip-${point}`;
      const sid = await runDetached(a, ['--name', name, TEST_IMAGE, 'sh', '-c', COUNTER]);
      const before = await waitFor(`${name} counting`, async () => {
        const c = await counter(a, name);
        return c && c.n >= 3 ? c : undefined;
      });
      const logs: string[] = [];
      const injected = new Error(`injected at ${point}`);
      let reached = false;
      const failure = await migrate(
        { ref: name, maps: [], copyBinds: false },
        connectEngine(resolveDockerHost(a.host, {})),
        connectEngine(resolveDockerHost(b.host, {})),
        {
          config: parseConfig({}, 'test'),
          log: textLogger('info', (line) => logs.push(line)),
          faults: {
            async at(here) {
              if (here !== point) return;
              reached = true;
              throw injected;
            },
          },
          progress: createProgress(),
        },
      ).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(reached, `migrate never reached ${point}; logs: ${logs.join(' | ')}`);
      assert.ok(failure instanceof ExtmountError, `not an ExtmountError: ${String(failure)}`);
      assert.equal(failure.exitCode, 1);
      assert.match(failure.message, /rolled back/, failure.message);
      assert.match(failure.message, new RegExp(`injected at ${point}`));

      const back = await waitFor(`${name} counting on a again`, async () => {
        const c = await counter(a, name);
        return c && c.n > before.n + 2 ? c : undefined;
      });
      assert.equal(back.token, before.token, 'the process on a was restarted, not restored');
      assert.equal((await a.docker.getContainer(name).inspect()).Id, sid, 'the container on a is the original one');
      const onB = await b.docker.listContainers({ all: true, filters: { label: [`${LABEL_FROM}=${sid}`] } });
      assert.deepEqual(
        onB.map((c) => `${c.Names.join(',')} ${c.State}`),
        [],
      );
      const volumesOnB = (await b.docker.listVolumes({ filters: { label: [`${LABEL_FROM}=${sid}`] } })).Volumes ?? [];
      assert.deepEqual(
        volumesOnB.map((v) => v.Name),
        [],
      );
      assert.ok(
        ['', 'no'].includes((await a.docker.getContainer(sid).inspect()).HostConfig.RestartPolicy?.Name ?? ''),
        'the restart policy is given back',
      );
      await a.cli(['rm', '-f', name]);
    });
  }

  // The target's data seen from here is how migrate ends a process its engine lost (moby#40613); an
  // engine on another host (here: b, saying its data root is elsewhere) leaves nothing to look at.
  it('a re-run that cannot see the target host keeps the source stopped while a never-started copy is there, and says what to check', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const name = 'mip-remote';
    const sid = await runDetached(a, ['--name', name, TEST_IMAGE, 'sh', '-c', COUNTER]);
    await waitFor(`${name} counting`, async () => ((await counter(a, name))?.n ?? 0) >= 3 || undefined);
    // Killed after the copy: the source stopped with its checkpoint, the copy on b created, never started.
    const child = execa(process.execPath, [CLI, 'migrate', name, '--from', a.host, '--to', b.host], {
      reject: false,
      stdin: 'ignore',
      env: { EXTMOUNT_MIGRATE_FAULT: 'after-copy:stop' },
    });
    await waitFor(
      'migrate to stop after the copy',
      async () => (['T', undefined].includes(processState(child.pid!)) ? true : undefined),
      60_000,
    );
    child.kill('SIGKILL');
    await child;
    const [copy] = await b.docker.listContainers({ all: true, filters: { label: [`${LABEL_FROM}=${sid}`] } });
    assert.ok(copy, 'no copy on b');

    const target = connectEngine(resolveDockerHost(b.host, {}));
    const info = target.docker.info.bind(target.docker);
    target.docker.info = (async () => ({
      ...(await info()),
      DockerRootDir: '/var/lib/docker-on-another-host',
    })) as typeof target.docker.info;
    const failure = await migrate(
      { ref: name, maps: [], copyBinds: false },
      connectEngine(resolveDockerHost(a.host, {})),
      target,
      {
        config: parseConfig({}, 'test'),
        log: textLogger('info', () => undefined),
        faults: { at: async () => undefined },
        progress: createProgress(),
      },
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failure instanceof ExtmountError, `not an ExtmountError: ${String(failure)}`);
    assert.equal(failure.exitCode, 1);
    assert.match(
      failure.message,
      new RegExp(
        `${name} stays stopped on .* with its checkpoint: the copy ${copy.Id.slice(0, 12)} .* may still run a process its engine does not show`,
      ),
      failure.message,
    );
    assert.match(failure.hint ?? '', /ctr -n moby tasks ls/);
    assert.equal((await a.docker.getContainer(sid).inspect()).State.Running, false, 'the source was started');
    assert.deepEqual(
      (await b.docker.listContainers({ all: true, filters: { label: [`${LABEL_FROM}=${sid}`] } })).map((c) => c.Id),
      [copy.Id],
      'the copy was touched',
    );

    // Seen from this host, the same re-run finishes the move.
    const rerun = await runCli(['migrate', name, '--from', a.host, '--to', b.host]);
    assert.equal(rerun.exitCode, 0, rerun.stderr);
    assert.equal((await b.docker.getContainer(name).inspect()).State.Running, true);
    await b.cli(['rm', '-f', name]);
  });
});
