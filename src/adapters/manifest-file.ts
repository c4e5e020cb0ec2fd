// Reads extmount.yaml from an images directory.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileError } from '../core/errors.js';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../core/manifest.js';

/** The validated manifest, or undefined when the directory has none (a checkpoint not taken by extmount). */
export async function readManifestIn(dir: string): Promise<Manifest | undefined> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw fileError('read', path, err);
  }
  return parseManifest(text, path);
}
