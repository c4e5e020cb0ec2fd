// The `extmount` bin (src/cli/extmount.cts) and the code cache the build makes for the CLI bundle.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

const loader = createRequire(import.meta.url)(
  '../../src/cli/extmount.cjs',
) as typeof import('../../src/cli/extmount.cjs');

describe('the extmount bin', () => {
  it("compiles the bundle from the build's code cache, which this Node accepts", () => {
    const { cli, script } = loader.loadCli(readFileSync(loader.CODE_CACHE));
    assert.equal(script.cachedDataRejected, false);
    assert.equal(typeof cli.main, 'function');
    assert.equal(typeof cli.run, 'function');
  });

  it('a cache made for another source is refused by V8, and the bundle still loads', () => {
    const { cli, script } = loader.loadCli(Buffer.from('not a code cache'));
    assert.equal(script.cachedDataRejected, true);
    assert.equal(typeof cli.main, 'function');
  });

  it('runs a command from the bundle', async () => {
    const { cli } = loader.loadCli();
    const out: string[] = [];
    const code = await cli.main(['--version'], { out: (t) => out.push(t), err: () => undefined, env: {} });
    assert.equal(code, 0);
    assert.match(out.join(''), /^\d+\.\d+\.\d+/);
  });
});
