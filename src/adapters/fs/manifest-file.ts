// Reads extmount.yaml and extmount.maps.json from an images directory: bounded, never through a symlink, never a FIFO.
import { join } from 'node:path';
import { MANIFEST_FILE, type Manifest } from '../../core/checkpoint/manifest.js';
import { parseManifest } from '../../core/checkpoint/manifest-read.js';
import { CHECKPOINT_MAPS_FILE, parseMapsFile } from '../../core/runtime/runtime-files.js';
import { READ_LIMITS, readBoundedTextIfExists } from './untrusted-file.js';

/** The validated manifest, or undefined when the directory has none (a checkpoint not taken by extmount). */
export async function readManifestIn(dir: string): Promise<Manifest | undefined> {
  const path = join(dir, MANIFEST_FILE);
  const text = await readBoundedTextIfExists(path, READ_LIMITS.manifest);
  return text === undefined ? undefined : parseManifest(text, path);
}

/** The --map of `extmount restore CONTAINER`, validated; empty when the directory has none. */
export async function readMapsIn(dir: string): Promise<Map<string, string>> {
  const path = join(dir, CHECKPOINT_MAPS_FILE);
  const text = await readBoundedTextIfExists(path, READ_LIMITS.mapsFile);
  return text === undefined ? new Map() : parseMapsFile(text, path);
}
