import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  containerStateDir,
  parseMapsFile,
  parseRuntimeResult,
  renderMapsFile,
  renderRuntimeResult,
  runcRootKey,
} from '../../../src/core/runtime/runtime-files.js';

describe('maps.json', () => {
  it('round-trips --map', () => {
    const maps = new Map([
      ['prop-sub', '/srv/alt'],
      ['data', '/srv/data2'],
    ]);
    assert.deepEqual(parseMapsFile(renderMapsFile(maps, 'cp1'), 'maps.json'), maps);
  });

  it('validates what the root-run wrapper reads', () => {
    assert.throws(() => parseMapsFile('{', 'm'), /not valid JSON/);
    assert.throws(() => parseMapsFile('{"maps": {"a:b": "/x"}}', 'm'), /key "a:b"/);
    assert.throws(() => parseMapsFile('{"maps": {"a": "relative"}}', 'm'), /absolute path/);
    assert.throws(() => parseMapsFile('{"maps": {"a": "/x/../etc"}}', 'm'), /absolute path/);
    assert.throws(() => parseMapsFile('[]', 'm'), /expected/);
  });
});

describe('containerStateDir', () => {
  it("joins, and refuses what could escape or break CRIU's config syntax", () => {
    assert.equal(containerStateDir('/var/lib/extmount/', 'abc'), '/var/lib/extmount/abc');
    assert.throws(() => containerStateDir('/var/lib/ext mount', 'abc'), /stateDir/);
    assert.throws(() => containerStateDir('relative', 'abc'), /stateDir/);
    assert.throws(() => containerStateDir('/var/lib/extmount', '../x'), /not a container ID/);
  });
});

describe('runcRootKey', () => {
  const digest = (text: string) => `d${text.length}`;
  it('names each runc root apart, readably, as one safe path component', () => {
    assert.equal(runcRootKey('/var/run/docker/runtime-runc/moby', digest), '@var@run@docker@runtime-runc@moby');
    assert.equal(runcRootKey('/run/runc/', digest), '@run@runc');
    // One-to-one: "@" and "+" in a root are escaped, so no two roots share a key.
    assert.notEqual(runcRootKey('/a@b', digest), runcRootKey('/a/b', digest));
    assert.equal(runcRootKey('/a@b+c d', digest), '@a+40b+2bc+20d');
    for (const root of ['/x/..', '/ü', '/a b'])
      assert.match(containerStateDir(`/s/${runcRootKey(root, digest)}`, 'id'), /^\/s\/[^/]+\/id$/);
  });
  it('cuts a key too long for a file name and ends it with a digest of the whole root', () => {
    const key = runcRootKey(`/${'r'.repeat(300)}`, digest);
    assert.equal(key, `@${'r'.repeat(149)}~d301`);
  });
});

describe('runtime results', () => {
  it('round-trips, and ignores what is not one', () => {
    const result = {
      verb: 'restore' as const,
      containerId: 'x',
      ok: true,
      at: '2026-11-27T00:00:00Z',
      mounts: [],
      notes: ['n'],
    };
    assert.deepEqual(parseRuntimeResult(renderRuntimeResult(result)), result);
    assert.equal(parseRuntimeResult('{"verb":"other"}'), undefined);
    assert.equal(parseRuntimeResult('nope'), undefined);
  });
});
