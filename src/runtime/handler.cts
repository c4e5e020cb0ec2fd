#!/usr/bin/env node
// What hooks/extmount-runc runs for checkpoint, restore and pause: the handler's one CommonJS bundle
// (handler.bundle.cjs, from src/runtime/entry.ts), compiled from the code cache the build made for it
// (src/adapters/cached-bundle.cts). Loading the module tree of build/src instead would double Node's start.
import { join } from 'node:path';
import { codeCacheOf, loadBundle } from '../adapters/cached-bundle.cjs';

export const BUNDLE = join(__dirname, 'handler.bundle.cjs');

export interface HandlerBundle {
  run(argv: string[]): Promise<void>;
  warm(): Promise<void>;
}

if (require.main === module)
  void loadBundle<HandlerBundle>(BUNDLE, codeCacheOf(BUNDLE)).exports.run(process.argv.slice(2));
