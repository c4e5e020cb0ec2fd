// The build's CommonJS bundles (the CLI's, the runtime handler's) and the code caches they load with
// (src/adapters/cached-bundle.cts, scripts/build-bundles.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { CliBundle } from '../src/cli/extmount.cjs';

const load = createRequire(import.meta.url);
const cached = load('../src/adapters/cached-bundle.cjs') as typeof import('../src/adapters/cached-bundle.cjs');
const cli = load('../src/cli/extmount.cjs') as typeof import('../src/cli/extmount.cjs');
const handler = load('../src/runtime/handler.cjs') as typeof import('../src/runtime/handler.cjs');

describe('the bundles and their code caches', () => {
  for (const [name, bundle] of [
    ['the CLI', cli.BUNDLE],
    ['the runtime handler', handler.BUNDLE],
  ] as const) {
    it(`${name}: compiled from the build's cache, which this Node accepts`, () => {
      const { exports, script } = cached.loadBundle<Record<string, unknown>>(bundle, cached.codeCacheOf(bundle));
      assert.equal(script.cachedDataRejected, false);
      assert.equal(typeof exports.run, 'function');
    });
  }

  // V8 refuses it (Node 20 says so in cachedDataRejected; Node 24 does not report it there).
  it('with a cache made for another source, the bundle still loads and runs', async () => {
    const { exports } = cached.loadBundle<CliBundle>(cli.BUNDLE, Buffer.from('not a code cache'));
    const out: string[] = [];
    assert.equal(await exports.main(['--version'], { out: (t) => out.push(t), err: () => undefined, env: {} }), 0);
    assert.match(out.join(''), /^\d+\.\d+\.\d+/);
  });

  it('a cache older than its bundle is not used', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'extmount-cache-'));
    try {
      const bundle = join(dir, 'b.cjs');
      await writeFile(bundle, 'module.exports = 1;');
      await writeFile(cached.codeCacheFile(bundle), readFileSync(cached.codeCacheFile(cli.BUNDLE)));
      assert.ok(cached.codeCacheOf(bundle));
      await utimes(cached.codeCacheFile(bundle), new Date(1000), new Date(1000));
      assert.equal(cached.codeCacheOf(bundle), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs a command from the CLI bundle', async () => {
    const { exports } = cached.loadBundle<CliBundle>(cli.BUNDLE);
    const out: string[] = [];
    const code = await exports.main(['--version'], { out: (t) => out.push(t), err: () => undefined, env: {} });
    assert.equal(code, 0);
    assert.match(out.join(''), /^\d+\.\d+\.\d+/);
  });
});
