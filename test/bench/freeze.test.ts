// The freeze benchmarks' reading of the tracers' log, and the table's row for a case that could not run.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FreezeSamples } from '../../bench/freeze.js';
import { formatTable } from '../../bench/run.js';

// One checkpoint per side, as the tracers log it (seconds; the shim's `state` calls in between).
const OURS = [
  '100.000 ours pause',
  '100.250 real pause',
  '100.300 ours checkpoint',
  '100.320 real state',
  '100.340 real checkpoint',
  '100.900 ours resume',
  '100.950 real resume',
];
const RUNC = [
  '200.000 runc pause',
  '200.010 runc-real pause',
  '200.060 runc checkpoint',
  '200.070 runc-real checkpoint',
  '200.800 runc resume',
  '200.810 runc-real resume',
];

describe('bench freeze', () => {
  it('measures the freeze from the real runc pause to its resume on each side, and the parts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'extmount-freeze-test-'));
    try {
      const log = join(dir, 'calls.log');
      const samples = new FreezeSamples();
      await writeFile(log, `${OURS.join('\n')}\n`);
      await samples.add(log, 'ours');
      await writeFile(log, `${RUNC.join('\n')}\n`);
      await samples.add(log, 'runc');
      const rows = samples.rows('CRI', 1);
      const ms = rows.map((r) => [r.ms, r.baselineMs].map((v) => (v === undefined ? v : Math.round(v))));
      assert.deepEqual(ms, [
        [700, 800],
        [50, 50],
        [40, undefined],
        [250, undefined],
      ]);
      assert.match(rows[0]!.case, /^CRI: the freeze/);
      await writeFile(log, `${OURS.filter((l) => !l.endsWith('real resume')).join('\n')}\n`);
      await assert.rejects(samples.add(log, 'ours'), /no real resume/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints a case that could not run as "not run", not as NaN', () => {
    const table = formatTable([{ case: 'CRI: the freeze — NOT RUN here', ms: NaN, goal: '≤ 1.05×', runs: 0 }]);
    assert.match(table, /\| CRI: the freeze — NOT RUN here \| not run +\|/);
    assert.doesNotMatch(table, /NaN/);
  });
});
