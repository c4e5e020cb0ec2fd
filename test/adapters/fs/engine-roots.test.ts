// The engines' data roots configured on this host, read from a real daemon.json.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configuredEngineRoots } from '../../../src/adapters/fs/engine-roots.js';

describe('configuredEngineRoots', () => {
  it('reads data-root (and the older graph) from daemon.json; a missing or bad file adds nothing', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'extmount-roots-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'daemon.json');
    await writeFile(file, JSON.stringify({ 'data-root': '/data/docker', graph: '/old/graph', experimental: true }));
    assert.deepEqual(await configuredEngineRoots(file), ['/data/docker', '/old/graph']);
    await writeFile(file, JSON.stringify({ 'data-root': 'relative/../x' }));
    assert.deepEqual(await configuredEngineRoots(file), []);
    await writeFile(file, '{not json');
    assert.deepEqual(await configuredEngineRoots(file), []);
    assert.deepEqual(await configuredEngineRoots(join(dir, 'missing.json')), []);
  });
});
