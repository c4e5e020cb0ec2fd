// The fault campaign of migrate: faults injected from outside the process (kills at random moments,
// the target daemon killed and restarted, the target disk full, checkpoint and layer files corrupted
// on either side and in transit), each followed by the re-run the README describes. Every round:
// never two copies, the same process (not a restart) on exactly one side, nothing of the migration left.
// EXTMOUNT_FAULT_CAMPAIGN=short runs one round of each kind (the stacks); EXTMOUNT_FAULT_SEED repeats a run;
// EXTMOUNT_FAULT_KINDS picks kinds; EXTMOUNT_FAULT_CAMPAIGNS=stop-and-copy,postcopy (or none) names the
// campaigns this run makes (default both; CI makes each on one stack, docs/testing.md). Run by migrate-faults.test.ts (stop-and-copy) and migrate-faults-live.test.ts.
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server } from 'node:net';
import { mkdir, open, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { CLI, runCli, type CliResult } from '../helpers/cli.js';
import { sleep, startDaemon, type Daemon } from '../helpers/dockerd.js';
import { missing, requireE2E } from '../helpers/e2e.js';
import { MigrateBed, assertContinues, counterNow, counterWriters, type Counter } from '../helpers/migrate-bed.js';
import { describeProcess, processState, processes, runStopped } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const needs = ['root', 'dockerd', 'criu'] as const;
const seed = Number(process.env.EXTMOUNT_FAULT_SEED ?? Date.now() % 1_000_000);
/** EXTMOUNT_FAULT_KINDS=kill,target-daemon: only those kinds (to chase one failure). */
const kinds = process.env.EXTMOUNT_FAULT_KINDS?.split(',');
/**
 * With --live=postcopy (migrate-faults-live.test.ts), every container under the extmount runtime. Two
 * kinds have nothing to hit there: a post-copy checkpoint never crosses b's API (it is copied on this
 * host) and its images on a are complete only once every page has moved.
 */
const NOT_WITH_LIVE: Partial<Record<string, string>> = {
  'in-transit': "the checkpoint is copied on this host, not through b's socket",
  'source-after-copy': "a's images of a post-copy checkpoint are written only after the last page has moved",
  'target-daemon-after-end':
    'once migrate has ended, nothing of post-copy is left: the round is the same as without --live',
};
const PIPE_MAX = '/proc/sys/fs/pipe-max-size';
/** The tests' window: shorter than the default, the same code. */
const WINDOW = ['--verify-window', '1s'];

/** mulberry32: a small seeded generator, so a failing campaign can be repeated with its seed. */
function generator(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind =
  | 'kill'
  | 'target-daemon'
  | 'target-daemon-in-start'
  | 'target-daemon-in-restore'
  | 'target-daemon-in-window'
  | 'target-daemon-after-move'
  | 'target-daemon-after-end'
  | 'disk-full'
  | 'target-checkpoint'
  | 'target-layer'
  | 'in-transit'
  | 'source-after-copy';
const ROUNDS: Record<Kind, number> = {
  kill: 10,
  'target-daemon': 4,
  'target-daemon-in-start': 1,
  'target-daemon-in-restore': 1,
  'target-daemon-in-window': 1,
  'target-daemon-after-move': 1,
  'target-daemon-after-end': 1,
  'disk-full': 2,
  'target-checkpoint': 3,
  'target-layer': 2,
  'in-transit': 2,
  'source-after-copy': 1,
};

/**
 * The campaign: EXTMOUNT_FAULT_CAMPAIGN=short runs one round of each kind. With `live`, one round of
 * each kind unless EXTMOUNT_FAULT_CAMPAIGN=full (the stop-and-copy campaign runs the same kinds in full).
 */
export function faultCampaign(options: { live: boolean }): void {
  const live = options.live;
  const campaign = process.env.EXTMOUNT_FAULT_CAMPAIGN;
  const short = campaign === 'short' || (live && campaign !== 'full');
  const mode = live ? 'postcopy' : 'stop-and-copy';
  const chosen = process.env.EXTMOUNT_FAULT_CAMPAIGNS?.split(',') ?? ['stop-and-copy', 'postcopy'];
  const unknown = chosen.filter((c) => !['stop-and-copy', 'postcopy', 'none'].includes(c));
  if (unknown.length > 0)
    throw new Error(`EXTMOUNT_FAULT_CAMPAIGNS: ${unknown.join(',')}? expected stop-and-copy, postcopy or none`);
  const skip = chosen.includes(mode)
    ? false
    : `EXTMOUNT_FAULT_CAMPAIGNS=${chosen.join(',')}: the ${mode} campaign is not part of this run`;
  const title = `migrate fault campaign (seed ${seed}${short ? ', short' : ''}${live ? ', --live=postcopy' : ''})`;
  describe(title, { skip }, () => {
    const bed = new MigrateBed();
    const random = generator(seed);
    /** A full migration's duration here, measured once: kills land anywhere within it. */
    let fullMs = 0;
    /** A third engine whose data root is a small tmpfs, for the disk-full rounds. */
    let small: Daemon | undefined;
    let smallDisk = '';
    const outcomes: string[] = [];
    const sources: string[] = [];
    let injected = 0;
    let pipeMaxBefore: string | undefined;
    /** Rounds of post-copy's one loss: every page had moved when b's engine died and took the copy with it. */
    let lostAfterMove = 0;

    before(async () => {
      if (await missing(needs)) return;
      if (live) {
        // CRIU's lazy page server needs a 4 MiB pipe (docs/lazy-pages.md).
        pipeMaxBefore = readFileSync(PIPE_MAX, 'utf8').trim();
        await writeFile(PIPE_MAX, '4194304');
      }
      await bed.start(live ? 'extmount-fltl-' : 'extmount-flt-', { live });
      smallDisk = join(bed.base, 'c', 'data');
      await mkdir(smallDisk, { recursive: true });
      await execa('mount', ['-t', 'tmpfs', '-o', 'size=384m', 'extmount-small', smallDisk]);
      small = await startDaemon('c', bed.daemonOptions);
      // The first migration carries the image to b, and says how long a whole one takes.
      const warm = await bed.startCounter('warm');
      const t0 = Date.now();
      const r = await runCli(bed.migrateArgs('warm', warm.src, warm.dst, WINDOW));
      assert.equal(r.exitCode, 0, r.stderr);
      fullMs = Date.now() - t0;
      await bed.b.cli(['rm', '-f', 'warm']);
    });

    after(async () => {
      // A writer no engine knows of (the round that saw it has failed already) would keep the bed's folder from going.
      for (const src of sources) for (const pid of counterWriters(src)) process.kill(pid, 'SIGKILL');
      await bed.stop([small]);
      if (pipeMaxBefore !== undefined) await writeFile(PIPE_MAX, pipeMaxBefore);
    });

    /** One round: a fresh counter on a, the fault, then the checks every round shares. */
    async function round(
      name: string,
      fault: (c: {
        src: string;
        dst: string;
        id: string;
        before: Counter;
      }) => Promise<{ result: CliResult; note: string; to?: Daemon }>,
    ): Promise<void> {
      const c = await bed.startCounter(name);
      sources.push(c.src);
      const before = await counterNow(c.src);
      const { result, note, to = bed.b } = await fault({ ...c, before });
      injected++;
      // A post-copy whose copy runs on b when the fault hit ends by itself: the source stays frozen (dockerd
      // shows it paused) until every page is on b. It is not a second running copy. (Frozen with no copy
      // running, it waits for the re-run, which gives the lazy dump up.)
      if (live) {
        const pulling = async () =>
          (
            await bed.a.docker
              .getContainer(name)
              .inspect()
              .catch(() => undefined)
          )?.State.Paused === true && (await bed.state(to, name))?.running === true;
        await waitFor(`${name}: the pages moving to b`, async () => !(await pulling()), 120_000);
      }
      const where = await bed.whereRunning(name, to);
      assert.ok(where.length <= 1, `${name}: runs on ${where.join(' and ')}`);
      // Whatever the run said, it said it in one line, never with a stack trace.
      if (result.exitCode === 1 || result.exitCode === 2)
        assert.doesNotMatch(result.stderr, /\n\s+at .+:\d+:\d+\)?$/m, result.stderr);
      // The re-run the README describes: the same command; it finishes, or moves it again.
      let last: Counter;
      let then = where[0] ?? 'neither (stopped with its checkpoint)';
      if (where[0] === 'b') {
        // It runs on the target: the re-run finishes what is left (exit 0), or says it was migrated (exit 2) once the source is gone.
        if (result.exitCode !== 0) {
          const rerun = await runCli(bed.migrateArgs(name, c.src, c.dst, WINDOW, to));
          assert.ok(
            rerun.exitCode === 0 || (rerun.exitCode === 2 && /it was migrated/.test(rerun.stderr)),
            `re-run of ${name}: exit ${rerun.exitCode}: ${rerun.stderr}`,
          );
          assert.equal(await bed.state(bed.a, name), undefined, `${name} is still on a`);
        }
        await bed.assertNothingLeft(name, to);
        last = await assertContinues(c.dst, before, name);
      } else if ((await bed.state(bed.a, name)) === undefined && (await bed.state(to, name)) !== undefined) {
        // The move had completed (the source removed) when b's engine died: the restarted engine killed the
        // copy. The re-run says so and names the migration's checkpoint still on b; done as it says, the
        // moved process goes on.
        const rerun = await runCli(bed.migrateArgs(name, c.src, c.dst, WINDOW, to));
        if (
          live &&
          rerun.exitCode === 2 &&
          /it was moved with post-copy \(--live\), and the migration's checkpoint \S+ there holds no memory/.test(
            rerun.stderr,
          )
        ) {
          // Post-copy: the copy the restarted engine killed held the only memory; its checkpoint has none.
          assert.deepEqual(counterWriters(c.src), [], `${name}: a process writes its counter`);
          lostAfterMove++;
          outcomes.push(
            `${name}: ${note}; exit ${result.exitCode}; the copy on b, killed by its restarted engine after the move, held the only memory: the re-run said the process went with it (exit 2)`,
          );
          await to.cli(['rm', '-f', name]);
          return;
        }
        if (
          result.exitCode === 0 &&
          / now runs on /.test(result.stdout) &&
          /but it is not running there \(\w+\): the move had finished, and that engine stopped it since/.test(
            rerun.stderr,
          )
        ) {
          // migrate had finished (exit 0, nothing of it left) a moment before b's engine was killed: that
          // engine stopped the copy on its restart (no live-restore), as it stops every container it runs.
          assert.equal(rerun.exitCode, 2, rerun.stderr);
          await bed.assertNothingLeft(name, to);
          assert.deepEqual(counterWriters(c.src), [], `${name}: a process writes its counter`);
          outcomes.push(
            `${name}: ${note}; exit 0: migrate had finished before b's engine was killed, which then stopped the copy; the re-run said so (exit 2)`,
          );
          await to.cli(['rm', '-f', name]);
          return;
        }
        const said =
          /it was migrated: .* but it is not running there \(\w+\) and the migration's checkpoint (extmount-migrate-\S+) is still there; continue the moved process from it on that engine: docker -H \S+ start --checkpoint \S+ \S+, then docker -H \S+ checkpoint rm /.exec(
            rerun.stderr,
          );
        assert.ok(rerun.exitCode === 2 && said, `re-run of ${name}: exit ${rerun.exitCode}: ${rerun.stderr}`);
        then =
          'b, killed there by its restarted engine after the move (the re-run named its checkpoint; started from it)';
        const dead = await counterNow(c.dst);
        await to.cli(['start', '--checkpoint', said[1]!, name]);
        await to.cli(['checkpoint', 'rm', name, said[1]!]);
        assert.deepEqual(await bed.whereRunning(name, to), ['b']);
        await bed.assertNothingLeft(name, to);
        // The process goes on from the checkpoint's count, below what the killed copy wrote: counted from its first write.
        const first = await waitFor(
          `${name}: the restored process writes its counter`,
          async () => {
            const k = await counterNow(c.dst);
            return k.n !== dead.n && k;
          },
          10_000,
        );
        last = await assertContinues(c.dst, first, `${name} on ${to.name}`);
      } else if (live && /every page of its memory had moved/.test(result.stderr)) {
        // Post-copy has no way back once the memory has moved: b's engine died after that and killed the
        // copy (no live-restore). migrate said so; the re-run refuses to restore the source's page-less
        // checkpoint and says the process is gone. Counted, and only for the kinds that kill b's engine.
        assert.match(
          name,
          /^(tgt|window|moved|blob|rst)-/,
          `${name}: lost after the move, but b's engine was not killed`,
        );
        const rerun = await runCli(bed.migrateArgs(name, c.src, c.dst, WINDOW, to));
        assert.equal(rerun.exitCode, 2, rerun.stderr);
        assert.match(rerun.stderr, /checkpoint .* of a post-copy migration \(--live\), which holds no memory/);
        assert.deepEqual(counterWriters(c.src), [], `${name}: a process writes its counter`);
        lostAfterMove++;
        outcomes.push(
          `${name}: ${note}; exit ${result.exitCode} (${firstLine(result)}); the process was lost with the copy on b after every page had moved, reported; the re-run refused the page-less checkpoint (exit 2)`,
        );
        await bed.a.cli(['rm', '-f', name]);
        await to.cli(['rm', '-f', name]);
        return;
      } else {
        last = await bed.assertRerunCompletes(name, c.src, c.dst, WINDOW, to);
      }
      assert.equal(last.token, before.token, `${name}: the process was restarted, not moved`);
      // Never two copies, also where no engine shows one (a start its engine died in).
      const writers = counterWriters(c.src);
      assert.equal(
        writers.length,
        1,
        `${name}: ${writers.length} processes write its counter: ${writers.map(describeProcess).join('; ')}`,
      );
      outcomes.push(
        `${name}: ${note}; exit ${result.exitCode}${result.exitCode === 0 ? '' : ` (${firstLine(result)})`}; then on ${then}; the re-run completed, same process`,
      );
      await to.cli(['rm', '-f', name]);
      await waitFor(`${name}: its counter written after docker rm -f`, writersAre(c.src, 0), 15_000);
    }

    const count = (kind: Kind) =>
      kinds && !kinds.includes(kind) ? 0 : live && NOT_WITH_LIVE[kind] ? 0 : short ? 1 : ROUNDS[kind];

    for (let i = 0; i < count('kill'); i++) {
      it(`kill ${i + 1}: migrate is killed (SIGKILL) at a random moment`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        await round(`kill-${i}`, async ({ src, dst }) => {
          const delay = Math.round(random() * fullMs);
          const child = execa(process.execPath, [CLI, ...bed.migrateArgs(`kill-${i}`, src, dst, WINDOW)], {
            reject: false,
            stdin: 'ignore',
          });
          await sleep(delay);
          child.kill('SIGKILL');
          const r = await child;
          const result = {
            exitCode: r.exitCode ?? (r.signal === 'SIGKILL' ? 137 : -1),
            stdout: String(r.stdout),
            stderr: String(r.stderr),
          };
          return {
            result,
            note: `killed after ${delay} ms of ~${fullMs}${result.exitCode === 0 ? ' (it had finished)' : ''}`,
          };
        });
      });
    }

    for (let i = 0; i < count('target-daemon'); i++) {
      it(`target daemon ${i + 1}: b's dockerd and containerd are killed (SIGKILL) mid-migration, then restarted`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        await round(`tgt-${i}`, async ({ src, dst }) => {
          const delay = Math.round(random() * fullMs * 0.8);
          const child = execa(process.execPath, [CLI, ...bed.migrateArgs(`tgt-${i}`, src, dst, WINDOW)], {
            reject: false,
            stdin: 'ignore',
          });
          await sleep(delay);
          const early = child.exitCode !== null;
          let r;
          try {
            if (!early) await bed.killDaemon(bed.b);
          } finally {
            // b back for the re-run and the next rounds, whatever happened here.
            r = await child;
            await bed.ensureB();
          }
          return {
            result: { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) },
            note: early ? `migrate had ended before ${delay} ms` : `b killed after ${delay} ms, restarted`,
          };
        });
      });
    }

    /**
     * migrate stopped at POINT (`whileStopped` runs then) and continued; `meanwhile` runs until the moment
     * to kill b (told whether migrate has ended already), then b's engine is killed; b comes back whatever happened.
     */
    async function killTargetDuring(
      name: string,
      src: string,
      dst: string,
      point: 'before-start' | 'after-start',
      meanwhile: (ended: () => boolean) => Promise<void>,
      whileStopped: () => Promise<void> = async () => undefined,
    ): Promise<CliResult> {
      const child = execa(process.execPath, [CLI, ...bed.migrateArgs(name, src, dst, WINDOW)], {
        reject: false,
        stdin: 'ignore',
        env: { EXTMOUNT_MIGRATE_FAULT: `${point}:stop` },
      });
      let r;
      try {
        await waitFor(
          `migrate to stop at ${point}`,
          async () => [undefined, 'T'].includes(processState(child.pid!)),
          60_000,
        );
        await whileStopped();
        process.kill(child.pid!, 'SIGCONT');
        await meanwhile(() => child.exitCode !== null);
        await bed.killDaemon(bed.b);
      } finally {
        r = await child;
        await bed.ensureB();
      }
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    }

    /** The first value `probe` gives (polled every few ms for up to 30 s), unless migrate ends first. */
    async function firstSeen<T>(
      probe: () => Promise<T | undefined> | T | undefined,
      ended: () => boolean,
    ): Promise<T | undefined> {
      for (const deadline = Date.now() + 30_000; !ended() && Date.now() < deadline; await sleep(2)) {
        const value = await probe();
        if (value !== undefined) return value;
      }
      return undefined;
    }

    // The moment the random rounds hit only sometimes (moby#42900): dockerd has committed the checkpoint's
    // tar to containerd (a gc.root blob it deletes once the task exists) and dies. That blob outlives
    // the restart; a start whose upload has the same digest then fails for good with "already exists".
    for (let i = 0; i < count('target-daemon-in-start'); i++) {
      it(`target daemon in start ${i + 1}: b dies while containerd holds the checkpoint's blob, then restarts`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        const blobs = join(
          bed.b.dataRoot,
          'containerd',
          'daemon',
          'io.containerd.content.v1.content',
          'blobs',
          'sha256',
        );
        await round(`blob-${i}`, async ({ src, dst }) => {
          let seen: string | undefined;
          let known = new Set<string>();
          const listBlobs = () => readdir(blobs).catch(() => [] as string[]);
          const result = await killTargetDuring(
            `blob-${i}`,
            src,
            dst,
            'before-start',
            async (ended) => {
              seen = await firstSeen(async () => (await listBlobs()).find((b) => !known.has(b)), ended);
              assert.ok(seen, "no checkpoint blob appeared in b's containerd during the start");
            },
            async () => {
              known = new Set(await listBlobs());
            },
          );
          return { result, note: `b killed holding blob ${seen!.slice(0, 12)}, restarted` };
        });
      });
    }

    // The shim runs `runc restore` for b's start; b's dockerd is stopped (SIGSTOP) so that it cannot
    // record the start, the restore completes, containerd passes the start on to the stopped dockerd,
    // then both die: the shim lives on with the restored process, and the restarted engine has the copy
    // as never started (moby#40613: `docker rm -f` of it leaves the process running).
    for (let i = 0; i < count('target-daemon-in-restore'); i++) {
      it(`target daemon in restore ${i + 1}: b stopped while its shim runs runc restore, killed once the process runs, then restarts`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        await round(`rst-${i}`, async ({ src, dst }) => {
          let restorer: number | undefined;
          const result = await killTargetDuring(`rst-${i}`, src, dst, 'before-start', async (ended) => {
            restorer = await firstSeen(() => runcRestoreUnder(bed.b.execRoot), ended);
            assert.ok(restorer !== undefined, "no runc restore seen under b's exec root during the start");
            process.kill(bed.b.pid, 'SIGSTOP');
            await waitFor('the restored process on b', writersAre(src, 1), 30_000);
            // containerd has passed the task's start on to the stopped dockerd by now: it dies with it.
            await sleep(500);
          });
          return {
            result,
            note: `b stopped while runc restore ran (pid ${restorer}), killed once the process ran, restarted`,
          };
        });
      });
    }

    // The copy runs on b and migrate watches it (the verification window) when b's engine dies: the
    // container lives on in its shim, the engine comes back and must find it running, the same process.
    for (let i = 0; i < count('target-daemon-in-window'); i++) {
      it(`target daemon in window ${i + 1}: b dies while migrate watches the started copy, then restarts`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        await round(`window-${i}`, async ({ src, dst }) => {
          const result = await killTargetDuring(`window-${i}`, src, dst, 'after-start', () => sleep(300));
          return { result, note: 'b killed 300 ms into the verification window, restarted' };
        });
      });
    }

    // The move is complete (the source container removed) when b's engine dies, before migrate has
    // cleaned up there (the random target-daemon rounds hit this moment once: seed 111161, tgt-1).
    for (let i = 0; i < count('target-daemon-after-move'); i++) {
      it(`target daemon after move ${i + 1}: b dies once the source is removed, before the clean-up there, then restarts`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        await round(`moved-${i}`, async ({ src, dst }) => {
          const child = execa(process.execPath, [CLI, ...bed.migrateArgs(`moved-${i}`, src, dst, WINDOW)], {
            reject: false,
            stdin: 'ignore',
            env: { EXTMOUNT_MIGRATE_FAULT: 'after-source-removed:stop' },
          });
          let r;
          try {
            await waitFor(
              'migrate to stop after the source is removed',
              async () => [undefined, 'T'].includes(processState(child.pid!)),
              60_000,
            );
            await bed.killDaemon(bed.b);
            process.kill(child.pid!, 'SIGCONT');
          } finally {
            r = await child;
            await bed.ensureB();
          }
          return {
            result: { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) },
            note: 'b killed once the source was removed, restarted',
          };
        });
      });
    }

    // migrate has finished (exit 0) when b's engine is killed: the restarted engine stops the copy, as it
    // stops every container it ran (no live-restore); the re-run says what happened (the random
    // target-daemon rounds hit this moment once: seed 152313, tgt-3).
    for (let i = 0; i < count('target-daemon-after-end'); i++) {
      it(`target daemon after end ${i + 1}: b dies once migrate has finished, then restarts`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        await round(`ended-${i}`, async ({ src, dst }) => {
          const result = await runCli(bed.migrateArgs(`ended-${i}`, src, dst, WINDOW));
          assert.equal(result.exitCode, 0, result.stderr);
          try {
            await bed.killDaemon(bed.b);
          } finally {
            await bed.ensureB();
          }
          return { result, note: 'b killed once migrate had finished, restarted' };
        });
      });
    }

    for (let i = 0; i < count('disk-full'); i++) {
      const point = i % 2 === 0 ? 'after-create' : 'after-checkpoint';
      it(`disk full ${i + 1}: the target's data root fills up at ${point}`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        const fill = join(smallDisk, 'fill');
        await round(`full-${i}`, async ({ src, dst }) => {
          const result = await runStopped(bed.migrateArgs(`full-${i}`, src, dst, WINDOW, small!), point, async () => {
            // Until ENOSPC: dd's failure is the point.
            await execa('dd', ['if=/dev/zero', `of=${fill}`, 'bs=1M'], { reject: false });
          });
          await rm(fill, { force: true });
          return { result, note: `data root full at ${point}`, to: small! };
        });
      });
    }

    /** The checkpoint folder of the copy migrate made on the target (created, not started). */
    async function targetCheckpoint(daemon: Daemon, sourceId: string): Promise<string> {
      const [copy] = await daemon.docker.listContainers({
        all: true,
        filters: { label: [`extmount.migrate.from=${sourceId}`] },
      });
      assert.ok(copy, 'no copy on the target');
      const dir = join(daemon.dataRoot, 'containers', copy.Id, 'checkpoints');
      const [name] = await readdir(dir);
      return join(dir, name!);
    }

    async function largest(dir: string, prefix: string): Promise<string> {
      let best = '';
      let size = -1;
      for (const f of await readdir(dir)) {
        if (!f.startsWith(prefix)) continue;
        const s = (await stat(join(dir, f))).size;
        if (s > size) [best, size] = [f, s];
      }
      assert.ok(best, `no ${prefix}* in ${dir}`);
      return join(dir, best);
    }

    /** Inverts one byte (never a no-op, as writing a fixed value over the same value would be). */
    async function flipByte(file: string, where: number): Promise<void> {
      const handle = await open(file, 'r+');
      try {
        const { size } = await handle.stat();
        const at = Math.min(size - 1, Math.floor(where * size));
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, at);
        byte[0] = byte[0]! ^ 0xff;
        await handle.write(byte, 0, 1, at);
      } finally {
        await handle.close();
      }
    }

    const checkpointDamage: Array<[string, (dir: string) => Promise<void>]> = [
      ['a flipped byte in the largest pages image', async (dir) => flipByte(await largest(dir, 'pages-'), random())],
      ['a flipped byte in a core image', async (dir) => flipByte(await largest(dir, 'core-'), 0.5)],
      [
        'inventory.img one byte short',
        async (dir) => truncate(join(dir, 'inventory.img'), (await stat(join(dir, 'inventory.img'))).size - 1),
      ],
      ['the fdinfo image deleted', async (dir) => rm(await largest(dir, 'fdinfo-'))],
    ];

    for (let i = 0; i < count('target-checkpoint'); i++) {
      const [what, damage] = checkpointDamage[i % checkpointDamage.length]!;
      it(`target checkpoint ${i + 1}: ${what} on b, after the copy → refused before the start, rolled back`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        await round(`ckpt-${i}`, async ({ src, dst, id }) => {
          const result = await runStopped(bed.migrateArgs(`ckpt-${i}`, src, dst, WINDOW), 'after-copy', async () =>
            damage(await targetCheckpoint(bed.b, id)),
          );
          assert.equal(result.exitCode, 1, result.stderr);
          assert.match(
            firstLine(result),
            /checkpoint file ".+" on the target is not what the source sent .*; rolled back: it runs again on /,
          );
          assert.deepEqual(await bed.whereRunning(`ckpt-${i}`), ['a']);
          return { result, note: `${what}: caught by the read-back` };
        });
      });
    }

    const layerDamage: Array<[string, (upper: string) => Promise<void>]> = [
      ['/root/new.txt rewritten (same size)', async (upper) => writeFile(join(upper, 'root/new.txt'), 'HELLO\n')],
      ['/newdir/sub/f deleted', async (upper) => rm(join(upper, 'newdir/sub/f'))],
    ];

    for (let i = 0; i < count('target-layer'); i++) {
      const [what, damage] = layerDamage[i % layerDamage.length]!;
      it(`target layer ${i + 1}: ${what} in the copy's upper dir on b → refused before the start, rolled back`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        await round(`layer-${i}`, async ({ src, dst, id }) => {
          const result = await runStopped(bed.migrateArgs(`layer-${i}`, src, dst, WINDOW), 'after-copy', async () => {
            const [copy] = await bed.b.docker.listContainers({
              all: true,
              filters: { label: [`extmount.migrate.from=${id}`] },
            });
            const upper = (
              (await bed.b.docker.getContainer(copy!.Id).inspect()).GraphDriver.Data as
                { UpperDir?: string } | undefined
            )?.UpperDir;
            assert.ok(upper, 'b is not overlay2');
            await damage(upper);
          });
          assert.equal(result.exitCode, 1, result.stderr);
          assert.match(firstLine(result), /writable-layer file ".+" on the target is not what the source sent/);
          return { result, note: `${what}: caught by the read-back` };
        });
      });
    }

    for (let i = 0; i < count('in-transit'); i++) {
      it(`in transit ${i + 1}: a byte of a pages image flipped on the way to b (a proxy on b's socket) → rolled back`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        const socket = join(bed.base, `flip-${i}.sock`);
        const proxy = await flippingProxy(socket, bed.b.host.replace('unix://', ''));
        try {
          const via = { ...bed.b, host: `unix://${socket}` };
          await round(`transit-${i}`, async ({ src, dst }) => {
            const result = await runCli(bed.migrateArgs(`transit-${i}`, src, dst, WINDOW, via));
            assert.ok(proxy.flipped(), 'the proxy saw no pages image');
            assert.equal(result.exitCode, 1, result.stderr);
            assert.match(firstLine(result), /rolled back: it runs again on /);
            assert.deepEqual(await bed.whereRunning(`transit-${i}`), ['a']);
            return {
              result,
              note: `flipped in transit: ${/not what the source sent/.test(result.stderr) ? 'caught by the read-back' : 'the engine refused the archive'}`,
            };
          });
        } finally {
          proxy.server.close();
        }
      });
    }

    for (let i = 0; i < count('source-after-copy'); i++) {
      it(`source after copy ${i + 1}: the source's checkpoint damaged once it was sent → the verified copy on b is used`, async (t) => {
        if (!(await requireE2E(t, needs))) return;
        await round(`src-${i}`, async ({ src, dst, id }) => {
          const result = await runStopped(bed.migrateArgs(`src-${i}`, src, dst, WINDOW), 'after-copy', async () => {
            const dir = join(bed.a.dataRoot, 'containers', id, 'checkpoints');
            const [name] = await readdir(dir);
            await flipByte(await largest(join(dir, name!), 'pages-'), 0.5);
          });
          assert.equal(result.exitCode, 0, result.stderr);
          return { result, note: 'source pages damaged after the copy' };
        });
      });
    }

    it('reports the campaign', (t) => {
      if (injected === 0) return;
      t.diagnostic(
        `seed ${seed}${live ? ', --live=postcopy' : ''}: ${injected} faults injected from outside, each followed by the re-run; a full migration took ${fullMs} ms`,
      );
      for (const o of outcomes) t.diagnostic(o);
      if (live) {
        for (const [kind, why] of Object.entries(NOT_WITH_LIVE)) t.diagnostic(`not run with --live: ${kind} (${why})`);
        t.diagnostic(
          `${lostAfterMove} round(s) lost the process with the copy on b after every page had moved (post-copy's hard failure), each reported`,
        );
      }
      assert.equal(outcomes.length, injected, 'a round failed');
      if (!short && !kinds) assert.ok(injected >= (live ? 24 : 27), `${injected} faults`);
    });
  });
}

/** A probe for waitFor: until SRC's counter has `count` writers it throws, so a timeout names the ones there are. */
function writersAre(src: string, count: number): () => Promise<true> {
  return async () => {
    const writers = counterWriters(src);
    if (writers.length !== count)
      throw new Error(`${writers.length} writers: ${writers.map(describeProcess).join('; ')}`);
    return true;
  };
}

function firstLine(r: CliResult): string {
  return r.stderr.trim().split('\n')[0] ?? '';
}

/**
 * A byte proxy in front of a dockerd socket that flips one byte of the first pages image it sees
 * going to the engine (inside a PUT of an archive), 700 bytes into its content, and nothing else.
 */
async function flippingProxy(listen: string, upstream: string): Promise<{ server: Server; flipped: () => boolean }> {
  let done = false;
  const name = Buffer.from('checkpoint/pages-');
  const server = createServer((client) => {
    const engine = createConnection(upstream);
    let seen = Buffer.alloc(0);
    let put = false;
    /** Stream offset (in `seen` terms) of the byte to flip, once the header was found. */
    let flipAt = -1;
    let passed = 0;
    client.on('data', (chunk: Buffer) => {
      if (!done) {
        seen = Buffer.concat([seen, chunk]);
        if (!put) put = seen.includes('PUT /');
        if (put && flipAt < 0) {
          const header = seen.indexOf(name);
          // The name field sits at the start of its 512-byte header, after "extmount/".
          if (header >= 0) flipAt = header - 'extmount/'.length + 512 + 700;
        }
        if (flipAt >= passed && flipAt < passed + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[flipAt - passed] = chunk[flipAt - passed]! ^ 0xff;
          done = true;
          seen = Buffer.alloc(0);
        }
      }
      passed += chunk.length;
      engine.write(chunk);
    });
    engine.on('data', (chunk) => client.write(chunk));
    client.on('end', () => engine.end());
    engine.on('end', () => client.end());
    client.on('error', () => engine.destroy());
    engine.on('error', () => client.destroy());
  });
  await rm(listen, { force: true });
  await new Promise<void>((resolve) => server.listen(listen, resolve));
  return { server, flipped: () => done };
}

/** A `runc … restore …` whose arguments name a path under ROOT (the engine's exec root), if one runs. */
function runcRestoreUnder(root: string): number | undefined {
  return processes((pid) => {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return /(^|\/)runc$/.test(argv[0]!) && argv.includes('restore') && argv.some((a) => a.startsWith(root));
  })[0];
}
