#!/usr/bin/env node
// The `extmount` command (package.json "bin"). It loads the CLI's one CommonJS bundle (cli.cjs) with the V8
// code cache the build made for it (cli.cjs.cache, scripts/build-cli.ts), so that a start compiles next to
// nothing and skips the ESM loader: Node 20 has no compile cache of its own (`module.enableCompileCache` is
// Node 22's). V8 refuses a cache made by another Node or for another source length; that only costs the compile.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

export const BUNDLE = join(__dirname, '..', 'cli-bundle', 'cli.cjs');
export const CODE_CACHE = `${BUNDLE}.cache`;

export interface CliBundle {
  run(argv: string[]): Promise<void>;
  main(
    argv: string[],
    io?: { out(text: string): void; err(text: string): void; env: NodeJS.ProcessEnv },
  ): Promise<number>;
}

/** The bundle, run as Node runs a CommonJS file, compiled with CACHE when given; `script` makes a new cache. */
export function loadCli(cache?: Buffer): { cli: CliBundle; script: Script } {
  const source = readFileSync(BUNDLE, 'utf8');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    ...(cache ? { cachedData: cache } : {}),
  });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  return { cli: module.exports as CliBundle, script };
}

/** The build's cache, unless the bundle was written after it (V8 itself checks only the source's length). */
function codeCache(): Buffer | undefined {
  try {
    if (statSync(CODE_CACHE).mtimeMs < statSync(BUNDLE).mtimeMs) return undefined;
    return readFileSync(CODE_CACHE);
  } catch {
    return undefined;
  }
}

if (require.main === module) {
  // The one ESM-only package (execa) is imported from here: src/adapters/execa-import.ts.
  (globalThis as { extmountImport?: (specifier: string) => Promise<unknown> }).extmountImport = (specifier) =>
    import(specifier);
  void loadCli(codeCache()).cli.run(process.argv.slice(2));
}
