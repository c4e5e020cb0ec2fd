// Benchmark: how long the CLI takes to start and answer offline, against `node -e 0` in the same run.
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { FIXTURES } from '../test/helpers/fixtures.js';
import { paired } from './measure.js';
import type { BenchRow } from './run.js';

const CLI = fileURLToPath(new URL('../src/cli/extmount.cjs', import.meta.url));

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, (err) => (err ? reject(err) : resolve()));
  });
}

export async function benchCli(runs = 20): Promise<BenchRow[]> {
  const cases: [string, string[]][] = [
    ['cli: detect --mountinfo (seed, 2 mounts)', ['detect', '--mountinfo', `${FIXTURES}/mountinfo/seed.mountinfo`]],
    ['cli: show (seed images)', ['show', `${FIXTURES}/images/seed`]],
    ['cli: --help', ['--help']],
    ['cli: --version', ['--version']],
    ['cli: help migrate', ['help', 'migrate']],
  ];
  const rows: BenchRow[] = [];
  for (const [name, args] of cases) {
    const [ms, baselineMs] = await paired(
      runs,
      () => run([CLI, ...args]),
      () => run(['-e', '0']),
    );
    rows.push({ case: name, ms, baselineMs, baseline: 'node -e 0', goal: '≤ 1.3×', runs });
  }
  return rows;
}
