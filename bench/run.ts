// `npm run bench`: every benchmark, medians and ratios against a baseline measured in the same run.
// Usage: npm run bench [-- --json FILE] [-- --only NAME,NAME]
import { writeFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { benchCli } from './cli.js';
import { benchDecodeImage } from './criu-image.js';
import { benchDetect } from './detect.js';
import { benchLive } from './live.js';
import { benchMigrate } from './migrate.js';
import { benchRuntime } from './runtime.js';
import { benchScale } from './scale.js';
import { benchFreeze } from './freeze.js';
import { benchFreezeCri } from './freeze-cri.js';

export interface BenchRow {
  case: string;
  /** Median of extmount's runs, in ms; NaN when the case could not run here (`case` says why, `runs` is 0). */
  ms: number;
  /** Median of the baseline's runs, in ms (same machine, same run); absent for absolute goals. */
  baselineMs?: number;
  baseline?: string;
  goal: string;
  runs: number;
}

type BenchCase = () => Promise<BenchRow[]>;

// Cases that spawn processes first, the in-process ones (detect, images) last: their garbage, swept by
// V8's background threads, otherwise competes with the next cases' children for the 2 cores (the
// runtime handler's start went from ~115 to ~185 ms when it ran after detect).
const CASES: Record<string, BenchCase> = {
  cli: () => benchCli(),
  runtime: () => benchRuntime({ memories: [16, 512], runs: 5 }),
  scale: () => benchScale(),
  freeze: () => benchFreeze(),
  // containerd ≥ 2.1 only (the sid stack): elsewhere one row that says it did not run, and why.
  'freeze-cri': () => benchFreezeCri(),
  migrate: () => benchMigrate({ memories: [16, 512], runs: 3 }),
  live: () => benchLive({ memories: [256, 1024], runs: 2 }),
  detect: async () => {
    const r = await benchDetect();
    return [{ case: r.name, ms: r.medianMs, goal: '< 20 ms', runs: r.runs }];
  },
  images: async () => {
    const r = await benchDecodeImage();
    return [{ case: r.name, ms: r.medianMs, goal: '(none)', runs: r.runs }];
  },
};

async function versionOf(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false });
  return r.exitCode === 0 ? String(r.stdout).split('\n')[0]!.trim() : 'not found';
}

async function machine(): Promise<Record<string, string>> {
  return {
    date: new Date().toISOString().slice(0, 10),
    cpu: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown'}`,
    kernel: release(),
    node: process.version,
    criu: await versionOf('criu', ['--version']),
    dockerd: await versionOf('dockerd', ['--version']),
    runc: await versionOf('runc', ['--version']),
  };
}

export function formatTable(rows: readonly BenchRow[]): string {
  const cells = rows.map((r) => [
    r.case,
    Number.isFinite(r.ms) ? `${r.ms.toFixed(2)} ms` : 'not run',
    r.baselineMs === undefined ? '' : `${r.baselineMs.toFixed(2)} ms (${r.baseline})`,
    r.baselineMs === undefined ? '' : `${(r.ms / r.baselineMs).toFixed(3)}×`,
    r.goal,
    String(r.runs),
  ]);
  const header = ['case', 'extmount (median)', 'baseline (median)', 'ratio', 'goal', 'runs'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'string' }, only: { type: 'string' } } });
  const selected = values.only ? values.only.split(',') : Object.keys(CASES);
  const info = await machine();
  console.log(
    Object.entries(info)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
  );
  console.log('');
  for (const name of selected)
    if (!CASES[name]) throw new Error(`unknown case ${name} (known: ${Object.keys(CASES).join(', ')})`);
  const rows: BenchRow[] = [];
  const failed: string[] = [];
  // A case that fails is said at once and the others still run: a run's other rows are not lost with it.
  for (const name of selected) {
    try {
      rows.push(...(await CASES[name]!()));
    } catch (err) {
      failed.push(name);
      console.error(`bench ${name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  console.log(formatTable(rows));
  if (values.json) await writeFile(values.json, `${JSON.stringify({ machine: info, rows, failed }, null, 2)}\n`);
  if (failed.length > 0) {
    console.error(`bench: ${failed.join(', ')} failed (above); the table has the other cases`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
