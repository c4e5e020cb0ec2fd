// Loading one of the build's CommonJS bundles (the CLI's, the runtime handler's) with the V8 code cache the
// build made for it (scripts/build-bundles.ts), so that a start compiles next to nothing and skips the ESM
// loader: Node 20 has no compile cache of its own (`module.enableCompileCache` is Node 22's). V8 refuses a
// cache made by another Node or for a source of another length; that only costs the compile.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

export const codeCacheFile = (bundle: string): string => `${bundle}.cache`;

/** BUNDLE run as Node runs a CommonJS file, compiled with CACHE when given; `script` makes a new cache. */
export function loadBundle<T>(bundle: string, cache?: Buffer): { exports: T; script: Script } {
  const source = readFileSync(bundle, 'utf8');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    ...(cache ? { cachedData: cache } : {}),
  });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return { exports: module.exports as T, script };
}

/** The build's cache for BUNDLE, unless the bundle was written after it (V8 itself checks only the length). */
export function codeCacheOf(bundle: string): Buffer | undefined {
  try {
    const cache = codeCacheFile(bundle);
    if (statSync(cache).mtimeMs < statSync(bundle).mtimeMs) return undefined;
    return readFileSync(cache);
  } catch {
    return undefined;
  }
}
