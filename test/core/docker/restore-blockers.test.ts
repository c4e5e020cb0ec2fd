import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseContainerdVersion,
  restoreBlocker,
  restoreRoute,
  type RestoreShape,
} from '../../../src/core/docker/restore-blockers.js';

const none: RestoreShape = { networkMode: 'none', networkDisabled: false, bridgeExists: false };

describe('restoreBlocker (containerd#12141)', () => {
  it('reads containerd versions as Docker 20.10, 26 and 28 report them', () => {
    assert.deepEqual(parseContainerdVersion('1.6.20~ds1'), [1, 6]);
    assert.deepEqual(parseContainerdVersion('1.7.24~ds1'), [1, 7]);
    assert.deepEqual(parseContainerdVersion('v2.1.9'), [2, 1]);
    assert.equal(parseContainerdVersion('unknown'), undefined);
  });

  it('blocks a --network none container on containerd 2.1, with the issue and a workaround', () => {
    const b = restoreBlocker('2.1.9~ds1', none);
    assert.ok(b);
    assert.match(b.reason, /containerd 2\.1\.9~ds1 cannot restore .*network mode "none"/);
    assert.equal(b.upstream, 'containerd#12141');
    assert.match(b.workaround, /NetworkDisabled/);
  });

  it('lets through what restores there: NetworkDisabled, default mode without a bridge, host', () => {
    assert.equal(restoreBlocker('2.1.9', { ...none, networkDisabled: true }), undefined);
    assert.equal(restoreBlocker('2.1.9', { ...none, networkMode: 'default' }), undefined);
    assert.equal(restoreBlocker('2.1.9', { ...none, networkMode: 'host' }), undefined);
    assert.ok(restoreBlocker('2.1.9', { ...none, networkMode: 'default', bridgeExists: true }));
    assert.ok(restoreBlocker('2.2.0', { ...none, networkMode: 'mynet' }));
  });

  it('blocks nothing on containerd 1.6, 1.7, 2.0 or an unknown version', () => {
    for (const v of ['1.6.20~ds1', '1.7.24', 'v2.0.5', undefined])
      assert.equal(restoreBlocker(v, none), undefined, String(v));
  });
});

describe('restoreRoute', () => {
  it('restores in place wherever nothing blocks it', () => {
    assert.deepEqual(restoreRoute('1.7.24', none), { kind: 'in-place' });
    assert.deepEqual(restoreRoute('2.1.9', { ...none, networkDisabled: true }), { kind: 'in-place' });
  });

  it('offers a NetworkDisabled copy for --network none on containerd 2.1, naming the issue', () => {
    const route = restoreRoute('2.1.9', none);
    assert.equal(route.kind, 'network-disabled-copy');
    assert.equal(route.kind === 'network-disabled-copy' ? route.blocker.upstream : undefined, 'containerd#12141');
  });

  it('blocks a shape whose copy would lose its network (a bridge or a named network)', () => {
    assert.equal(restoreRoute('2.1.9', { ...none, networkMode: 'mynet' }).kind, 'blocked');
    assert.equal(restoreRoute('2.1.9', { ...none, networkMode: 'bridge', bridgeExists: true }).kind, 'blocked');
  });
});
