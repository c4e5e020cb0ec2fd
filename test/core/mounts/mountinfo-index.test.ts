import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyMounts } from '../../../src/core/mounts/classify.js';
import { ExtmountError } from '../../../src/core/errors.js';
import { detachPropagationRisk, findSharingSource, mountOfPath } from '../../../src/core/mounts/host-mounts.js';
import { deviceKey, parseMountinfo, type MountInfo } from '../../../src/core/mounts/mountinfo.js';
import { indexMountinfo, selectMounts } from '../../../src/core/mounts/mountinfo-index.js';
import { classifyOnHost } from '../../../src/core/mounts/classify-on-host.js';
import { containerInfoFromInspect } from '../../../src/adapters/docker/docker.js';
import { fixture, inspectFixture } from '../../helpers/fixtures.js';

// The captured host of docker-propagated (prop shared:3, disk2 on prop/sub shared:5), grown as a Kubernetes
// node's: 5,000 tmpfs binds, root-device binds that share disk2's content with a peer group, a tmpfs over
// /opt with a shared bind of it elsewhere, a mount on another device below prop/sub, a line with an
// escaped space, and a tmpfs in the peer group of the container's shared mount only.
const captured = fixture('mountinfo/docker-propagated.host.mountinfo');
const extra: string[] = [];
let id = 5000;
for (let i = 0; i < 5000; i++)
  extra.push(`${id++} 27 0:900 /src /var/lib/kubelet/pods/${i}/volumes/token rw,relatime shared:900 - tmpfs tmpfs rw`);
for (let i = 0; i < 50; i++)
  extra.push(`${id++} 27 254:0 /srv/extmount-fixtures/disk2 /mnt/k/${i} rw,relatime master:5 - ext4 /dev/vda rw`);
extra.push(`${id++} 27 0:901 / /opt rw,relatime - tmpfs over-opt rw`);
extra.push(`${id++} 27 0:901 /data /media/copy rw,relatime shared:79 - tmpfs over-opt rw`);
extra.push(`${id++} 61 0:902 / /srv/extmount-fixtures/prop/sub/x rw,relatime shared:77 - tmpfs below-sub rw`);
extra.push(`${id++} 27 254:0 /srv/with\\040space /srv/with\\040space rw,relatime shared:78 - ext4 /dev/vda rw`);
extra.push(`${id++} 27 0:903 / /var/peer rw,relatime master:4 - tmpfs peer rw`);
const bigText = `${captured}${extra.join('\n')}\n`;
const big = parseMountinfo(bigText, 'big', { format: 'kernel' });
const index = indexMountinfo(bigText, 'big');

const containerMounts = parseMountinfo(fixture('mountinfo/docker-propagated.mountinfo'));
const container = containerInfoFromInspect(inspectFixture('docker-propagated'));
const needs = { devices: containerMounts.map(deviceKey), peerGroups: [4] };

function same(a: ReturnType<typeof findSharingSource>, b: ReturnType<typeof findSharingSource>, path: string): void {
  assert.deepEqual(
    { kind: b.kind, path: 'path' in b ? b.path : undefined, mount: b.mount?.mountId },
    { kind: a.kind, path: 'path' in a ? a.path : undefined, mount: a.mount?.mountId },
    `findSharingSource(${path})`,
  );
}

describe('indexMountinfo', () => {
  it('tells a table that shows one mount ID twice (a read torn by a mount that came and went)', () => {
    assert.equal(index.repeatsMountId, false);
    const line = (id: number, at: string) => `${id} 27 0:900 / ${at} rw - tmpfs tmpfs rw`;
    const torn = indexMountinfo(`${captured}${line(9000, '/a')}\n${line(9001, '/b')}\n${line(9000, '/c')}\n`, 'torn');
    assert.equal(torn.repeatsMountId, true);
    // A line whose mount ID does not read is not taken for a repeat.
    const noId = `x 27 0:900 / /d rw - tmpfs tmpfs rw`;
    assert.equal(indexMountinfo(`${captured}${noId}\n${noId}\n`, 'broken').repeatsMountId, false);
  });
});

describe('selectMounts', () => {
  it('classifies the container as on the whole table, from a few lines of it', () => {
    const selected = selectMounts(index, needs);
    assert.ok(selected.length < 100, `${selected.length} of ${big.length} lines parsed`);
    assert.deepEqual(
      classifyMounts(containerMounts, { hostMounts: selected, container }),
      classifyMounts(containerMounts, { hostMounts: big, container }),
    );
  });

  it('takes in the mounts of a peer group the container shares, whatever their device', () => {
    const shared = containerMounts.map((m) => (m.mountpoint === '/' ? { ...m, master: undefined, shared: 4 } : m));
    const selected = selectMounts(index, { devices: shared.map(deviceKey), peerGroups: [4] });
    assert.ok(selected.some((m) => m.source === 'peer'));
    const root = (hostMounts: MountInfo[]) => classifyMounts(shared, { hostMounts, container }).root;
    assert.deepEqual(root(selected), root(big));
    assert.ok(!selectMounts(index, { devices: shared.map(deviceKey) }).some((m) => m.source === 'peer'));
  });

  it('answers findSharingSource and mountOfPath for a path as the whole table does', () => {
    const paths = [
      '/srv/extmount-fixtures/disk2',
      '/srv/extmount-fixtures/prop/sub',
      '/srv/extmount-fixtures/prop/sub/x/y',
      '/srv/with space/a',
      '/opt/data/f',
      '/srv',
      '/',
      '/var/lib/kubelet/pods/17/volumes/token',
      '/mnt/k/3/deeper',
      '/tmp/nowhere',
      ...big.filter((_, i) => i % 331 === 0).map((m) => `${m.mountpoint}/f`),
    ];
    for (const path of paths) {
      const selected = selectMounts(index, { devices: [], paths: [path] });
      same(findSharingSource(path, big), findSharingSource(path, selected), path);
      assert.equal(mountOfPath(path, selected)?.mountId, mountOfPath(path, big)?.mountId, `mountOfPath(${path})`);
    }
    // /opt/data lands on the tmpfs over /opt (device 0:901), which is then taken in whole: its shared bind
    // at /media/copy is where CRIU can copy sharing from.
    const opt = findSharingSource('/opt/data/f', selectMounts(index, { devices: [], paths: ['/opt/data/f'] }));
    assert.deepEqual([opt.kind, 'path' in opt ? opt.path : ''], ['peer', '/media/copy/f']);
  });

  it("answers detachPropagationRisk for a bind's source, and sharing lookups below it, as the whole table does", () => {
    const sources = [
      '/srv/extmount-fixtures/prop',
      '/srv/extmount-fixtures/prop/sub',
      '/srv/extmount-fixtures',
      '/srv/with space',
      '/opt',
      '/var/lib/kubelet/pods/17',
      '/tmp/nowhere',
      '/',
    ];
    for (const source of sources) {
      const selected = selectMounts(index, { devices: [], paths: [source], subtrees: [source] });
      assert.equal(detachPropagationRisk(source, selected), detachPropagationRisk(source, big), source);
      // The fixture's 5,000 token mounts are binds of one tmpfs device: one of them takes in all.
      if (source !== '/' && !source.startsWith('/var/lib/kubelet'))
        assert.ok(selected.length < 200, `${source}: ${selected.length} of ${big.length} lines`);
      for (const m of big.filter((x) => x.mountpoint.startsWith(`${source === '/' ? '' : source}/`)).slice(0, 20))
        same(findSharingSource(m.mountpoint, big), findSharingSource(m.mountpoint, selected), m.mountpoint);
    }
    // The shared prop with disk2 on prop/sub: a detached copy would unmount it on the host.
    assert.match(detachPropagationRisk('/srv/extmount-fixtures/prop', big) ?? '', /shared/);
  });

  it('reports a mount ID twice among the lines it parses, and an empty table', () => {
    const twice = indexMountinfo(`${captured}61 47 254:0 /x /y rw - ext4 /dev/vda rw\n`, 'twice');
    assert.throws(
      () => selectMounts(twice, { devices: [254 * 0x100000] }),
      (err: unknown) => err instanceof ExtmountError && /mount ID 61 appears twice/.test(err.message),
    );
    assert.throws(
      () => selectMounts(indexMountinfo('', 'empty'), { devices: [] }),
      (err: unknown) =>
        err instanceof ExtmountError && err.code === 'parse' && /empty: line 1: no mounts/.test(err.message),
    );
  });

  it('finds as many mount points at once as one at a time, past the number it puts in one regular expression', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `${9100 + i} 27 0:${1000 + i} / /m/${i} rw - tmpfs m${i} rw`);
    const table = `${captured}${lines.join('\n')}\n`;
    const paths = lines.map((_, i) => `/m/${i}/f`);
    const all = selectMounts(indexMountinfo(table, 'many'), { devices: [], paths }).map((m) => m.mountId);
    const single = indexMountinfo(table, 'single');
    const oneByOne = new Set(
      paths.flatMap((p) => selectMounts(single, { devices: [], paths: [p] }).map((m) => m.mountId)),
    );
    assert.deepEqual(
      [...all].sort((a, b) => a - b),
      [...oneByOne].sort((a, b) => a - b),
    );
    assert.equal(all.filter((id) => id >= 9100).length, 200);
  });

  it('finds a field only where it is that field: a device, a mount point (escaped as the kernel does), a peer group', () => {
    // Lines whose other fields hold the strings searched for: a root named like a mount point, a source
    // and an option named like a device, a mount point with a backslash, a tab and a space.
    const decoys = [
      `9001 27 0:950 /srv/decoy /srv/other rw - tmpfs 0:951 rw`,
      `9002 27 0:951 / /srv/real rw - tmpfs x rw`,
      `9003 27 0:952 /srv/real /srv/a\\134b\\011c\\040d rw shared:951 - tmpfs /srv/decoy rw`,
    ];
    const small = indexMountinfo(`${captured}${decoys.join('\n')}\n`, 'decoys');
    const ids = (needs: Parameters<typeof selectMounts>[1]) =>
      selectMounts(small, needs)
        .map((m) => m.mountId)
        .filter((id) => id > 9000);
    assert.deepEqual(ids({ devices: [951] }), [9002]);
    assert.deepEqual(ids({ devices: [], paths: ['/srv/decoy'] }), []);
    assert.deepEqual(ids({ devices: [], paths: ['/srv/a\\b\tc d/f'] }), [9003]);
    assert.deepEqual(ids({ devices: [], peerGroups: [951] }), [9003]);
    assert.deepEqual(ids({ devices: [], subtrees: ['/srv/a\\b\tc d'] }), [9003]);
    assert.deepEqual(ids({ devices: [], subtrees: ['/srv'] }).sort(), [9001, 9002, 9003]);
  });
});

describe('classifyOnHost', () => {
  it('classifies as on the whole table, and keeps every host line a sharing lookup of its host paths needs', () => {
    const { classification, hostPaths, hostMounts } = classifyOnHost(containerMounts, index, container);
    assert.deepEqual(classification, classifyMounts(containerMounts, { hostMounts: big, container }));
    assert.ok(hostPaths.length > 0, 'the fixture has external mounts');
    assert.ok(hostMounts.length < 100, `${hostMounts.length} of ${big.length} lines parsed`);
    for (const path of hostPaths) same(findSharingSource(path, big), findSharingSource(path, hostMounts), path);
  });
});
