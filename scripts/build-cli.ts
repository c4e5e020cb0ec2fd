// `npm run build:cli` (after tsc): the CLI as one CommonJS bundle, build/src/cli-bundle/cli.cjs, and the V8 code
// cache src/cli/extmount.cts loads it with. One script, not an ESM graph of chunks: Node compiles it from the
// cache instead of loading and compiling each module (docs/performance.md).
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const loader = createRequire(import.meta.url)('../src/cli/extmount.cjs') as typeof import('../src/cli/extmount.cjs');

rmSync(join(root, 'build/src/cli-bundle'), { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'build/src/cli/bin.js')],
  outfile: loader.BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Loaded with require() when a command needs them, execa (ESM only) through the loader's import()
  // (src/adapters/execa-import.ts). No import() is left in the bundle: code compiled from a V8 cache loses
  // Node's dynamic-import callback.
  external: ['dockerode', 'execa', 'pino', 'yaml'],
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__extmountUrl' },
  banner: { js: "const __extmountUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

// V8 caches what a run compiled, so the offline commands run once here, their output dropped.
const { cli, script } = loader.loadCli();
const fixtures = join(root, 'test/fixtures');
const quiet = { out: () => undefined, err: () => undefined, env: {} };
const warm = [['--help'], ['--version'], ['help', 'migrate']];
if (existsSync(fixtures))
  warm.push(
    ['detect', '--mountinfo', join(fixtures, 'mountinfo/seed.mountinfo')],
    ['show', join(fixtures, 'images/seed')],
  );
for (const argv of warm) await cli.main(argv, quiet);
writeFileSync(loader.CODE_CACHE, script.createCachedData());
