// `npm run build` after tsc: esbuild's bundles and the V8 code caches they are loaded with
// (src/adapters/cached-bundle.cts). Each bundle is one CommonJS script, not an ESM graph of chunks, so that
// Node compiles it from the cache instead of loading and compiling each module (docs/performance.md).
//   build/src/cli-bundle/cli.cjs            the CLI (bin: build/src/cli/extmount.cjs)
//   build/src/runtime/handler.bundle.cjs    the runtime handler (hooks/extmount-runc runs build/src/runtime/handler.cjs)
//   build/src/runtime/lazy-supervisor.mjs   post-copy's lazy-pages supervisor, one ESM file
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const load = createRequire(import.meta.url);
const cached = load('../src/adapters/cached-bundle.cjs') as typeof import('../src/adapters/cached-bundle.cjs');
const cli = load('../src/cli/extmount.cjs') as typeof import('../src/cli/extmount.cjs');
const handler = load('../src/runtime/handler.cjs') as typeof import('../src/runtime/handler.cjs');

const commonjs: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // No import() is left in a bundle: code compiled from a V8 cache loses Node's dynamic-import callback.
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__extmountUrl' },
  banner: { js: "const __extmountUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

rmSync(join(root, 'build/src/cli-bundle'), { recursive: true, force: true });
// The runtime's bundles of earlier builds, ESM chunks included.
for (const old of readdirSync(join(root, 'build/src/runtime')).filter((f) => /\.(mjs|bundle\.cjs)$/.test(f)))
  rmSync(join(root, 'build/src/runtime', old), { force: true });

await Promise.all([
  build({
    ...commonjs,
    entryPoints: [join(root, 'build/src/cli/bin.js')],
    outfile: cli.BUNDLE,
    // Loaded with require() when a command needs them; execa (ESM only) through the bin's import()
    // (src/adapters/execa-import.ts).
    external: ['dockerode', 'execa', 'pino', 'yaml'],
  }),
  // The handler carries its packages: it runs under engines, whatever the working directory.
  build({ ...commonjs, entryPoints: [join(root, 'build/src/runtime/entry.js')], outfile: handler.BUNDLE }),
  build({
    entryPoints: [join(root, 'build/src/runtime/lazy-supervisor.js')],
    outfile: join(root, 'build/src/runtime/lazy-supervisor.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: {
      js: "import { createRequire as __extmountRequire } from 'node:module'; const require = __extmountRequire(import.meta.url);",
    },
    logLevel: 'warning',
  }),
]);

// V8 caches what a run compiled: the CLI's offline commands run once here, their output dropped; the
// handler's modules are evaluated (its work needs a container).
const cliLoaded = cached.loadBundle<import('../src/cli/extmount.cjs').CliBundle>(cli.BUNDLE);
const fixtures = join(root, 'test/fixtures');
const quiet = { out: () => undefined, err: () => undefined, env: {} };
const warm = [['--help'], ['--version'], ['help', 'migrate']];
if (existsSync(fixtures))
  warm.push(
    ['detect', '--mountinfo', join(fixtures, 'mountinfo/seed.mountinfo')],
    ['show', join(fixtures, 'images/seed')],
  );
for (const argv of warm) await cliLoaded.exports.main(argv, quiet);
writeFileSync(cached.codeCacheFile(cli.BUNDLE), cliLoaded.script.createCachedData());

const handlerLoaded = cached.loadBundle<import('../src/runtime/handler.cjs').HandlerBundle>(handler.BUNDLE);
await handlerLoaded.exports.warm();
writeFileSync(cached.codeCacheFile(handler.BUNDLE), handlerLoaded.script.createCachedData());
