// execa, loaded when a command first runs a program. It is ESM only, and the CLI is a CommonJS bundle compiled
// from a V8 code cache, where import() has no loader: src/cli/extmount.cts lends its own.
import type * as Execa from 'execa';

/** What the bin lends on globalThis. */
export type LentImport = { extmountImport?: (specifier: string) => Promise<unknown> };

export async function loadExeca(): Promise<typeof Execa> {
  const lent = (globalThis as LentImport).extmountImport;
  return lent ? ((await lent('execa')) as typeof Execa) : import('execa');
}
