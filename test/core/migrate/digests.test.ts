import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareDigests, describeMismatches, parseWindow, type Digests } from '../../../src/core/migrate/digests.js';

const d = (sha: string, size: number) => ({ sha256: sha.repeat(64 / sha.length), size });

describe('migration digests', () => {
  const sent: Digests = new Map([
    ['pages-1.img', d('a', 4096)],
    ['core-1.img', d('b', 300)],
  ]);

  it('accepts the same files, and more on the target', () => {
    const found: Digests = new Map([...sent, ['extra', d('c', 1)]]);
    assert.deepEqual(compareDigests(sent, found), { checked: 2, mismatches: [] });
    assert.equal(describeMismatches('checkpoint', compareDigests(sent, found)), '2 checkpoint file(s) verified');
  });

  it('names a changed, a resized and a missing file', () => {
    const found: Digests = new Map([
      ['pages-1.img', d('f', 4096)],
      ['core-1.img', d('b', 301)],
    ]);
    const changed = compareDigests(sent, found);
    assert.deepEqual(
      changed.mismatches.map((m) => m.path),
      ['pages-1.img', 'core-1.img'],
    );
    assert.match(
      describeMismatches('checkpoint', changed),
      /^checkpoint file "pages-1\.img" on the target is not what the source sent \(sent 4096 bytes, sha256 a{16}…; found 4096 bytes, sha256 f{16}…\) \(and 1 more\)$/,
    );
    const missing = compareDigests(sent, new Map([['pages-1.img', d('a', 4096)]]));
    assert.equal(missing.mismatches.length, 1);
    assert.match(
      describeMismatches('writable-layer', missing),
      /^writable-layer file "core-1\.img" .*found missing\)$/,
    );
  });

  it('reads the verification window', () => {
    assert.equal(parseWindow('2s'), 2000);
    assert.equal(parseWindow('500ms'), 500);
    assert.equal(parseWindow('1.5s'), 1500);
    assert.equal(parseWindow('3'), 3000);
    assert.equal(parseWindow('0'), 0);
    assert.equal(parseWindow('600s'), 600_000);
    for (const bad of ['601s', '-1s', '1m', '', 's', '1e3', '2 s', '0x10'])
      assert.equal(parseWindow(bad), undefined, bad);
  });
});
