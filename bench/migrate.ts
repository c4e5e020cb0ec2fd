// Benchmark: `extmount migrate` between two private engines vs the same move by hand
// (docker checkpoint create, copy the checkpoint folder, docker start --checkpoint on a pre-created container).
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runCli } from '../test/helpers/cli.js';
import { importTestImage, startDaemon, TEST_IMAGE, type Daemon, runDetached } from '../test/helpers/dockerd.js';
import { hostSandbox } from '../test/helpers/e2e.js';
import { median } from './measure.js';
import type { BenchRow } from './run.js';

export async function benchMigrate(options: { memories: number[]; runs: number }): Promise<BenchRow[]> {
  const sandbox = await hostSandbox('extmount-bench-mig-');
  const rows: BenchRow[] = [];
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  try {
    a = await startDaemon('a', { baseDir: sandbox.dir });
    b = await startDaemon('b', { baseDir: sandbox.dir });
    await importTestImage(a);
    await importTestImage(b);
    const [src, dst] = [join(sandbox.dir, 'srv/a'), join(sandbox.dir, 'srv/b')];
    await mkdir(src, { recursive: true });
    await mkdir(dst, { recursive: true });
    for (const mib of options.memories) {
      const hold = `awk 'BEGIN { s = sprintf("%${mib * 1024 * 1024}s", ""); while (1) system("sleep 1") }'`;
      const run = (d: Daemon, name: string, bind: string) =>
        runDetached(d, ['--name', name, '-v', `${bind}:/data`, TEST_IMAGE, 'sh', '-c', hold]);
      const ours = { downtime: [] as number[], total: [] as number[], digest: [] as number[] };
      const hand = { downtime: [] as number[], total: [] as number[] };
      for (let i = 0; i < options.runs; i++) {
        const name = `m${mib}-${i}`;
        await run(a, name, src);
        await new Promise((resolve) => setTimeout(resolve, 500 + mib * 4));
        const r = await runCli(['migrate', name, '--from', a.host, '--to', b.host, '--map', `${src}=${dst}`, '--json']);
        if (r.exitCode !== 0) throw new Error(`extmount migrate failed: ${r.stderr}`);
        const report = JSON.parse(r.stdout) as { downtimeMs: number; durationMs: number; timings: { digest: number } };
        ours.downtime.push(report.downtimeMs);
        ours.digest.push(report.timings.digest);
        ours.total.push(report.durationMs);
        await b.cli(['rm', '-f', name]);

        const byHand = `h${mib}-${i}`;
        await run(a, byHand, src);
        await new Promise((resolve) => setTimeout(resolve, 500 + mib * 4));
        const started = performance.now();
        await b.cli([
          'create',
          '--name',
          byHand,
          '--network',
          'none',
          '-v',
          `${dst}:/data`,
          TEST_IMAGE,
          'sh',
          '-c',
          hold,
        ]);
        const frozen = performance.now();
        await a.cli(['checkpoint', 'create', byHand, 'cp']);
        const [idA, idB] = await Promise.all([
          a.docker.getContainer(byHand).inspect(),
          b.docker.getContainer(byHand).inspect(),
        ]).then((x) => x.map((c) => c.Id));
        await cp(
          join(a.dataRoot, 'containers', idA!, 'checkpoints', 'cp'),
          join(b.dataRoot, 'containers', idB!, 'checkpoints', 'cp'),
          { recursive: true },
        );
        await b.cli(['start', '--checkpoint', 'cp', byHand]);
        const done = performance.now();
        hand.downtime.push(done - frozen);
        hand.total.push(done - started);
        await a.cli(['rm', '-f', byHand]);
        await b.cli(['rm', '-f', byHand]);
      }
      rows.push({
        case: `migrate downtime, ${mib} MiB dirty, one bind remapped`,
        ms: median(ours.downtime),
        baselineMs: median(hand.downtime),
        baseline: 'by hand, same machine',
        goal: '(report)',
        runs: options.runs,
      });
      rows.push({
        case: `  of which the read-back on the target (sha256), ${mib} MiB`,
        ms: median(ours.digest),
        baselineMs: median(ours.downtime),
        baseline: 'that downtime',
        goal: '(report)',
        runs: options.runs,
      });
      rows.push({
        case: `migrate total, ${mib} MiB dirty`,
        ms: median(ours.total),
        baselineMs: median(hand.total),
        baseline: 'by hand, same machine',
        goal: '(report)',
        runs: options.runs,
      });
    }
  } finally {
    await a?.stop();
    await b?.stop();
    await sandbox.cleanup();
  }
  return rows;
}
