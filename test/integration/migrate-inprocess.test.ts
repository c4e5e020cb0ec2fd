// migrate() in-process, between two real private dockerd, through its injected ports: a Faults port
// that fails at a named point, a log that collects, a silent progress. Each failure after the freeze
// must roll back: the same process runs on a again, nothing of it is left on b, the error says so.
// (The CLI-level fault tests in migrate.test.ts kill the process instead, and re-run it.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectEngine } from '../../src/adapters/docker.js';
import { textLogger } from '../../src/adapters/log.js';
import { parseConfig } from '../../src/core/config.js';
import { resolveDockerHost } from '../../src/core/docker/docker-host.js';
import { ExtmountError } from '../../src/core/errors.js';
import { LABEL_FROM } from '../../src/core/migrate/migrate-config.js';
import type { FaultPoint } from '../../src/migrate/faults.js';
import { migrate } from '../../src/migrate/migrate.js';
import { createProgress } from '../../src/migrate/progress.js';
import { runDetached, startPair, TEST_IMAGE, type Daemon, type EnginePair } from '../helpers/dockerd.js';
import { missing, requireE2E, waitFor } from '../helpers/e2e.js';

const needs = ['root', 'dockerd', 'criu'] as const;
// A counter in the container's own layer: "<token> <n>"; a restarted process has a new token.
const COUNTER = 'tok=$(cat /proc/sys/kernel/random/uuid); i=0; while true; do i=$((i+1)); echo "$tok $i" > /counter; sleep 0.1; done';

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
      const failure = await migrate({ ref: name, maps: [], copyBinds: false }, connectEngine(resolveDockerHost(a.host, {})), connectEngine(resolveDockerHost(b.host, {})), {
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
      }).then(
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
      assert.deepEqual(onB.map((c) => `${c.Names.join(',')} ${c.State}`), []);
      const volumesOnB = (await b.docker.listVolumes({ filters: { label: [`${LABEL_FROM}=${sid}`] } })).Volumes ?? [];
      assert.deepEqual(volumesOnB.map((v) => v.Name), []);
      assert.ok(['', 'no'].includes((await a.docker.getContainer(sid).inspect()).HostConfig.RestartPolicy?.Name ?? ''), 'the restart policy is given back');
      await a.cli(['rm', '-f', name]);
    });
  }
});
