import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyMounts, type ClassifiedMount } from '../../../src/core/mounts/classify.js';
import { ExtmountError } from '../../../src/core/errors.js';
import { parseMountinfo } from '../../../src/core/mounts/mountinfo.js';
import { containerInfoFromInspect } from '../../../src/adapters/docker/docker.js';
import { fixture, inspectFixture } from '../../helpers/fixtures.js';

function classifyFixture(name: string, withContainer = true) {
  const mounts = parseMountinfo(fixture(`mountinfo/${name}.mountinfo`));
  const hostMounts = parseMountinfo(fixture(`mountinfo/${name}.host.mountinfo`));
  const container = withContainer ? containerInfoFromInspect(inspectFixture(name)) : undefined;
  return { container, ...classifyMounts(mounts, { hostMounts, ...(container ? { container } : {}) }) };
}

function at(mounts: ClassifiedMount[], mountpoint: string): ClassifiedMount {
  const found = mounts.find((m) => m.mountpoint === mountpoint);
  assert.ok(found, `no mount at ${mountpoint}`);
  return found;
}

describe('classifyMounts on the seed tree', () => {
  const mounts = parseMountinfo(fixture('mountinfo/seed.mountinfo'));
  const hostMounts = parseMountinfo(fixture('mountinfo/seed.host.mountinfo'));

  it('finds /bar external, with the bound host folder as host path', () => {
    const result = classifyMounts(mounts, { hostMounts });
    assert.equal(result.root.class, 'root');
    const bar = at(result.mounts, '/bar');
    assert.equal(bar.class, 'external');
    assert.equal(bar.external?.kind, 'bind');
    assert.equal(bar.external?.hostPath, mounts[1]!.root); // the host's / is 254:0 at /
    assert.match(bar.reason, /not reachable from the tree's root/);
    assert.equal(bar.external?.needsExternalMasters, false);
    assert.equal(result.rootHostPath, mounts[0]!.root);
  });

  it('without a host view, assumes the device is mounted at / on the host', () => {
    const bar = at(classifyMounts(mounts).mounts, '/bar');
    assert.equal(bar.external?.hostPath, mounts[1]!.root);
  });

  it('calls a bind from inside the root internal', () => {
    const root = mounts[0]!;
    const inside = parseMountinfo(
      `${root.mountId} 1 254:0 ${root.root} / rw - ext4 /dev/vda rw\n99 ${root.mountId} 254:0 ${root.root}/sub /bar rw - ext4 /dev/vda rw\n`,
    );
    const bar = at(classifyMounts(inside, { hostMounts }).mounts, '/bar');
    assert.equal(bar.class, 'internal');
    assert.equal(bar.external, undefined);
  });

  it('refuses an unknown --root-mount', () => {
    assert.throws(
      () => classifyMounts(mounts, { rootMountId: 4242 }),
      (err: unknown) => err instanceof ExtmountError && err.exitCode === 2 && /--root-mount 4242/.test(err.message),
    );
  });
});

describe('classifyMounts on a Docker container (bind, volume, file bind, tmpfs)', () => {
  const { mounts, root, container } = classifyFixture('docker-mixed');

  it('classifies every mount with a reason', () => {
    assert.equal(root.mount.fstype, 'overlay');
    for (const m of mounts) assert.ok(m.reason.length > 10, `${m.mountpoint}: no reason`);
  });

  it('reports the bind with its host path', () => {
    const data = at(mounts, '/data');
    assert.equal(data.class, 'external');
    assert.equal(data.external?.kind, 'bind');
    assert.equal(data.external?.hostPath, container!.mounts.find((m) => m.destination === '/data')!.source);
  });

  it('reports the named volume with its name', () => {
    const vol = at(mounts, '/vol');
    assert.equal(vol.external?.kind, 'volume');
    assert.equal(vol.external?.volumeName, 'fxvol');
    assert.match(vol.external!.hostPath!, /\/volumes\/fxvol\/_data$/);
  });

  it('reports the read-only file bind', () => {
    const file = at(mounts, '/etc/file.txt');
    assert.equal(file.class, 'external');
    assert.equal(file.external?.readOnly, true);
  });

  it('leaves tmpfs, proc, sysfs, devpts, mqueue and cgroups to CRIU', () => {
    assert.equal(at(mounts, '/scratch').class, 'special');
    assert.match(at(mounts, '/scratch').reason, /dumps its content/);
    for (const mp of ['/proc', '/dev', '/dev/pts', '/sys', '/dev/mqueue', '/dev/shm', '/sys/fs/cgroup/memory']) {
      assert.equal(at(mounts, mp).class, 'special', mp);
    }
  });

  it('calls the masked /proc paths internal binds', () => {
    assert.equal(at(mounts, '/proc/keys').class, 'internal');
    assert.equal(at(mounts, '/proc/sys').class, 'internal');
  });

  it("marks Docker's /etc/hosts, resolv.conf and hostname runtime-managed", () => {
    for (const mp of ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname']) {
      const m = at(mounts, mp);
      assert.equal(m.class, 'runtime', mp);
      assert.equal(m.external?.kind, 'runtime');
      assert.ok(container!.runtimeFiles.includes(m.external!.hostPath!));
    }
  });

  // Podman's Docker-compatible API (podman system service) lists only hosts, hostname and resolv.conf;
  // the paths are Podman's layout, as test/integration/podman-runtime.test.ts sees it in the bundle.
  it("marks Podman's .containerenv and /dev/shm runtime-managed though its API does not list them", () => {
    const id = 'c0ffee'.padEnd(64, '0');
    const run = `/run/containers/storage/overlay-containers/${id}/userdata`;
    const graph = `/var/lib/containers/storage/overlay-containers/${id}/userdata`;
    const host = parseMountinfo(
      [
        '27 1 254:0 / / rw shared:1 - ext4 /dev/vda rw',
        '40 27 0:30 / /run rw shared:2 - tmpfs tmpfs rw',
        `60 27 0:60 / ${graph}/shm rw shared:30 - tmpfs shm rw,size=64000k`,
      ].join('\n'),
    );
    const tree = parseMountinfo(
      [
        '200 150 0:50 / / rw - overlay overlay rw',
        `201 200 0:30 /containers/storage/overlay-containers/${id}/userdata/.containerenv /run/.containerenv rw - tmpfs tmpfs rw`,
        `202 200 0:30 /containers/storage/overlay-containers/${id}/userdata/hosts /etc/hosts rw - tmpfs tmpfs rw`,
        '203 200 0:60 / /dev/shm rw master:30 - tmpfs shm rw,size=64000k',
        `204 200 0:30 /containers/storage/overlay-containers/${'f'.repeat(64)}/userdata/.containerenv /other rw - tmpfs tmpfs rw`,
      ].join('\n'),
    );
    const container = {
      id,
      name: 'p1',
      image: 'i',
      pid: 1,
      running: true,
      runtime: 'runc',
      mounts: [],
      runtimeFiles: [`${run}/hosts`],
    };
    const classified = classifyMounts(tree, { hostMounts: host, container }).mounts;
    for (const mp of ['/run/.containerenv', '/etc/hosts', '/dev/shm'])
      assert.equal(at(classified, mp).class, 'runtime', mp);
    assert.equal(at(classified, '/other').class, 'external', "another container's file is not this one's runtime file");
  });

  it('without the container config, still recognises runtime files by name', () => {
    const bare = classifyFixture('docker-mixed', false);
    assert.equal(at(bare.mounts, '/etc/hosts').class, 'runtime');
    assert.equal(at(bare.mounts, '/vol').external?.kind, 'bind');
  });

  it('finds a host tmpfs bound into the tree external, not special', () => {
    const host = parseMountinfo('27 1 254:0 / / rw - ext4 /dev/vda rw\n25 27 0:23 / /dev/shm rw - tmpfs tmpfs rw\n');
    const tree = parseMountinfo(
      '100 1 254:0 /srv/root / rw - ext4 /dev/vda rw\n101 100 0:23 / /hostshm rw - tmpfs tmpfs rw\n',
    );
    const shm = at(classifyMounts(tree, { hostMounts: host }).mounts, '/hostshm');
    assert.equal(shm.class, 'external');
    assert.equal(shm.external?.hostPath, '/dev/shm');
  });
});

describe('classifyMounts on a mount propagated after start (rslave)', () => {
  const { mounts } = classifyFixture('docker-propagated');

  it('finds /prop/sub as propagated, flagged for external masters', () => {
    const sub = at(mounts, '/prop/sub');
    assert.equal(sub.class, 'external');
    assert.equal(sub.external?.kind, 'propagated');
    assert.equal(sub.external?.propagation, 'slave');
    assert.equal(sub.external?.needsExternalMasters, true);
    assert.match(sub.external!.hostPath!, /\/disk2$/);
    assert.match(sub.reason, /appeared after start, propagated from the host through \/prop \(rslave\)/);
    assert.match(sub.reason, /--enable-external-masters/);
  });

  it('keeps the configured /prop a bind', () => {
    const prop = at(mounts, '/prop');
    assert.equal(prop.external?.kind, 'bind');
    assert.equal(prop.external?.propagation, 'slave');
  });
});

describe('classifyMounts on a saved host-view mountinfo', () => {
  it('classifies the subtree under --root-mount with paths relative to it', () => {
    const host = parseMountinfo(fixture('mountinfo/docker-mixed.host.mountinfo'));
    const overlay = host.find((m) => m.fstype === 'overlay')!;
    const result = classifyMounts(host, { rootMountId: overlay.mountId, hostMounts: host });
    assert.equal(result.root.mountpoint, '/');
    assert.equal(result.mounts.length, 1);
  });
});

describe('classifyMounts on 10,000 real mounts', () => {
  it('finds the 5,000 external binds and the 5,000 internal ones', () => {
    const mounts = parseMountinfo(fixture('mountinfo/many.mountinfo.gz'));
    const result = classifyMounts(mounts);
    const count = (cls: string) => result.mounts.filter((m) => m.class === cls).length;
    assert.equal(count('external'), 5000);
    assert.equal(count('internal'), 5000);
    assert.ok(result.mounts.filter((m) => m.class === 'external').every((m) => /^\/m\/e\d+$/.test(m.mountpoint)));
  });
});
