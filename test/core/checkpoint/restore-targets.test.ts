import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../../../src/core/config.js';
import { ExtmountError } from '../../../src/core/errors.js';
import type { Manifest } from '../../../src/core/checkpoint/manifest.js';
import { parseMountinfo } from '../../../src/core/mounts/mountinfo.js';
import {
  applyRemap,
  boundEntryMismatch,
  refusalOf,
  resolveRestoreTargets,
  restoreDenials,
} from '../../../src/core/checkpoint/restore-targets.js';

const manifest: Manifest = {
  format: 'extmount/v1',
  extmount: '0.1.0',
  criu: '4.1.1',
  createdAt: '2026-11-26T00:00:00Z',
  target: { kind: 'pid', pid: 42, root: '/tmp/x/root' },
  enableExternalMasters: false,
  enableExternalSharing: false,
  mounts: [
    {
      key: 'barmount',
      mountpoint: '/bar',
      hostPath: '/srv/a/foo',
      kind: 'bind',
      type: 'directory',
      readOnly: false,
      propagation: 'private',
    },
    {
      key: 'cfg',
      mountpoint: '/etc/app.conf',
      hostPath: '/srv/conf/app.conf',
      kind: 'file',
      type: 'file',
      readOnly: true,
      propagation: 'private',
    },
  ],
};

describe('resolveRestoreTargets', () => {
  it('takes --map first, then remap rules, then the recorded path', () => {
    const targets = resolveRestoreTargets(manifest, new Map([['cfg', '/srv/other.conf']]), [
      { from: '/srv/a', to: '/srv/b' },
    ]);
    assert.deepEqual(
      targets.map((t) => [t.mount.key, t.path, t.from]),
      [
        ['barmount', '/srv/b/foo', 'remap'],
        ['cfg', '/srv/other.conf', 'map'],
      ],
    );
    assert.deepEqual(
      resolveRestoreTargets(manifest, new Map(), []).map((t) => t.from),
      ['original', 'original'],
    );
  });
  it('refuses a --map for a key the images do not have', () => {
    assert.throws(
      () => resolveRestoreTargets(manifest, new Map([['nokey', '/srv']]), []),
      (e: unknown) => e instanceof ExtmountError && e.exitCode === 2 && /key nokey/.test(e.message),
    );
  });
  it('asks for --map when no host path was recorded', () => {
    const m: Manifest = { ...manifest, mounts: [{ ...manifest.mounts[0]!, hostPath: null }] };
    assert.throws(
      () => resolveRestoreTargets(m, new Map(), []),
      (e: unknown) =>
        e instanceof ExtmountError &&
        /had no host path/.test(e.message) &&
        e.hint === 'give one with --map barmount=PATH',
    );
  });
});

describe('applyRemap', () => {
  it('maps a path and everything below; the longest prefix wins', () => {
    const rules = [
      { from: '/srv', to: '/mnt' },
      { from: '/srv/a', to: '/data/b' },
    ];
    assert.equal(applyRemap('/srv/a', rules), '/data/b');
    assert.equal(applyRemap('/srv/a/x/y', rules), '/data/b/x/y');
    assert.equal(applyRemap('/srv/ab', rules), '/mnt/ab');
    assert.equal(applyRemap('/other', rules), undefined);
  });
});

describe('refusalOf (hostPaths policy)', () => {
  const policy = DEFAULT_CONFIG.hostPaths;
  it('refuses the root itself, system folders and the docker data root by default', () => {
    assert.match(refusalOf('/', policy)!, /denied host path \//);
    assert.match(refusalOf('/etc', policy)!, /\/etc/);
    assert.match(refusalOf('/etc/ssh', policy)!, /\/etc/);
    assert.match(refusalOf('/proc/1/root', policy)!, /\/proc/);
    assert.match(refusalOf('/var/lib/docker/volumes/x', policy)!, /\/var\/lib\/docker/);
    assert.equal(refusalOf('/srv/data', policy), undefined);
    assert.equal(refusalOf('/etcetera', policy), undefined);
  });
  it('refuses system, credential and engine paths by default (issue 11)', () => {
    for (const path of [
      '/root',
      '/root/.ssh',
      '/home',
      '/home/alice/data',
      '/usr',
      '/usr/lib',
      '/boot',
      '/var/lib/containerd/x',
      '/var/lib/containers/storage',
      '/var/lib/docker',
    ]) {
      assert.ok(refusalOf(path, policy), `${path} is allowed by default`);
    }
    for (const path of ['/srv/data', '/rootfs', '/homes', '/var/lib/dockerx', '/tmp/x', '/mnt/usr'])
      assert.equal(refusalOf(path, policy), undefined, path);
  });
  it("restoreDenials adds the state dir and the engines' data roots, which an allow entry can still open", () => {
    const denied = restoreDenials({ stateDir: '/var/lib/extmount/' }, [
      '/data/docker',
      '/data/docker',
      '/',
      'relative',
    ]);
    assert.deepEqual(denied, ['/var/lib/extmount', '/data/docker']);
    assert.match(refusalOf('/var/lib/extmount/abc/mnt/0', policy, denied)!, /denied host path \/var\/lib\/extmount/);
    assert.match(refusalOf('/data/docker/containers/x', policy, denied)!, /\/data\/docker/);
    assert.equal(
      refusalOf('/data/docker/volumes/shared', { allow: ['/data/docker/volumes/shared'], deny: [] }, denied),
      undefined,
    );
  });
  it('lets a more specific allow entry override a deny entry', () => {
    assert.equal(refusalOf('/etc/app/x', { allow: ['/etc/app'], deny: ['/etc'] }), undefined);
    assert.match(refusalOf('/etc/other', { allow: ['/etc/app'], deny: ['/etc'] })!, /outside the allowed/);
    assert.equal(refusalOf('/', { allow: ['/'], deny: ['/'] }), undefined);
  });
  it('with an allow list, refuses everything outside it', () => {
    assert.match(refusalOf('/tmp/x', { allow: ['/srv'], deny: [] })!, /outside the allowed host paths \(\/srv\)/);
  });
  it('refuses unclean paths and extra denials', () => {
    assert.match(refusalOf('/srv/../etc', policy)!, /clean absolute path/);
    assert.match(refusalOf('srv', policy)!, /clean absolute path/);
    assert.match(refusalOf('/srv/a\nb', policy)!, /clean absolute path/);
    assert.match(refusalOf('/data/docker/x', policy, ['/data/docker'])!, /\/data\/docker/);
  });
});

describe('boundEntryMismatch (check what you mount, issue 11)', () => {
  // The host: / on 254:0, /srv a bind of /data/srv of the same disk, the holder (a private bind of itself) under /var/lib/extmount.
  const host =
    '1 0 254:0 / / rw shared:1 - ext4 /dev/vda rw\n2 1 254:0 /data/srv /srv rw shared:1 - ext4 /dev/vda rw\n3 1 254:0 /var/lib/extmount/h /var/lib/extmount/h rw - ext4 /dev/vda rw\n';
  it('accepts a bind that shows the path it was asked for, through a bind above it too', () => {
    const table = parseMountinfo(
      `${host}4 3 254:0 /x/a/t /var/lib/extmount/h/0 rw - ext4 /dev/vda rw\n5 3 254:0 /data/srv/b /var/lib/extmount/h/1 rw - ext4 /dev/vda rw\n`,
    );
    assert.equal(boundEntryMismatch('/var/lib/extmount/h/0', '/x/a/t', table), undefined);
    assert.equal(boundEntryMismatch('/var/lib/extmount/h/1', '/srv/b', table), undefined);
  });
  it('refuses a bind that followed a symlink swapped in after the check (another root), or another device', () => {
    const table = parseMountinfo(
      `${host}4 3 254:0 /etc /var/lib/extmount/h/0 rw - ext4 /dev/vda rw\n5 3 0:40 / /var/lib/extmount/h/1 rw - tmpfs tmpfs rw\n`,
    );
    assert.match(
      boundEntryMismatch('/var/lib/extmount/h/0', '/x/a/t', table)!,
      /the bind shows \/etc of device 254:0, where \/x\/a\/t is \/x\/a\/t of device 254:0/,
    );
    assert.match(boundEntryMismatch('/var/lib/extmount/h/1', '/x/a/t', table)!, /device 0:40/);
    assert.match(boundEntryMismatch('/var/lib/extmount/h/9', '/x/a/t', table)!, /nothing is mounted at/);
  });
});
