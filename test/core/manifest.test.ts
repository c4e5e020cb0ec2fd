import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../src/core/errors.js';
import { checkManifestAgainstImages } from '../../src/core/image-check.js';
import { manifestFromPlan, parseManifest, renderManifest } from '../../src/core/manifest.js';
import type { MountEntry } from '../../src/core/criu-image.js';

const plan = {
  rootHostPath: '/tmp/x/root',
  enableExternalMasters: true,
  enableExternalSharing: false,
  mounts: [
    { mountId: 64, mountpoint: '/bar', key: 'barmount', hostPath: '/tmp/x/foo', kind: 'bind' as const, fileType: 'directory' as const, readOnly: false, propagation: 'private', reason: 'r' },
    { mountId: 65, mountpoint: '/vol', key: 'myvol', hostPath: '/var/lib/docker/volumes/myvol/_data', kind: 'volume' as const, fileType: undefined, volumeName: 'myvol', readOnly: true, propagation: 'slave', reason: 'r' },
  ],
};
const meta = { extmount: '0.1.0', criu: '4.1.1', createdAt: '2026-11-26T00:00:00.000Z', target: { kind: 'pid' as const, pid: 42, root: '/tmp/x/root' } };

function rejects(text: string, pattern: RegExp): void {
  assert.throws(() => parseManifest(text, 'm.yaml'), (e: unknown) => e instanceof ExtmountError && e.exitCode === 2 && pattern.test(e.message));
}

describe('manifest', () => {
  const text = renderManifest(manifestFromPlan(plan, meta));

  it('round-trips through YAML', () => {
    const manifest = parseManifest(text, 'm.yaml');
    assert.deepEqual(manifest, manifestFromPlan(plan, meta));
    assert.equal(manifest.mounts[1]!.volume, 'myvol');
    assert.equal(manifest.mounts[1]!.type, 'unknown');
  });

  it('refuses what it cannot validate', () => {
    rejects('format: other/v9\n', /unknown format/);
    rejects('[1, 2]', /expected a YAML mapping/);
    rejects('{{{', /not valid YAML/);
    rejects(text.replace('key: barmount', 'key: "bar:mount"'), /may only hold/);
    rejects(text.replace('key: barmount', 'key: "../x"'), /contains "\.\."/);
    rejects(text.replace('key: myvol', 'key: barmount'), /key barmount appears twice/);
    rejects(text.replace('mountpoint: /bar', 'mountpoint: bar'), /mountpoint must be an absolute path/);
    rejects(text.replace('mountpoint: /bar', 'mountpoint: "/b\\nar"'), /mountpoint must be an absolute path/);
    rejects(text.replace('hostPath: /tmp/x/foo', 'hostPath: /tmp/../etc'), /hostPath must be null or an absolute path without/);
    rejects(text.replace('hostPath: /tmp/x/foo', 'hostPath: "/tmp/\\0x"'), /hostPath/);
    rejects(text.replace('kind: bind', 'kind: evil'), /kind must be one of/);
    rejects(text.replace('pid: 42', 'pid: -1'), /target.pid/);
    rejects(text.replace('enableExternalMasters: true', 'enableExternalMasters: yes please'), /enableExternalMasters/);
    rejects(`${text}\nx: &a [1]\ny: *a\n`, /YAML/);
  });
});

describe('checkManifestAgainstImages', () => {
  const manifest = manifestFromPlan(plan, meta);
  const entry = (mountpoint: string, externalKey: string | null) => ({ mountpoint, externalKey }) as MountEntry;

  it('accepts images whose external keys the manifest maps at the same mountpoints', () => {
    checkManifestAgainstImages(manifest, [entry('/', null), entry('/bar', 'barmount'), entry('/vol', 'myvol')], 'DIR');
  });
  it('refuses an image key without a mapping, naming the key', () => {
    assert.throws(() => checkManifestAgainstImages(manifest, [entry('/bar', 'barmount'), entry('/vol', 'myvol'), entry('/x', 'xkey')], 'DIR'), /key xkey \(at \/x\)/);
  });
  it('finds mounts under the key runc gave them (their destination)', () => {
    const imageKeyOf = (m: { kind: string; key: string; mountpoint: string }) => (m.kind === 'volume' ? m.mountpoint : m.key);
    checkManifestAgainstImages(manifest, [entry('/bar', 'barmount'), entry('/vol', '/vol')], 'DIR', { imageKeyOf });
    assert.throws(() => checkManifestAgainstImages(manifest, [entry('/bar', 'barmount'), entry('/vol', 'myvol')], 'DIR', { imageKeyOf }), /key myvol \(at \/vol\)/);
  });
  it('refuses a moved mountpoint and a manifest key absent from the images', () => {
    assert.throws(() => checkManifestAgainstImages(manifest, [entry('/baz', 'barmount'), entry('/vol', 'myvol')], 'DIR'), /at \/baz in the images but at \/bar/);
    assert.throws(() => checkManifestAgainstImages(manifest, [entry('/bar', 'barmount')], 'DIR'), /maps key myvol \(\/vol\), which the images do not hold/);
  });
});
