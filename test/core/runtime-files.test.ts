import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerStateDir, parseMapsFile, parseRuntimeResult, renderMapsFile, renderRuntimeResult } from '../../src/core/runtime-files.js';

describe('maps.json', () => {
  it('round-trips --map', () => {
    const maps = new Map([['prop-sub', '/srv/alt'], ['data', '/srv/data2']]);
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
  it('joins, and refuses what could escape or break CRIU\'s config syntax', () => {
    assert.equal(containerStateDir('/var/lib/extmount/', 'abc'), '/var/lib/extmount/abc');
    assert.throws(() => containerStateDir('/var/lib/ext mount', 'abc'), /stateDir/);
    assert.throws(() => containerStateDir('relative', 'abc'), /stateDir/);
    assert.throws(() => containerStateDir('/var/lib/extmount', '../x'), /not a container ID/);
  });
});

describe('runtime results', () => {
  it('round-trips, and ignores what is not one', () => {
    const result = { verb: 'restore' as const, containerId: 'x', ok: true, at: '2026-11-27T00:00:00Z', mounts: [], notes: ['n'] };
    assert.deepEqual(parseRuntimeResult(renderRuntimeResult(result)), result);
    assert.equal(parseRuntimeResult('{"verb":"other"}'), undefined);
    assert.equal(parseRuntimeResult('nope'), undefined);
  });
});
