// A container shape the engine cannot restore is refused before anything stops: Docker 28 /
// containerd 2.1 cannot `docker start --checkpoint` a `--network none` container (containerd#12141).
// migrate moves such a container anyway, in a NetworkDisabled copy, and rolls back the same way.
// On every stack the same test runs; what it expects follows from the engines' own containerd version.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { restoreBlocker } from '../../src/core/docker/restore-blockers.js';
import { assertOneLineError, runCli, type CliResult } from '../helpers/cli.js';
import { startPair, TEST_IMAGE, type Daemon, type EnginePair } from '../helpers/dockerd.js';
import { counterLoop, missing, requireE2E } from '../helpers/e2e.js';
import { runStopped } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const needs = ['root', 'dockerd', 'criu'] as const;

describe('network shapes an engine cannot restore', () => {
  let pair: EnginePair | undefined;
  let base: string;
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  let containerd: string | undefined;

  before(async () => {
    if (await missing(needs)) return;
    pair = await startPair('extmount-net-');
    ({ base, a, b, containerd } = pair);
  });
  after(async () => {
    await pair?.stop();
  });

  const blocked = () =>
    restoreBlocker(containerd, { networkMode: 'none', networkDisabled: false, bridgeExists: false }) !== undefined;

  it('checkpoint of a --network none container: refused with the issue and left running where it cannot come back, else it round-trips', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    await a!.cli(['run', '-d', '--name', 'none1', '--network', 'none', TEST_IMAGE, 'sleep', '100000']);
    const r = await runCli(['--host', a!.host, 'checkpoint', 'none1', '--name', 'cp1']);
    if (blocked()) {
      assertOneLineError(
        r,
        2,
        /none1 would be stopped but could not be restored on unix:\S+: containerd \S+ cannot restore .*network mode "none"\) \(containerd#12141\); nothing was stopped; create the container with "NetworkDisabled": true/,
      );
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

  /** A --network none container counting into /data/counter of a fresh host folder: "<token> <n>", a restarted process has a new token. */
  async function counting(name: string): Promise<{ src: string; dst: string }> {
    const src = await mkdtemp(join(base, `${name}-src-`));
    const dst = join(base, `${name}-dst`);
    const script = counterLoop('/data/counter');
    await a!.cli([
      'run',
      '-d',
      '--name',
      name,
      '--network',
      'none',
      '-v',
      `${src}:/data`,
      TEST_IMAGE,
      'sh',
      '-c',
      script,
    ]);
    await counter(src);
    return { src, dst };
  }

  it('migrate of a running --network none container with --map and --copy-binds: it moves on every stack (a NetworkDisabled copy where containerd#12141 blocks the shape)', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const { src, dst } = await counting('none2');
    const before = await counter(src);
    const r = await runCli([
      'migrate',
      'none2',
      '--from',
      a!.host,
      '--to',
      b!.host,
      '--map',
      `${src}=${dst}`,
      '--copy-binds',
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(/containerd#12141/.test(r.stderr), blocked(), r.stderr);
    const moved = await b!.docker.getContainer('none2').inspect();
    assert.equal(moved.State.Running, true);
    assert.equal(moved.HostConfig.NetworkMode, 'none');
    assert.equal((moved.Config as { NetworkDisabled?: boolean }).NetworkDisabled === true, blocked());
    const later = await waitForCounter(dst, (c) => c.n > before.n);
    assert.equal(later.token, before.token, 'the process on b is a new one, not the migrated one');
    assert.deepEqual(await a!.docker.listContainers({ all: true, filters: { name: ['none2'] } }), []);
    await b!.docker.getContainer('none2').remove({ force: true });
  });

  it('a failed migrate of a --network none container rolls back on the source, into a NetworkDisabled copy where it cannot be restored in place; a re-run then moves it', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const { src, dst } = await counting('none3');
    const before = await counter(src);
    const args = ['migrate', 'none3', '--from', a!.host, '--to', b!.host, '--map', `${src}=${dst}`, '--copy-binds'];
    // The copied bind vanishes on b before the start: b cannot start the copy.
    const r = await runStopped(args, 'before-start', () => rm(dst, { recursive: true, force: true }));
    assert.equal(
      r.stderr.startsWith('extmount: warning: ') && /containerd#12141/.test(r.stderr.split('\n')[0]!),
      blocked(),
      r.stderr,
    );
    assertOneLineError(
      withoutWarnings(r),
      1,
      blocked()
        ? /rolled back: it runs again on unix:\S+, restored from checkpoint \S+ in a NetworkDisabled copy \([0-9a-f]{12}; containerd#12141 .*\), now named none3/
        : /rolled back: it runs again on unix:\S+, restored from checkpoint [^;\s]+; fix what the message names on the target/,
    );
    const back = await a!.docker.getContainer('none3').inspect();
    assert.equal(back.State.Running, true);
    assert.equal((back.Config as { NetworkDisabled?: boolean }).NetworkDisabled === true, blocked());
    assert.equal(back.HostConfig.NetworkMode, 'none');
    const later = await waitForCounter(src, (c) => c.n > before.n);
    assert.equal(later.token, before.token, 'the process on a was started afresh, not restored');
    // One container of that name on a, nothing on b, no checkpoint left.
    assert.deepEqual(
      (await a!.docker.listContainers({ all: true }))
        .filter((c) => c.Names.some((n) => n.startsWith('/none3')))
        .map((c) => c.Names),
      [['/none3']],
    );
    assert.deepEqual(await b!.docker.listContainers({ all: true }), []);
    assert.deepEqual(await a!.cli(['checkpoint', 'ls', 'none3']).then((c) => c.stdout.trim().split('\n').slice(1)), []);
    const again = await runCli(args);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal((await b!.docker.getContainer('none3').inspect()).State.Running, true);
    assert.equal((await waitForCounter(dst, (c) => c.n > later.n)).token, before.token);
    await b!.docker.getContainer('none3').remove({ force: true });
  });

  it('a NetworkDisabled container (the workaround the refusal names) migrates on every stack', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const c = await a!.docker.createContainer({
      name: 'nd1',
      Image: TEST_IMAGE,
      Cmd: ['sleep', '100000'],
      NetworkDisabled: true,
      HostConfig: { NetworkMode: 'none' },
    });
    await c.start();
    const r = await runCli(['migrate', 'nd1', '--from', a!.host, '--to', b!.host]);
    assert.equal(r.exitCode, 0, r.stderr);
    const moved = await b!.docker.getContainer('nd1').inspect();
    assert.equal(moved.State.Running, true);
    assert.equal((moved.Config as { NetworkDisabled?: boolean }).NetworkDisabled, true);
  });
});

/** The result with the warning lines before the error left out. */
function withoutWarnings(r: CliResult): CliResult {
  return {
    ...r,
    stderr: r.stderr
      .split('\n')
      .filter((l) => !l.startsWith('extmount: warning: '))
      .join('\n'),
  };
}

async function readCounter(dir: string): Promise<{ token: string; n: number } | undefined> {
  const match = /^(\S+) (\d+)\n?$/.exec(await readFile(join(dir, 'counter'), 'utf8').catch(() => ''));
  return match ? { token: match[1]!, n: Number(match[2]) } : undefined;
}

/** The counter once `ok` holds (an empty read, mid-write, is retried). */
async function waitForCounter(
  dir: string,
  ok: (c: { token: string; n: number }) => boolean = () => true,
): Promise<{ token: string; n: number }> {
  return waitFor(
    `the counter in ${dir}`,
    async () => {
      const c = await readCounter(dir);
      return c !== undefined && ok(c) && c;
    },
    10_000,
  );
}

const counter = (dir: string) => waitForCounter(dir);
