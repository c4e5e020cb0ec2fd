import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeRuntimeEntry, runtimeEntry } from '../../../src/core/docker/daemon-json.js';

describe('daemon.json runtime entry', () => {
  it('is the runtimes object dockerd reads', () => {
    assert.deepEqual(runtimeEntry('extmount', '/x/hooks/extmount-runc'), {
      runtimes: { extmount: { path: '/x/hooks/extmount-runc' } },
    });
  });

  it('merges, keeping other settings and runtimes', () => {
    const merged = mergeRuntimeEntry(
      '{"debug": true, "runtimes": {"crun": {"path": "/usr/bin/crun"}}}',
      'd.json',
      'extmount',
      '/w',
    );
    assert.equal(merged.changed, true);
    assert.equal(merged.replaced, false);
    assert.deepEqual(JSON.parse(merged.text), {
      debug: true,
      runtimes: { crun: { path: '/usr/bin/crun' }, extmount: { path: '/w' } },
    });
  });

  it('changes nothing when the entry is there, replaces one pointing elsewhere', () => {
    assert.equal(mergeRuntimeEntry('{"runtimes": {"extmount": {"path": "/w"}}}', 'd', 'extmount', '/w').changed, false);
    const replaced = mergeRuntimeEntry('{"runtimes": {"extmount": {"path": "/old"}}}', 'd', 'extmount', '/w');
    assert.deepEqual({ changed: replaced.changed, replaced: replaced.replaced }, { changed: true, replaced: true });
  });

  it('starts from nothing, and refuses what it cannot merge into', () => {
    assert.deepEqual(JSON.parse(mergeRuntimeEntry(undefined, 'd', 'extmount', '/w').text), {
      runtimes: { extmount: { path: '/w' } },
    });
    assert.throws(() => mergeRuntimeEntry('{', 'd.json', 'extmount', '/w'), /d\.json is not valid JSON/);
    assert.throws(() => mergeRuntimeEntry('[1]', 'd.json', 'extmount', '/w'), /must hold a JSON object/);
    assert.throws(() => mergeRuntimeEntry('{}', 'd.json', 'bad name', '/w'), /runtime name/);
  });
});
