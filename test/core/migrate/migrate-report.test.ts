import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  emptyBytes,
  formatBytes,
  formatDuration,
  formatRate,
  formatReport,
  migrationReport,
  type MigrationReport,
} from '../../../src/core/migrate/migrate-report.js';

describe('migration report', () => {
  const report: MigrationReport = {
    container: { name: 'm1', sourceId: 'a'.repeat(64), targetId: 'b'.repeat(64) },
    from: 'unix:///a.sock',
    to: 'unix:///b.sock',
    checkpoint: 'extmount-migrate-x',
    mode: 'migrated',
    downtimeMs: 1050,
    durationMs: 2240,
    timings: { checkpoint: 180, prepare: 30, copy: 500, digest: 40, start: 300, verify: 1000 },
    verified: { checkpointFiles: 12, layerFiles: 3, windowMs: 2000 },
    bytes: { ...emptyBytes(), checkpoint: 197632, rootfs: 9728, total: 207360 },
    rootfs: { copied: 4, deleted: 1, skipped: 1 },
    mounts: [{ destination: '/data', kind: 'bind', source: '/srv/a', target: '/srv/b', copied: false }],
    volumesLeftOnSource: ['vol1'],
    live: { mode: 'off', why: '--live=off: stop-and-copy', pagesBeforeResume: 120, pagesAfterResume: 0 },
  };

  it('says where it runs, the downtime, what moved, and what stayed behind', () => {
    const text = formatReport(report, 'off');
    assert.match(text, /^m1 now runs on unix:\/\/\/b\.sock \(container bbbbbbbbbbbb\)/);
    assert.match(
      text,
      /downtime: 1\.05 s \(checkpoint 180 ms, prepare 30 ms, copy 500 ms, digest 40 ms, start 300 ms\), total 2\.24 s/,
    );
    assert.match(text, /moved: 203 KiB \(checkpoint 193 KiB, rootfs 9\.5 KiB\)/);
    assert.match(text, /bind \/data: \/srv\/a → \/srv\/b\n/);
    assert.match(text, /volumes left on unix:\/\/\/a\.sock: vol1/);
    assert.match(formatReport({ ...report, mode: 'resumed', downtimeMs: null }, 'off'), /downtime: unknown/);
    assert.doesNotMatch(text, /memory:/);
  });

  it('says how the memory moved when --live was asked for', () => {
    const postcopy = formatReport(
      { ...report, live: { mode: 'postcopy', why: '--live=postcopy', pagesBeforeResume: 3, pagesAfterResume: 65536 } },
      'postcopy',
    );
    assert.match(
      postcopy,
      /\n  memory: post-copy, 65536 page\(s\) \(256 MiB\) pulled after the resume, 3 in the images before it\n/,
    );
    const fellBack = formatReport(
      {
        ...report,
        live: {
          mode: 'off',
          why: 'stop-and-copy: post-copy cannot run (fs.pipe-max-size is 1048576)',
          pagesBeforeResume: 9,
          pagesAfterResume: 0,
        },
      },
      'auto',
    );
    assert.match(fellBack, /\n  memory: stop-and-copy: post-copy cannot run \(fs\.pipe-max-size is 1048576\)\n/);
    // Decided by the --live asked for, not by the words of why: an earlier run's checkpoint is said too.
    const resumed = {
      ...report,
      live: {
        mode: 'off' as const,
        why: 'an earlier run already checkpointed it: its checkpoint holds the memory',
        pagesBeforeResume: 9,
        pagesAfterResume: 0,
      },
    };
    assert.match(formatReport(resumed, 'auto'), /\n  memory: an earlier run already checkpointed it/);
    assert.doesNotMatch(formatReport(resumed, 'off'), /memory:/);
  });

  it('says what was verified before the source went', () => {
    assert.match(
      formatReport(report, 'off'),
      /verified before the source was removed: 12 checkpoint file\(s\) and 3 layer file\(s\) as sent \(sha256\), then 2\.00 s running on the target\n/,
    );
    const notOverlay = formatReport(
      { ...report, verified: { checkpointFiles: 12, layerFiles: null, windowMs: 500 } },
      'off',
    );
    assert.match(notOverlay, /: 12 checkpoint file\(s\) as sent \(sha256\), then 500 ms running/);
    const finished = formatReport(
      { ...report, mode: 'finished', verified: { checkpointFiles: null, layerFiles: null, windowMs: 2000 } },
      'off',
    );
    assert.match(finished, /verified before the source was removed: 2\.00 s running on the target/);
  });

  it('formats sizes, rates and durations', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(5 * 1024 * 1024 * 1024), '5.0 GiB');
    assert.equal(formatRate(2048, 1000), '2.0 KiB/s');
    assert.equal(formatRate(1, 0), '-');
    assert.equal(formatDuration(250), '250 ms');
  });

  it('is built from the plan and how the run ended: binds and volumes as mounts, the volumes left on the source', () => {
    const bytes = { ...emptyBytes(), checkpoint: 10, total: 10 };
    const plan = {
      targetName: 'm1',
      container: { Id: 'a'.repeat(64) },
      source: { where: 'unix:///a.sock' },
      target: { where: 'unix:///b.sock' },
      binds: [{ destination: '/data', source: '/srv/a', target: '/srv/b' }],
      volumes: [{ destination: '/v', name: 'vol1' }],
      copyBinds: false,
    };
    const built = migrationReport(plan, {
      targetId: 'b'.repeat(64),
      checkpoint: 'extmount-migrate-x',
      mode: 'finished',
      downtimeMs: null,
      durationMs: 5,
      rootfs: undefined,
      timings: undefined,
      verified: { checkpointFiles: null, layerFiles: null, windowMs: 1000 },
      bytes,
    });
    assert.deepEqual(built.mounts, [
      { destination: '/data', kind: 'bind', source: '/srv/a', target: '/srv/b', copied: false },
      { destination: '/v', kind: 'volume', source: 'vol1', target: 'vol1', copied: true },
    ]);
    assert.deepEqual(built.volumesLeftOnSource, ['vol1']);
    assert.deepEqual(built.rootfs, { copied: 0, deleted: 0, skipped: 0 });
    assert.equal(built.timings, null);
    assert.equal(built.live, null);
    assert.deepEqual(built.container, { name: 'm1', sourceId: 'a'.repeat(64), targetId: 'b'.repeat(64) });
    // A copy: the progress counters go on after the report is made.
    bytes.total = 99;
    assert.equal(built.bytes.total, 10);
  });
});
