import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { criuRootLeftovers } from '../../../src/core/runtime/criu-root.js';
import type { MountInfo } from '../../../src/core/mounts/mountinfo.js';

const mount = (mountpoint: string): MountInfo =>
  ({
    mountId: 1,
    parentId: 0,
    major: 0,
    minor: 0,
    root: '/',
    mountpoint,
    options: [],
    optionalFields: [],
    fstype: 'overlay',
    source: 'overlay',
    superOptions: [],
  }) as unknown as MountInfo;

describe('criuRootLeftovers', () => {
  it('finds the criu-root mounts of one container below one runc root, deepest and latest first', () => {
    const root = '/run/docker/runtime-runc/moby';
    const table = [
      mount('/'),
      mount(`${root}/c1/criu-root`),
      mount(`${root}/c1/criu-root/proc`),
      mount(`${root}/c1/criu-root`),
      mount(`${root}/c2/criu-root`),
      mount(`${root}/c1/criu-rootx`),
      mount('/var/lib/docker/overlay2/x/merged'),
    ];
    assert.deepEqual(criuRootLeftovers(table, `${root}/`, 'c1'), [
      `${root}/c1/criu-root/proc`,
      `${root}/c1/criu-root`,
      `${root}/c1/criu-root`,
    ]);
    assert.deepEqual(criuRootLeftovers(table, root, 'c3'), []);
  });
});
