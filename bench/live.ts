// Benchmark: the longest pause a process sees while `extmount migrate` moves it, post-copy (--live) vs
// stop-and-copy (--live=off), the same container shape in the same run, and against the floor: CRIU's own
// lazy migration of the same program as a plain process tree on this host (criu dump --lazy-pages, criu
// lazy-pages, criu restore --lazy-pages), with no engine, runtime or extmount in between. The process
// measures it itself: test/fixtures/live/memclock.c writes a timestamp every 10 ms and checks its memory
// page by page.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { runCli } from '../test/helpers/cli.js';
import { importTestImage, startDaemon, type Daemon } from '../test/helpers/dockerd.js';
import { WRAPPER, hostSandbox } from '../test/helpers/e2e.js';
import { buildMemclock, longestPause, runMemclock, waitForPasses } from '../test/helpers/memclock.js';
import { waitFor } from '../test/helpers/wait.js';
import { freePort } from '../src/migrate/live.js';
import { median } from './measure.js';
import { startWithRetry } from './runtime.js';
import type { BenchRow } from './run.js';

const PIPE_MAX = '/proc/sys/fs/pipe-max-size';
const PHASES = ['checkpoint', 'prepare', 'copy', 'digest', 'start'] as const;
type Phase = (typeof PHASES)[number];

export async function benchLive(options: { memories: number[]; runs: number }): Promise<BenchRow[]> {
  const sandbox = await hostSandbox('extmount-bench-live-');
  const rows: BenchRow[] = [];
  const pipeMax = (await readFile(PIPE_MAX, 'utf8')).trim();
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  try {
    // CRIU's lazy page server needs a 4 MiB pipe (docs/lazy-pages.md).
    await writeFile(PIPE_MAX, '4194304');
    const config = join(sandbox.dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        stateDir: join(sandbox.dir, 'state'),
        hostPaths: { allow: [], deny: ['/', '/etc', '/proc', '/sys', '/dev'] },
      }),
    );
    const daemon = { baseDir: sandbox.dir, runtimes: { extmount: WRAPPER }, env: { EXTMOUNT_CONFIG: config } };
    [a, b] = await Promise.all([startDaemon('a', daemon), startDaemon('b', daemon)]);
    await Promise.all([importTestImage(a), importTestImage(b)]);
    const memclock = await buildMemclock(sandbox.dir);
    const [src, dst] = [join(sandbox.dir, 'srv/a'), join(sandbox.dir, 'srv/b')];
    await execa('mkdir', ['-p', src, dst]);
    // One storage at two paths (as the migrate tests' bed): the log file is the same file on both sides.
    await execa('mount', ['--bind', src, dst]);
    for (const mib of options.memories) {
      const pauses = { postcopy: [] as number[], off: [] as number[], criu: [] as number[] };
      const downtimes = { postcopy: [] as number[], off: [] as number[] };
      const phases: Record<Phase, number[]> = { checkpoint: [], prepare: [], copy: [], digest: [], start: [] };
      const engine: number[] = [];
      for (let i = 0; i < options.runs; i++) {
        for (const mode of ['postcopy', 'off'] as const) {
          const name = `${mode}-${mib}-${i}`;
          const log = `${name}.log`;
          await runMemclock(a, { name, runtime: 'extmount', memclock, src, mib, log });
          await waitForPasses(join(src, log), 1);
          const before = Date.now();
          const r = await runCli([
            '--config',
            config,
            'migrate',
            name,
            '--from',
            a.host,
            '--to',
            b.host,
            '--map',
            `${src}=${dst}`,
            `--live=${mode}`,
            '--verify-window',
            '1s',
            '--json',
          ]);
          if (r.exitCode !== 0) throw new Error(`migrate --live=${mode} failed: ${r.stderr}`);
          const report = JSON.parse(r.stdout) as { downtimeMs: number; timings: Record<Phase, number> };
          downtimes[mode].push(report.downtimeMs);
          if (mode === 'postcopy') for (const phase of PHASES) phases[phase].push(report.timings[phase]);
          // Two full passes on b: the pause is over, and every page came back intact.
          const movedAt = Date.now();
          const clock = await waitForPasses(join(src, log), 2, { after: movedAt, timeoutMs: 120_000 });
          const bad = clock.passes.filter((p) => !p.ok);
          if (bad.length > 0)
            throw new Error(`${name}: ${bad.length} pass(es) found damaged pages after --live=${mode}`);
          pauses[mode].push(longestPause(clock, before));
          await b.cli(['rm', '-f', name]);
        }
        pauses.criu.push(await criuOwnLazyPause(join(sandbox.dir, `criu-${mib}-${i}`), memclock, mib));
        if (mib === options.memories[0]) engine.push(await engineOwnPause(a, memclock, src, `engine-${i}`));
      }
      rows.push({
        case: `longest pause the process saw, post-copy, ${mib} MiB, vs the floor`,
        ms: median(pauses.postcopy),
        baselineMs: median(pauses.criu),
        baseline: "CRIU's own lazy migration of the same program (no engine)",
        goal: '<= 2x',
        runs: options.runs,
      });
      if (engine.length > 0)
        rows.push({
          case: `  dockerd's own checkpoint create + start --checkpoint, 1 MiB, runtime runc: the pause`,
          ms: median(engine),
          baselineMs: median(pauses.criu),
          baseline: "CRIU's own lazy migration (the floor above)",
          goal: '(report)',
          runs: options.runs,
        });
      for (const phase of PHASES)
        rows.push({
          case: `  of the post-copy downtime: ${phase}`,
          ms: median(phases[phase]),
          baselineMs: median(downtimes.postcopy),
          baseline: 'that downtime',
          goal: '(report)',
          runs: options.runs,
        });
      rows.push({
        case: `longest pause the process saw, post-copy, ${mib} MiB`,
        ms: median(pauses.postcopy),
        baselineMs: median(pauses.off),
        baseline: 'stop-and-copy (--live=off)',
        goal: '<= 0.3x',
        runs: options.runs,
      });
      rows.push({
        case: `  downtime migrate reports, post-copy, ${mib} MiB`,
        ms: median(downtimes.postcopy),
        baselineMs: median(downtimes.off),
        baseline: 'stop-and-copy (--live=off)',
        goal: '(report)',
        runs: options.runs,
      });
    }
  } finally {
    await a?.stop();
    await b?.stop();
    await writeFile(PIPE_MAX, pipeMax);
    await sandbox.cleanup();
  }
  return rows;
}

/**
 * What dockerd itself costs any move through it, with no extmount and almost no memory: memclock (1 MiB, the
 * same bind) under runc, `docker checkpoint create` then `docker start --checkpoint` on the same daemon. The
 * longest pause the process saw.
 */
async function engineOwnPause(daemon: Daemon, memclock: string, src: string, name: string): Promise<number> {
  const log = join(src, `${name}.log`);
  await runMemclock(daemon, { name, memclock, src, mib: 1, log: `${name}.log` });
  try {
    await waitForPasses(log, 1);
    const before = Date.now();
    await daemon.cli(['checkpoint', 'create', name, 'cp']);
    // dockerd 20.10 may refuse the first start right after a checkpoint ("already exists"): retried, as migrate does.
    await startWithRetry(daemon, name, 'cp');
    return longestPause(await waitForPasses(log, 2, { after: Date.now() }), before);
  } finally {
    await daemon.cli(['rm', '-f', name], { reject: false });
  }
}

/**
 * The floor: memclock as a plain process tree, moved by CRIU's own lazy migration on this host, as CRIU's
 * docs give it: `criu dump --lazy-pages` (freezes, writes all but the lazy pages, then serves them), `criu
 * lazy-pages --page-server` and `criu restore --lazy-pages` on the same images. The longest pause the
 * process saw.
 */
export async function criuOwnLazyPause(dir: string, memclock: string, mib: number): Promise<number> {
  const images = join(dir, 'images');
  await mkdir(images, { recursive: true });
  const log = join(dir, 'clock.log');
  // In a PID namespace of its own, as in a container: the restore runs while the dumped task is still
  // frozen (it serves its pages) and needs its PIDs. setsid: the session is the tree's own.
  const holder = spawn('unshare', ['--pid', '--fork', 'setsid', memclock, String(mib), log], {
    detached: true,
    stdio: 'ignore',
  });
  const pid = await waitFor('unshare --pid --fork: the process', async () => {
    const children = await readFile(`/proc/${holder.pid}/task/${holder.pid}/children`, 'utf8');
    return Number(children.trim().split(' ')[0]) || undefined;
  });
  const pidfile = join(dir, 'restored.pid');
  await waitForPasses(log, 1);
  const port = await freePort();
  const before = Date.now();
  // --status-fd: a byte once the images but the lazy pages are written and the page server listens.
  const dump = execa(
    'criu',
    [
      'dump',
      '-t',
      String(pid),
      '-D',
      images,
      '-o',
      'dump.log',
      '--lazy-pages',
      '--address',
      '127.0.0.1',
      '--port',
      String(port),
      '--status-fd',
      '3',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], reject: false },
  );
  const ready = new Promise<boolean>((resolve) => {
    dump.stdio[3]!.once('data', () => resolve(true));
    dump.stdio[3]!.once('end', () => resolve(false));
  });
  let daemon: ReturnType<typeof execa> | undefined;
  try {
    if (!(await ready)) throw new Error(`criu dump --lazy-pages failed: see ${images}/dump.log`);
    daemon = execa(
      'criu',
      ['lazy-pages', '--page-server', '--address', '127.0.0.1', '--port', String(port), '-D', images, '-o', 'lazy.log'],
      { reject: false },
    );
    await waitFor('the lazy-pages daemon', async () => existsSync(join(images, 'lazy-pages.socket')), 30_000);
    const restore = await execa(
      'criu',
      ['restore', '-D', images, '-o', 'restore.log', '--lazy-pages', '-d', '--pidfile', pidfile],
      { reject: false },
    );
    if (restore.exitCode !== 0) throw new Error(`criu restore --lazy-pages failed: see ${images}/restore.log`);
    const after = await waitForPasses(log, 2, { after: Date.now(), timeoutMs: 120_000 });
    if (after.passes.some((p) => !p.ok)) throw new Error(`${log}: damaged pages after CRIU's lazy migration`);
    return longestPause(after, before);
  } finally {
    const restored = Number((await readFile(pidfile, 'utf8').catch(() => '')).trim());
    for (const p of [pid, restored].filter((p) => p > 0)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await Promise.all([dump, daemon]);
  }
}
