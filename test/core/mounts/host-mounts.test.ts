import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  detachPropagationRisk,
  findSharingSource,
  fsPathOf,
  mountOfPath,
} from '../../../src/core/mounts/host-mounts.js';
import { parseMountinfo } from '../../../src/core/mounts/mountinfo.js';
import { fixture } from '../../helpers/fixtures.js';

// Captured here with ENVIRONMENT.md's case: /srv/extmount-fixtures/prop shared:3, disk2 bound on prop/sub (shared:5).
const host = parseMountinfo(fixture('mountinfo/docker-propagated.host.mountinfo'));
const PROP = '/srv/extmount-fixtures/prop';
const DISK2 = '/srv/extmount-fixtures/disk2';

// A systemd-like host: / is shared, and a mount stacked over another one.
const systemd = parseMountinfo(
  [
    '1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw',
    '2 1 8:1 /srv/prop /srv/prop rw shared:2 - ext4 /dev/sda1 rw',
    '3 2 8:1 /srv/disk2 /srv/prop/sub rw shared:4 - ext4 /dev/sda1 rw',
    '4 1 0:50 / /mnt rw - tmpfs tmpfs rw',
    '5 4 0:51 / /mnt rw - tmpfs tmpfs rw',
    '6 5 8:1 /srv/old /mnt/x rw master:9 - ext4 /dev/sda1 rw',
    '',
  ].join('\n'),
);

describe('mountOfPath', () => {
  it('walks down from / to the mount a path is on', () => {
    assert.equal(mountOfPath(`${PROP}/sub/file`, host)?.mountId, 61);
    assert.equal(mountOfPath(`${PROP}/other`, host)?.mountId, 47);
    assert.equal(mountOfPath('/usr/bin', host)?.mountId, 27);
  });

  it('takes the mount stacked on top, and skips what it hides', () => {
    assert.equal(mountOfPath('/mnt/y', systemd)?.mountId, 5);
    assert.equal(mountOfPath('/mnt/x/z', systemd)?.mountId, 6);
  });

  it('gives the path inside the filesystem', () => {
    assert.equal(fsPathOf(`${PROP}/sub/a`, mountOfPath(`${PROP}/sub/a`, host)!), `${DISK2}/a`);
    assert.equal(fsPathOf('/usr', mountOfPath('/usr', host)!), '/usr');
  });
});

describe('detachPropagationRisk (runc prepareCriuRestoreMounts binds with MS_REC, then detaches)', () => {
  it('flags a source whose copy would hold a submount of a shared mount', () => {
    assert.match(
      detachPropagationRisk(PROP, host) ?? '',
      /prop\/sub sits on \/srv\/extmount-fixtures\/prop, which is shared \(peer group 3\)/,
    );
    assert.match(detachPropagationRisk('/srv', systemd) ?? '', /\/srv\/prop sits on \/, which is shared/);
  });

  it('leaves alone sources without submounts, or whose submounts sit on private mounts', () => {
    assert.equal(detachPropagationRisk(`${PROP}/sub`, host), undefined);
    assert.equal(detachPropagationRisk(DISK2, host), undefined);
    assert.equal(detachPropagationRisk('/tmp/extmount-tb-Ei4Bln/a/data/containers/x/hosts', host), undefined);
    assert.equal(detachPropagationRisk('/mnt', systemd), undefined);
  });
});

describe('findSharingSource (where CRIU can copy a master from)', () => {
  it('a plain folder of a private / : the host mount that shows it, with its peer group', () => {
    const found = findSharingSource(DISK2, host);
    assert.equal(found.kind, 'peer');
    assert.equal(found.kind === 'peer' && found.path, `${PROP}/sub`);
    assert.equal(found.mount?.shared, 5);
  });

  it('below such a mount: the same folder through it', () => {
    const found = findSharingSource(`${DISK2}/deeper`, host);
    assert.equal(found.kind === 'peer' && found.path, `${PROP}/sub/deeper`);
  });

  it('a path inside a shared mount: itself', () => {
    assert.equal(findSharingSource(`${PROP}/sub`, host).kind, 'self');
    assert.equal(findSharingSource(`${PROP}/elsewhere`, host).kind, 'self');
  });

  it('prefers the most specific peer over a shared / (systemd hosts)', () => {
    const found = findSharingSource('/srv/disk2', systemd);
    assert.equal(found.kind === 'peer' && found.path, '/srv/prop/sub');
    assert.equal(findSharingSource('/home/x', systemd).kind, 'self');
  });

  it('nothing to follow: none', () => {
    assert.equal(findSharingSource('/tmp/plain', host).kind, 'none');
  });
});
