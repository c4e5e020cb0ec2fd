// The library API: the package's own name resolves to it, and it runs the same pipeline as the CLI.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixture } from './helpers/fixtures.js';

describe('import "extmount"', () => {
  it("exports the pipeline, and it finds the seed's external mount", async () => {
    // Through the package name (package.json "exports"), as a user would; typed by the source.
    const packageName = 'extmount';
    const lib = (await import(packageName)) as typeof import('../src/index.js');
    const plan = lib.planExternalMounts(lib.classifyMounts(lib.parseMountinfo(fixture('mountinfo/seed.mountinfo'))), {
      keys: new Map([['/bar', 'barmount']]),
    });
    const options = lib.planCriuOptions(plan, lib.parseCriuVersion('Version: 4.1.1'));
    assert.deepEqual(lib.toArgv(options.dump), ['--external', 'mnt[/bar]:barmount']);
    for (const name of [
      'detect',
      'runCheckpoint',
      'runRestore',
      'runContainerCheckpoint',
      'runContainerRestore',
      'runMigrate',
      'runShow',
      'decodeCriuImage',
      'parseManifest',
    ]) {
      assert.equal(typeof (lib as Record<string, unknown>)[name], 'function', name);
    }
    assert.ok(new lib.ExtmountError('usage', 'x') instanceof Error);
  });
});
