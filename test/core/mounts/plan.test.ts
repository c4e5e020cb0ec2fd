import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyMounts } from '../../../src/core/mounts/classify.js';
import { ExtmountError } from '../../../src/core/errors.js';
import { parseMountinfo } from '../../../src/core/mounts/mountinfo.js';
import { deriveKey, planExternalMounts, validateKey } from '../../../src/core/mounts/plan.js';
import { containerInfoFromInspect } from '../../../src/adapters/docker/docker.js';
import { fixture, inspectFixture } from '../../helpers/fixtures.js';

function dockerMixed() {
  const container = containerInfoFromInspect(inspectFixture('docker-mixed'));
  return classifyMounts(parseMountinfo(fixture('mountinfo/docker-mixed.mountinfo')), {
    hostMounts: parseMountinfo(fixture('mountinfo/docker-mixed.host.mountinfo')),
    container,
  });
}

describe('planExternalMounts', () => {
  it('derives keys from mountpoints and volume names', () => {
    const plan = planExternalMounts(dockerMixed());
    const keys = Object.fromEntries(plan.mounts.map((m) => [m.mountpoint, m.key]));
    assert.deepEqual(keys, {
      '/vol': 'fxvol',
      '/data': 'data',
      '/etc/file.txt': 'etc-file.txt',
      '/etc/resolv.conf': 'etc-resolv.conf',
      '/etc/hostname': 'etc-hostname',
      '/etc/hosts': 'etc-hosts',
    });
    assert.equal(plan.enableExternalMasters, true, 'the volume under the shared data root has an outside master');
  });

  it('gives the same keys for the same container, whatever the mountinfo order', () => {
    const a = planExternalMounts(dockerMixed());
    const shuffled = dockerMixed();
    shuffled.mounts.reverse();
    const b = planExternalMounts(shuffled);
    const keys = (p: typeof a) => new Map(p.mounts.map((m) => [m.mountpoint, m.key]));
    assert.deepEqual(keys(b), keys(a));
  });

  it('makes keys unique in mountpoint order', () => {
    const tree = parseMountinfo(
      [
        '1 0 254:0 /r / rw - ext4 /dev/vda rw',
        '2 1 254:0 /x1 /a/b rw - ext4 /dev/vda rw',
        '3 1 254:0 /x2 /a-b rw - ext4 /dev/vda rw',
        '4 1 254:0 /x3 /a_b rw - ext4 /dev/vda rw',
        '5 1 254:0 /x4 /a:b rw - ext4 /dev/vda rw',
      ].join('\n'),
    );
    const keys = planExternalMounts(classifyMounts(tree)).mounts.map((m) => [m.mountpoint, m.key]);
    assert.deepEqual(keys, [
      ['/a/b', 'a-b-2'],
      ['/a-b', 'a-b'],
      ['/a_b', 'a_b'],
      ['/a:b', 'a-b-3'],
    ]);
  });

  it('applies --key overrides and keeps derived keys clear of them', () => {
    const plan = planExternalMounts(dockerMixed(), {
      keys: new Map([
        ['/data', 'etc-hosts'],
        ['/vol', 'myvol'],
      ]),
    });
    const keys = Object.fromEntries(plan.mounts.map((m) => [m.mountpoint, m.key]));
    assert.equal(keys['/data'], 'etc-hosts');
    assert.equal(keys['/vol'], 'myvol');
    assert.equal(keys['/etc/hosts'], 'etc-hosts-2');
  });

  it('refuses bad overrides with exit 2', () => {
    const refuses = (keys: Map<string, string>, pattern: RegExp) =>
      assert.throws(
        () => planExternalMounts(dockerMixed(), { keys }),
        (err: unknown) => err instanceof ExtmountError && err.exitCode === 2 && pattern.test(err.message),
      );
    refuses(new Map([['/data', 'da:ta']]), /may only hold/);
    refuses(new Map([['/data', 'a b']]), /may only hold/);
    refuses(new Map([['/data', 'x[1]']]), /may only hold/);
    refuses(new Map([['/data', 'a..b']]), /contains "\.\."/);
    refuses(new Map([['/nope', 'x']]), /no external mount at \/nope/);
    refuses(
      new Map([
        ['/data', 'same'],
        ['/vol', 'same'],
      ]),
      /given twice/,
    );
  });

  it('marks a bind of a host file as kind file when the adapter found a file', () => {
    const classification = dockerMixed();
    const file = classification.mounts.find((m) => m.mountpoint === '/etc/file.txt')!.external!.hostPath!;
    const plan = planExternalMounts(classification, { fileTypes: new Map([[file, 'file']]) });
    const mount = plan.mounts.find((m) => m.mountpoint === '/etc/file.txt')!;
    assert.equal(mount.kind, 'file');
    assert.equal(mount.fileType, 'file');
  });
});

describe('keys', () => {
  it('derives CRIU-safe keys', () => {
    assert.equal(deriveKey('/etc/resolv.conf'), 'etc-resolv.conf');
    assert.equal(deriveKey('/a b/[c]:d'), 'a-b-c-d');
    assert.equal(deriveKey('/'), 'root');
    assert.equal(deriveKey('/../..'), 'root');
    for (const mp of ['/x y', '/a:b', '/[x]', '/../etc', '/\n', '/' + 'x'.repeat(300)])
      assert.equal(validateKey(deriveKey(mp)), undefined, mp);
  });
  it('validates keys', () => {
    assert.equal(validateKey('barmount'), undefined);
    assert.match(validateKey('')!, /empty/);
    assert.match(validateKey('a\nb')!, /may only hold/);
    assert.match(validateKey('a\0b')!, /may only hold/);
  });
  it('deriveKey: its shortcut for plain paths gives what the general rules give (20,000 generated paths)', () => {
    const general = (source: string) => {
      const key = source
        .replace(/[^A-Za-z0-9._+@-]+/g, '-')
        .replace(/\.{2,}/g, '.')
        .replace(/^[^A-Za-z0-9]+/, '')
        .replace(/-+$/, '')
        .slice(0, 100);
      return key === '' ? 'root' : key;
    };
    let seed = 3;
    const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const alphabet = 'aZ09._+@-/ :';
    let plain = 0;
    for (let i = 0; i < 20_000; i++) {
      const source = `/${Array.from({ length: 1 + Math.floor(rand() * (i % 10 === 0 ? 120 : 12)) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('')}`;
      assert.equal(deriveKey(source), general(source), JSON.stringify(source));
      if (/^\/[A-Za-z0-9][\w.+@/-]*$/.test(source)) plain++;
    }
    assert.ok(plain > 1000, `only ${plain} plain paths generated`);
  });
});
