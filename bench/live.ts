// Benchmark: the longest pause a process sees while `extmount migrate` moves it, post-copy (--live) vs
// stop-and-copy (--live=off), the same container shape in the same run. The process measures it itself:
// test/fixtures/live/memclock.c writes a timestamp every 10 ms and checks its memory page by page.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { runCli } from '../test/helpers/cli.js';
import { importTestImage, runDetached, startDaemon, TEST_IMAGE, type Daemon } from '../test/helpers/dockerd.js';
import { WRAPPER, hostSandbox } from '../test/helpers/e2e.js';
import { buildMemclock, longestPause, readClockLog } from '../test/helpers/memclock.js';
import { median } from './measure.js';
import type { BenchRow } from './run.js';

const PIPE_MAX = '/proc/sys/fs/pipe-max-size';

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
      const pauses = { postcopy: [] as number[], off: [] as number[] };
      const downtimes = { postcopy: [] as number[], off: [] as number[] };
      for (let i = 0; i < options.runs; i++) {
        for (const mode of ['postcopy', 'off'] as const) {
          const name = `${mode}-${mib}-${i}`;
          const log = `${name}.log`;
          await runDetached(a, [
            '--name',
            name,
            '--runtime',
            'extmount',
            '-v',
            `${src}:/data`,
            '-v',
            `${memclock}:/memclock:ro`,
            TEST_IMAGE,
            '/memclock',
            String(mib),
            `/data/${log}`,
          ]);
          for (let t = 0; (await readClockLog(join(src, log))).passes.length < 1; t++) {
            if (t > 600) throw new Error(`${name}: no full pass over its memory in 60 s`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
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
          downtimes[mode].push((JSON.parse(r.stdout) as { downtimeMs: number }).downtimeMs);
          // Two full passes on b: the pause is over, and every page came back intact.
          const movedAt = Date.now();
          for (let t = 0; (await readClockLog(join(src, log))).passes.filter((p) => p.at > movedAt).length < 2; t++) {
            if (t > 1200) throw new Error(`${name}: no two full passes on b in 120 s`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          const clock = await readClockLog(join(src, log));
          const bad = clock.passes.filter((p) => !p.ok);
          if (bad.length > 0)
            throw new Error(`${name}: ${bad.length} pass(es) found damaged pages after --live=${mode}`);
          pauses[mode].push(longestPause(clock, before));
          await b.cli(['rm', '-f', name]);
        }
      }
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
