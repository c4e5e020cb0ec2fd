#!/usr/bin/env node
// The `extmount` command (package.json "bin"): the CLI's one CommonJS bundle (cli.cjs), compiled from the
// code cache the build made for it (src/adapters/cached-bundle.cts).
import { join } from 'node:path';
import { codeCacheOf, loadBundle } from '../adapters/cached-bundle.cjs';
import type { LentImport } from '../adapters/execa-import.js';
import type { CommandIO } from '../commands/io.js';

export const BUNDLE = join(__dirname, '..', 'cli-bundle', 'cli.cjs');

export interface CliBundle {
  run(argv: string[]): Promise<void>;
  main(argv: string[], io?: CommandIO): Promise<number>;
}

if (require.main === module) {
  // The one ESM-only package (execa) is imported from here: src/adapters/execa-import.ts.
  (globalThis as LentImport).extmountImport = (specifier) => import(specifier);
  void loadBundle<CliBundle>(BUNDLE, codeCacheOf(BUNDLE)).exports.run(process.argv.slice(2));
}
