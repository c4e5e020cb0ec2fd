// extmount migrate --live=postcopy between two real private dockerd running the extmount runtime: the
// memory moves after the resume (CRIU lazy pages), and a page server that dies during the pull is undone.
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { MigrateBed } from '../helpers/migrate-bed.js';
import { missing, requireE2E, startRuntimeDaemon, waitFor } from '../helpers/e2e.js';
import { buildMemclock, runMemclock, waitForPasses, type ClockLog } from '../helpers/memclock.js';
import { processes, runStopped } from '../helpers/processes.js';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

const argvOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
const parentOf = (pid: number) =>
  Number(
    readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /s, '')
      .split(' ')[1],
  );

/** Processes whose argv (from /proc/PID/cmdline) passes `match`. */
function processesWith(match: (argv: string[]) => boolean): number[] {
  return processes((pid) => match(argvOf(pid)));
}

function descendants(root: number): number[] {
  return processes((pid) => {
    for (let p = parentOf(pid), n = 0; p > 1 && n < 64; p = parentOf(p), n++) if (p === root) return true;
    return false;
  });
}

const needs = ['root', 'dockerd', 'criu', 'gcc'] as const;
const PIPE_MAX = '/proc/sys/fs/pipe-max-size';
const MIB = 64;
/** Big enough that the pull outlasts the moment the test needs to see the copy running on b. */
const KILL_MIB = 256;

describe('migrate --live (post-copy) through the extmount runtime', () => {
  const bed = new MigrateBed();
  let memclock = '';
  let pipeMaxBefore: string | undefined;
  let stateDir = '';

  before(async () => {
    if (await missing(needs)) return;
    // CRIU's lazy page server needs a 4 MiB pipe, above the default without CAP_SYS_RESOURCE (docs/lazy-pages.md).
    pipeMaxBefore = (await readFile(PIPE_MAX, 'utf8')).trim();
    await writeFile(PIPE_MAX, '4194304');
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    bed.base = await mkdtemp(join(tmpdir(), 'extmount-live-'));
    stateDir = join(bed.base, 'state');
    bed.config = join(bed.base, 'config.json');
    await writeFile(
      bed.config,
      JSON.stringify({
        stateDir,
        hostPaths: {
          allow: [],
          deny: ['/', '/etc', '/proc', '/sys', '/dev', '/boot', '/run', '/var/run', '/var/lib/docker'],
        },
      }),
    );
    bed.a = await startRuntimeDaemon('a', { config: bed.config, dir: join(bed.base, 'a-run') });
    bed.b = await startRuntimeDaemon('b', { config: bed.config, dir: join(bed.base, 'b-run') });
    memclock = await buildMemclock(bed.base);
  });

  after(async () => {
    await bed.stop();
    if (pipeMaxBefore !== undefined) await writeFile(PIPE_MAX, pipeMaxBefore);
  });

  /** memclock holding MIB MiB, under the extmount runtime on a, logging into SRC (shared with DST). */
  async function startClock(name: string, mib = MIB): Promise<{ src: string; dst: string; log: string }> {
    const src = join(bed.base, 'srv', name, 'a');
    const dst = join(bed.base, 'srv', name, 'b');
    await bed.sharedStorage(src, dst);
    await runMemclock(bed.a, { name, runtime: 'extmount', memclock, src, mib, log: 'clock.log' });
    const log = join(src, 'clock.log');
    await waitForPasses(log, 1, { timeoutMs: 30_000, what: `${name}: a full pass over its memory` });
    return { src, dst, log };
  }

  it('moves the memory after the resume: the same process runs on b with every page intact, the source goes only after the last page', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const { src, dst, log } = await startClock('l1');
    const r = await runCli([...bed.migrateArgs('l1', src, dst, ['--json', '--live'])]);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.live.mode, 'postcopy', JSON.stringify(report.live));
    assert.match(report.live.why, /post-copy/);
    // Nearly all of its memory came after the resume, pulled from a's page server.
    assert.ok(report.live.pagesAfterResume >= MIB * 256 * 0.9, JSON.stringify(report.live));
    assert.ok(report.live.pagesBeforeResume < MIB * 256 * 0.1, JSON.stringify(report.live));
    assert.ok(report.bytes.checkpoint < 8 * 1024 * 1024, `the images without pages: ${report.bytes.checkpoint} bytes`);
    assert.equal(typeof report.downtimeMs, 'number');
    assert.deepEqual(await bed.whereRunning('l1'), ['b']);
    assert.equal(await bed.state(bed.a, 'l1'), undefined, 'the source container is removed');
    // The same process (no new S line) goes on ticking, and completes full passes over its memory, all intact.
    const migratedAt = Date.now();
    const clock = await waitForPasses(log, 2, { after: migratedAt, what: 'l1 on b: two full passes after the move' });
    assert.deepEqual(
      clock.passes.filter((p) => !p.ok),
      [],
      'every pass found every page intact',
    );
    assert.equal(
      (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('S ')).length,
      1,
      'never restarted',
    );
    const bPid = (await bed.state(bed.b, 'l1'))!.pid;
    assert.ok(bPid > 0);
    // Nothing of the live session is left in the wrapper's state dir.
    assert.deepEqual(await readdir(join(stateDir, 'live')).catch(() => []), []);
    await bed.assertNothingLeft('l1');
  });

  it('--live=postcopy where fs.pipe-max-size is too small: refused before anything stops (exit 2); bare --live falls back to stop-and-copy and says why', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const { src, dst, log } = await startClock('l2');
    await writeFile(PIPE_MAX, '1048576');
    try {
      const refused = await runCli(bed.migrateArgs('l2', src, dst, ['--live=postcopy']));
      assertOneLineError(
        refused,
        2,
        /--live=postcopy cannot run: fs\.pipe-max-size is 1048576.*sysctl -w fs\.pipe-max-size=4194304/,
      );
      assert.deepEqual(await bed.whereRunning('l2'), ['a']);
      const bad = await runCli(bed.migrateArgs('l2', src, dst, ['--live=sideways']));
      assertOneLineError(bad, 2, /--live=sideways: expected postcopy, precopy or off/);
      const r = await runCli(bed.migrateArgs('l2', src, dst, ['--json', '--live']));
      assert.equal(r.exitCode, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.live.mode, 'off');
      assert.match(report.live.why, /stop-and-copy: post-copy cannot run \(fs\.pipe-max-size is 1048576/);
      assert.ok(report.live.pagesBeforeResume >= MIB * 256 * 0.9, JSON.stringify(report.live));
      assert.equal(report.live.pagesAfterResume, 0);
    } finally {
      await writeFile(PIPE_MAX, '4194304');
    }
    const movedAt = Date.now();
    const clock = await passAfter(log, movedAt, 'l2 on b: a full pass');
    assert.deepEqual(
      clock.passes.filter((p) => !p.ok),
      [],
    );
  });

  it("the source's page server killed while the target starts pulling: the copy on b is removed, the source runs on with its memory, nothing is left paused (exit 1)", async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const { src, dst, log } = await startClock('l3', KILL_MIB);
    const sourceId = (await bed.state(bed.a, 'l3'))!.id;
    // migrate stops just before the start on b; the source's `criu` (its page server) is killed as soon as
    // b's lazy-pages daemon runs, and migrate goes on.
    let killer: Promise<number> | undefined;
    let seen = '';
    const r = await runStopped(bed.migrateArgs('l3', src, dst, ['--live=postcopy']), 'before-start', async () => {
      killer = (async () => {
        await waitFor('l3 running on b', async () => (await bed.state(bed.b, 'l3'))?.running || undefined, 60_000, 5);
        // The source's dump: the `criu swrk` under the wrapper that runs a's `runc checkpoint --lazy-pages`.
        const ready = JSON.parse(readFileSync(join(stateDir, 'live', sourceId, 'ready.json'), 'utf8')) as {
          pid: number;
        };
        const below = descendants(ready.pid);
        // runc's child: CRIU (on Debian 12 started through the loader of extmount's CRIU bundle, /opt/extmount/criu).
        const dumpers = below.filter((pid) => !/(^|\/)runc$/.test(argvOf(pid)[0] ?? ''));
        if (dumpers.length === 0)
          seen = `below ${ready.pid} (${argvOf(ready.pid).slice(0, 3).join(' ')}): ${below.map((p) => argvOf(p).slice(0, 2).join(' ')).join('; ') || 'nothing'}`;
        for (const pid of dumpers) process.kill(pid, 'SIGKILL');
        return dumpers.length;
      })();
    });
    const killed = await killer!.catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; migrate exit ${r.exitCode}: ${r.stderr}`);
    });
    assert.ok(killed >= 1, `a CRIU of the source was killed: ${seen}; migrate exit ${r.exitCode}: ${r.stderr}`);
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /post-copy|page server|lazy/);
    // Its memory never left a: the frozen source is given back (CRIU's death releases the tasks, the wrapper
    // re-pauses what containerd paused so that containerd's resume works) and runs on.
    assert.match(
      r.stderr,
      /rolled back: it runs again on .*, where its memory never left \(the lazy checkpoint was given up\)/,
    );
    // Whatever the moment: never two copies, nothing paused, nothing of the migration left on b.
    await waitFor(
      'the copy on b gone',
      async () =>
        (await bed.b.docker.listContainers({ all: true, filters: { label: [`extmount.migrate.from=${sourceId}`] } }))
          .length === 0 || undefined,
      30_000,
    );
    const a = await bed.a.docker.getContainer('l3').inspect();
    const unpause = a.State.Paused ? await bed.a.cli(['unpause', 'l3'], { reject: false }) : undefined;
    assert.equal(
      a.State.Paused,
      false,
      `the source is not left paused (migrate said: ${r.stderr}; docker unpause now: ${unpause?.exitCode} ${unpause?.stderr})`,
    );
    assert.equal(a.State.Running, true);
    assert.equal(a.Id, sourceId);
    const resumedAt = Date.now();
    const clock = await passAfter(log, resumedAt, 'l3 on a: a full pass after the rollback');
    assert.deepEqual(
      clock.passes.filter((p) => !p.ok),
      [],
      "the source's memory is intact",
    );
    assert.equal(
      (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('S ')).length,
      1,
      'the same process, never restarted',
    );
    await waitFor(
      'no lazy-pages daemon left',
      async () => processesWith((argv) => argv.includes('lazy-pages')).length === 0 || undefined,
      30_000,
    );
  });

  it('the copy on b killed while it pulls its pages: the source, whose CRIU took that for a finished transfer, keeps its memory and runs on (exit 1)', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const { src, dst, log } = await startClock('l4', KILL_MIB);
    const sourceId = (await bed.state(bed.a, 'l4'))!.id;
    let killedAt = 0;
    const r = await runStopped(bed.migrateArgs('l4', src, dst, ['--live=postcopy']), 'before-start', async () => {
      // Not awaited here: migrate must go on (SIGCONT) to start the copy that this kills.
      void (async () => {
        const running = await waitFor(
          'l4 running on b',
          async () => ((await bed.state(bed.b, 'l4'))?.running ? await bed.state(bed.b, 'l4') : undefined),
          60_000,
          5,
        );
        process.kill(running.pid, 'SIGKILL');
        killedAt = Date.now();
      })().catch(() => undefined);
    });
    // A migrate that ended on its own before the copy ran left nothing to kill: say what it and b's engine said.
    if (killedAt === 0) {
      const engine = await readFile(join(bed.b.dir, 'dockerd.log'), 'utf8').catch(() => '');
      assert.fail(
        `the copy on b never ran to be killed; migrate exit ${r.exitCode}: ${r.stderr}\nb's dockerd.log, last lines:\n${engine.split('\n').slice(-25).join('\n')}`,
      );
    }
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /rolled back: it runs again on .*, where its memory never left/);
    const a = await bed.a.docker.getContainer('l4').inspect();
    assert.equal(a.State.Running, true);
    assert.equal(a.State.Paused, false);
    assert.equal(a.Id, sourceId);
    const clock = await passAfter(log, killedAt + 1000, 'l4 on a: a full pass after the rollback');
    assert.deepEqual(
      clock.passes.filter((p) => !p.ok),
      [],
      "the source's memory is intact",
    );
    assert.equal(
      (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('S ')).length,
      1,
      'the same process, never restarted',
    );
    await waitFor(
      'the copy on b gone',
      async () =>
        (await bed.b.docker.listContainers({ all: true, filters: { label: [`extmount.migrate.from=${sourceId}`] } }))
          .length === 0 || undefined,
      30_000,
    );
  });

  // The moments post-copy changes: frozen with the page server waiting (after the checkpoint, before the
  // start), and the pages moving without migrate (after the start). Before the freeze it is stop-and-copy's (migrate.test.ts).
  // CRIU's page server serves the first client that connects. Before its TLS (one certificate per
  // migration: adapters/live/live-tls.ts) this request for a page of the frozen source was answered with it.
  it("a client without the migration's certificate, first on the page server, gets no page: the source runs on with its memory (exit 1)", async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const { src, dst, log } = await startClock('l7', 16);
    const source = (await bed.state(bed.a, 'l7'))!;
    // The clock's memory, as root sees it: the 16 MiB anonymous mapping of its pid.
    const region = readFileSync(`/proc/${source.pid}/maps`, 'utf8')
      .split('\n')
      .map((l) => /^([0-9a-f]+)-([0-9a-f]+) rw-p 00000000 00:00 0\s*$/.exec(l))
      .find((m) => m && BigInt(`0x${m[2]}`) - BigInt(`0x${m[1]}`) >= 16n << 20n);
    assert.ok(region, `no 16 MiB anonymous mapping in /proc/${source.pid}/maps`);
    let answer: Buffer = Buffer.alloc(0);
    const r = await runStopped(bed.migrateArgs('l7', src, dst, ['--live=postcopy']), 'after-checkpoint', async () => {
      const ready = JSON.parse(await readFile(join(stateDir, 'live', source.id, 'ready.json'), 'utf8')) as {
        port: number;
      };
      answer = await pageServerGet(ready.port, BigInt(`0x${region![1]}`));
    });
    assert.ok(answer.length < 4096, `the page server sent ${answer.length} bytes to a client without the certificate`);
    // The page server wanted a TLS handshake, and refused the plain client (CRIU ends the dump there).
    const dumped = JSON.parse(await readFile(join(stateDir, source.id, 'last-checkpoint.json'), 'utf8')) as {
      ok: boolean;
      error?: string;
    };
    assert.equal(dumped.ok, false);
    assert.match(dumped.error ?? '', /tls: TLS handshake failed/);
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /rolled back: it runs again on \S+, where its memory never left/);
    assert.deepEqual(await bed.whereRunning('l7'), ['a']);
    assert.equal((await bed.a.docker.getContainer('l7').inspect()).State.Paused, false);
    const back = Date.now();
    const clock = await passAfter(log, back, 'l7 on a: a full pass after the refusal');
    assert.deepEqual(
      clock.passes.filter((p) => !p.ok),
      [],
      'every page intact',
    );
    await bed.a.cli(['rm', '-f', 'l7']);
  });

  for (const point of ['after-checkpoint', 'before-start', 'after-start'] as const) {
    it(`migrate --live killed at ${point}: never two copies running, the re-run completes, the same process with every page`, async (t) => {
      if (!(await requireE2E(t, needs))) return;
      const name = `lk-${point}`;
      const { src, dst, log } = await startClock(name);
      const r = await runCli(bed.migrateArgs(name, src, dst, ['--live=postcopy']), {
        env: { EXTMOUNT_MIGRATE_FAULT: point },
      });
      assert.equal(r.exitCode, 137, r.stderr);
      const shown = async () => ({
        a: (
          await bed.a.docker
            .getContainer(name)
            .inspect()
            .catch(() => undefined)
        )?.State,
        b: (await bed.state(bed.b, name))?.running === true,
      });
      // After the start the pages go on moving without migrate; the source is frozen (paused) meanwhile.
      const settled = await waitFor(
        `${name}: a post-copy under way ends`,
        async () => {
          const now = await shown();
          return now.a?.Paused && now.b ? undefined : now;
        },
        120_000,
      );
      const running = [settled.a?.Running && !settled.a.Paused ? 'a' : undefined, settled.b ? 'b' : undefined].filter(
        Boolean,
      );
      assert.ok(running.length <= 1, `${point}: runs on ${running.join(' and ')}`);
      if (point === 'after-start') assert.deepEqual(running, ['b']);
      else assert.deepEqual(running, [], `${point}: frozen on a, the copy on b not started`);
      const rerun = await runCli(bed.migrateArgs(name, src, dst, ['--live=postcopy']));
      assert.equal(rerun.exitCode, 0, `re-run after a kill at ${point}: ${rerun.stderr}`);
      assert.deepEqual(await bed.whereRunning(name), ['b']);
      assert.equal(await bed.state(bed.a, name), undefined);
      const after = Date.now();
      const clock = await passAfter(log, after, `${name} on b: a full pass after the re-run`);
      assert.deepEqual(
        clock.passes.filter((p) => !p.ok),
        [],
        'every page intact',
      );
      assert.equal(
        (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('S ')).length,
        1,
        'the same process, never restarted',
      );
      await bed.assertNothingLeft(name);
      await bed.b.cli(['rm', '-f', name]);
    });
  }
});

/**
 * What CRIU's page server sends back to a plain client asking, as a lazy-pages daemon does
 * (criu/page-xfer.c: struct page_server_iov, PS_IOV_GET), for one page at VADDR of the task with
 * virtual pid 1; collected until it closes, or for 3 s.
 */
async function pageServerGet(port: number, vaddr: bigint): Promise<Buffer> {
  const request = Buffer.alloc(32);
  request.writeUInt32LE(7, 0);
  request.writeBigUInt64LE(1n, 8);
  request.writeBigUInt64LE(vaddr, 16);
  request.writeBigUInt64LE(1n, 24);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, 3000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', done);
  });
}

/** The clock's log once it has a full pass over its memory that ended after SINCE (60 s at most). */
function passAfter(log: string, since: number, what: string): Promise<ClockLog> {
  return waitForPasses(log, 1, { after: since, what });
}
