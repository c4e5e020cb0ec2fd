import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  containerInfoFromBundle,
  dockerContainerDirs,
  parseDockerConfigV2,
  parseOciSpec,
  resolveBindDestinations,
  rewriteBindSources,
  runcMappedMountpoints,
} from '../../../src/core/runtime/oci-bundle.js';

const ID = '8d3f2e2848083ade9306a02234348d65b7cc960fc076b9e16deef4c8f1d5d1f6';
const DATA = '/var/lib/docker';
// Trimmed from a bundle dockerd 20.10 wrote on this machine (-v /srv/prop:/prop:rslave, a named volume).
const CONFIG = JSON.stringify({
  ociVersion: '1.0.2-dev',
  root: { path: `${DATA}/overlay2/4e39/merged` },
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/prop', type: 'bind', source: '/srv/prop', options: ['rbind', 'rslave'] },
    { destination: '/vol/', type: 'bind', source: `${DATA}/volumes/rtvol/_data`, options: ['rbind', 'ro', 'rprivate'] },
    {
      destination: '/etc/resolv.conf',
      type: 'bind',
      source: `${DATA}/containers/${ID}/resolv.conf`,
      options: ['rbind', 'rprivate'],
    },
    {
      destination: '/etc/hostname',
      type: 'bind',
      source: `${DATA}/containers/${ID}/hostname`,
      options: ['rbind', 'rprivate'],
    },
    { destination: '/rel', type: 'none', source: 'relative/dir', options: ['bind'] },
  ],
  linux: {
    maskedPaths: ['/proc/keys', '/proc/timer_list'],
    devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }],
  },
});
const CONFIG_V2 = JSON.stringify({
  ID: ID,
  Name: '/q1',
  Config: { Image: 'extmount-busybox:1' },
  HostsPath: `${DATA}/containers/${ID}/hosts`,
  ResolvConfPath: `${DATA}/containers/${ID}/resolv.conf`,
  HostnamePath: `${DATA}/containers/${ID}/hostname`,
  MountPoints: {
    '/prop': { Source: '/srv/prop', Destination: '/prop', Type: 'bind', Name: '' },
    '/vol': { Source: `${DATA}/volumes/rtvol/_data`, Destination: '/vol', Type: 'volume', Name: 'rtvol' },
  },
});

describe('parseOciSpec', () => {
  const { spec, view } = parseOciSpec(CONFIG, '/run/bundle');

  it('keeps the bind mounts, as runc decides them (type bind or a bind/rbind option)', () => {
    assert.deepEqual(
      view.binds.map((b) => b.destination),
      ['/prop', '/vol', '/etc/resolv.conf', '/etc/hostname', '/rel'],
    );
    assert.deepEqual(view.binds[0], {
      destination: '/prop',
      specDestination: '/prop',
      index: 3,
      source: '/srv/prop',
      readOnly: false,
      propagation: 'rslave',
    });
    assert.equal(view.binds[1]!.readOnly, true);
    assert.equal(view.binds[4]!.source, '/run/bundle/relative/dir');
    assert.equal(view.rootfs, `${DATA}/overlay2/4e39/merged`);
    assert.equal(spec.ociVersion as string, '1.0.2-dev');
  });

  it('lists what runc maps itself: binds, devices, masked paths', () => {
    const mapped = runcMappedMountpoints(view);
    for (const mp of ['/prop', '/vol', '/etc/hostname', '/dev/fuse', '/proc/keys']) assert.ok(mapped.has(mp), mp);
    assert.ok(!mapped.has('/proc'));
  });

  it('refuses what is not a bundle config', () => {
    assert.throws(() => parseOciSpec('{', '/b'), /not valid JSON/);
    assert.throws(() => parseOciSpec('{"mounts": []}', '/b'), /no root.path/);
  });

  it('rewrites bind sources by destination and nothing else', () => {
    const rewritten = JSON.parse(
      rewriteBindSources(
        spec,
        view.binds,
        new Map([
          ['/prop', '/var/lib/extmount/x/mnt/0'],
          ['/vol', '/other'],
        ]),
      ),
    );
    assert.equal(rewritten.mounts[3].source, '/var/lib/extmount/x/mnt/0');
    assert.equal(rewritten.mounts[4].source, '/other');
    assert.equal(rewritten.mounts[5].source, `${DATA}/containers/${ID}/resolv.conf`);
    assert.deepEqual(rewritten.linux, JSON.parse(CONFIG).linux);
    assert.equal((spec.mounts as Array<{ source: string }>)[3]!.source, '/srv/prop', 'the original object changed');
  });
});

describe('resolveBindDestinations', () => {
  // runc's own test "checkpoint and restore (bind mount, destination is symlink)": rootfs/conf -> /real/conf.
  const config = JSON.stringify({
    root: { path: '/b/rootfs' },
    mounts: [
      { destination: '/conf', type: 'bind', source: '.', options: ['bind'] },
      { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind'] },
      { destination: '/up/x', type: 'bind', source: '/srv/x', options: ['rbind'] },
    ],
    linux: { devices: [{ path: '/dev/link', type: 'c', major: 1, minor: 3 }], maskedPaths: ['/conf'] },
  });
  const links = new Map([
    ['/conf', '/real/conf'],
    ['/up', '../../../..'],
    ['/dev/link', 'null'],
  ]);
  const parsed = parseOciSpec(config, '/b');
  const view = resolveBindDestinations(parsed.view, (p) => links.get(p));

  it('puts each bind where runc mounts it, through symlinks that never leave the rootfs', () => {
    assert.deepEqual(
      view.binds.map((b) => [b.specDestination, b.destination]),
      [
        ['/conf', '/real/conf'],
        ['/data', '/data'],
        ['/up/x', '/x'],
      ],
    );
    assert.deepEqual(view.devicePaths, ['/dev/null']);
    // addMaskPaths keys masked paths as written.
    assert.deepEqual(view.maskedPaths, ['/conf']);
    assert.ok(runcMappedMountpoints(view).has('/real/conf'));
  });

  it('keeps the destination as written when the rootfs cannot be read (runc does the same)', () => {
    const failing = resolveBindDestinations(parsed.view, () => {
      throw new Error('EACCES');
    });
    assert.deepEqual(
      failing.binds.map((b) => b.destination),
      ['/conf', '/data', '/up/x'],
    );
  });

  it('rewrites the source of the mount runc will mount there, by its index in config.json', () => {
    const rewritten = JSON.parse(rewriteBindSources(parsed.spec, view.binds, new Map([['/real/conf', '/holder/0']])));
    assert.equal(rewritten.mounts[0].source, '/holder/0');
    assert.equal(rewritten.mounts[0].destination, '/conf');
    assert.equal(rewritten.mounts[1].source, '/srv/data');
  });
});

describe('Docker metadata for the runtime', () => {
  const { view } = parseOciSpec(CONFIG, '/run/bundle');

  it('finds the container folder from the files Docker binds into every container', () => {
    assert.equal(dockerContainerDirs(view, ID)[0], `${DATA}/containers/${ID}`);
    assert.deepEqual(dockerContainerDirs(view, 'other'), [], 'not a container ID');
  });

  // Docker 28.5.2, container created with NetworkDisabled: no hostname/hosts/resolv.conf binds.
  it('without those files, reads the data root off the layer, the volumes and daemon.json, and nothing else', () => {
    const bare = parseOciSpec(
      JSON.stringify({
        root: { path: '/tmp/d/overlay2/9c1e/merged' },
        mounts: [
          { destination: '/vol', type: 'bind', source: '/srv/dr/volumes/v1/_data', options: ['rbind'] },
          { destination: '/data', type: 'bind', source: '/home/u/data', options: ['rbind', 'rslave'] },
        ],
      }),
      '/run/b',
    ).view;
    assert.deepEqual(dockerContainerDirs(bare, ID, ['/big/docker/']), [
      `/tmp/d/containers/${ID}`,
      `/srv/dr/containers/${ID}`,
      `/big/docker/containers/${ID}`,
      `/var/lib/docker/containers/${ID}`,
    ]);
    const snapshotter = parseOciSpec(
      JSON.stringify({ root: { path: 'rootfs' }, mounts: [] }),
      '/run/containerd/b',
    ).view;
    assert.deepEqual(
      dockerContainerDirs(snapshotter, ID),
      [`/var/lib/docker/containers/${ID}`],
      'a bundle rootfs names no data root',
    );
  });

  it('reads name, image, volumes and runtime files from config.v2.json', () => {
    const meta = parseDockerConfigV2(CONFIG_V2)!;
    assert.equal(meta.name, 'q1');
    assert.equal(meta.image, 'extmount-busybox:1');
    assert.deepEqual([...meta.volumes], [['/vol', 'rtvol']]);
    assert.equal(meta.runtimeFiles.length, 3);
    assert.equal(parseDockerConfigV2('not json'), undefined);
    assert.equal(parseDockerConfigV2(CONFIG_V2, ID)?.name, 'q1');
    assert.equal(parseDockerConfigV2(CONFIG_V2, 'f'.repeat(64)), undefined, "another container's record");
  });

  it('builds the container the classifier expects, with volumes named', () => {
    const info = containerInfoFromBundle(
      view,
      { id: ID, pid: 42, runtime: 'extmount' },
      parseDockerConfigV2(CONFIG_V2),
    );
    assert.equal(info.name, 'q1');
    assert.equal(info.pid, 42);
    const vol = info.mounts.find((m) => m.destination === '/vol');
    assert.deepEqual({ type: vol?.type, volumeName: vol?.volumeName }, { type: 'volume', volumeName: 'rtvol' });
    assert.equal(info.mounts.find((m) => m.destination === '/prop')?.propagation, 'rslave');
  });
});
