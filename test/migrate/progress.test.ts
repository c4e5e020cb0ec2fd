import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgress } from '../../src/migrate/progress.js';

describe('progress', () => {
  it('counts bytes by kind and in all, silently without a terminal', () => {
    const p = createProgress();
    p.add('checkpoint', 100);
    p.add('rootfs', 20);
    assert.deepEqual(p.bytes, { image: 0, checkpoint: 100, rootfs: 20, volumes: 0, binds: 0, total: 120 });
  });

  it('on a terminal, redraws one line with the phase, its bytes and rate, then clears it', () => {
    let t = 0;
    const out: string[] = [];
    const p = createProgress({ write: (s) => out.push(s), now: () => t, intervalMs: 100 });
    p.phase('copying');
    t = 500;
    p.add('checkpoint', 1024 * 1024);
    t = 550;
    p.add('checkpoint', 1);
    p.done();
    assert.equal(out.length, 3);
    assert.equal(out[1], '\r\x1b[Kextmount: copying: 1.0 MiB at 2.0 MiB/s (1.0 MiB in all)');
    assert.equal(out[2], '\r\x1b[K');
  });
});
