// The files the runc wrapper and `extmount checkpoint|restore CONTAINER` share: the --map a user gave
// (`docker start` cannot carry it), beside the checkpoint's images, and in <stateDir>/<container id>/
// the result of the last call.
import { isRecord } from '../json.js';
import { isAbsolutePath, normalizePath } from '../config.js';
import { ExtmountError } from '../errors.js';
import { validateKey } from '../mounts/plan.js';
import { isValidContainerId } from './runc-argv.js';

/**
 * Written into the checkpoint's folder by `extmount restore CONTAINER --map`, removed after the start.
 * The engine hands that folder to the runtime (containerd copies it whole), so the maps arrive where
 * the images do, whatever stateDir each side's config names. migrate never copies it to another host.
 */
export const CHECKPOINT_MAPS_FILE = 'extmount.maps.json';
/**
 * A fresh nonce written into the checkpoint's folder before each start from it, so that the tar
 * dockerd uploads to containerd never has a digest seen before. dockerd commits that blob with a
 * gc.root label and deletes it only after the task exists; an engine killed in between leaves it for
 * good, and every later start of the same checkpoint fails with "commit failed: content sha256:…
 * already exists" (moby#42900; seen here after a kill of the target engine mid-migration).
 */
export const CHECKPOINT_ATTEMPT_FILE = 'extmount.attempt';

/**
 * In the images of a post-copy checkpoint (migrate --live=postcopy): its memory was served from the
 * source's page server, never written, so the images alone restore into a process of zero pages.
 * The wrapper restores such images only as the lazy restore of that migration; migrate never resumes
 * from them.
 */
export const CHECKPOINT_LAZY_FILE = 'extmount.lazy';
export const CHECKPOINT_RESULT_FILE = 'last-checkpoint.json';
export const RESTORE_RESULT_FILE = 'last-restore.json';
/** <stateDir>/<id>/runtime.log: one line per call the wrapper handles, kept to this size and one older file. */
export const RUNTIME_LOG = 'runtime.log';
export const RUNTIME_LOG_MAX_BYTES = 1024 * 1024;

// Paths below the state dir end up in CRIU's config file, which splits its lines at spaces.
const SAFE_DIR = /^\/[A-Za-z0-9._+@/-]*$/;

/** <stateDir>/<container id>, refusing a state dir or an ID that could leave it or break CRIU's config. */
export function containerStateDir(stateDir: string, id: string): string {
  if (!SAFE_DIR.test(stateDir) || stateDir.split('/').includes('..')) {
    throw new ExtmountError(
      'bad-input',
      `stateDir "${stateDir}" must be an absolute path of letters, digits and . _ + @ - /`,
      { hint: 'fix "stateDir" in the config' },
    );
  }
  if (!isValidContainerId(id)) throw new ExtmountError('bad-input', `"${id}" is not a container ID runc accepts`);
  return `${normalizePath(stateDir)}/${id}`.replace(/^\/\//, '/');
}

/**
 * The name of a runc root's folder below a container's state dir: the wrapper's files for one (root, ID)
 * pair live there, so that two runc roots with the same container ID (two engines on one host, runc's
 * own tests beside dockerd) never share a CRIU config file or a holder mount. Readable and one-to-one:
 * "/" becomes "@", and "@", "+" and anything outside [A-Za-z0-9._-] become "+XX" (hex of each UTF-8
 * byte). A name longer than a file name may be is cut and ends in `digest` of the whole root.
 */
export function runcRootKey(root: string, digest: (text: string) => string): string {
  const normalized = normalizePath(root);
  let key = '';
  for (const byte of new TextEncoder().encode(normalized)) {
    const c = String.fromCharCode(byte);
    key += c === '/' ? '@' : /[A-Za-z0-9._-]/.test(c) ? c : `+${byte.toString(16).padStart(2, '0')}`;
  }
  return key.length <= 200 ? key : `${key.slice(0, 150)}~${digest(normalized)}`;
}

export function renderMapsFile(maps: ReadonlyMap<string, string>, checkpoint: string | undefined): string {
  return `${JSON.stringify({ maps: Object.fromEntries(maps), ...(checkpoint ? { checkpoint } : {}) }, null, 2)}\n`;
}

/** Validates like --map on the command line: the wrapper runs as root and trusts nothing in the file. */
export function parseMapsFile(text: string, origin: string): Map<string, string> {
  const fail = (what: string) =>
    new ExtmountError('bad-input', `${origin}: ${what}`, {
      hint: 'write it with `extmount restore CONTAINER --map KEY=PATH`, or delete it',
    });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(doc) || !isRecord(doc.maps)) throw fail('expected {"maps": {"KEY": "/path"}}');
  const maps = new Map<string, string>();
  for (const [key, path] of Object.entries(doc.maps)) {
    const problem = validateKey(key);
    if (problem) throw fail(`key ${JSON.stringify(key)} ${problem}`);
    if (!isAbsolutePath(path) || /[\n\r]/.test(path))
      throw fail(`the path for ${key} must be an absolute path without ".."`);
    maps.set(key, normalizePath(path));
  }
  return maps;
}

export interface RuntimeMountResult {
  key: string;
  mountpoint: string;
  kind: string;
  /** Host path it was dumped from, or restored from. */
  path: string | null;
  /** Who gives CRIU its mapping: runc (config.json binds) or extmount. */
  mappedBy: 'runc' | 'extmount';
  propagation: string;
  note?: string;
}

/** What the wrapper did on its last checkpoint or restore of a container: read by the CLI to report it. */
export interface RuntimeResult {
  verb: 'checkpoint' | 'restore';
  containerId: string;
  ok: boolean;
  at: string;
  /** The line printed on failure (without the "extmount: " prefix). */
  error?: string;
  /** The CRIU log kept in the state dir after a failure. */
  criuLog?: string;
  /** A checkpoint analysed on `pause` (prepared-checkpoint.ts): when; absent when the full handler analysed it. */
  preparedAt?: string;
  mounts: RuntimeMountResult[];
  notes: string[];
}

export function renderRuntimeResult(result: RuntimeResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}

export function parseRuntimeResult(text: string): RuntimeResult | undefined {
  try {
    const doc = JSON.parse(text) as unknown;
    if (
      !isRecord(doc) ||
      (doc.verb !== 'checkpoint' && doc.verb !== 'restore') ||
      typeof doc.ok !== 'boolean' ||
      !Array.isArray(doc.mounts)
    )
      return undefined;
    if (!Array.isArray(doc.notes) || typeof doc.at !== 'string' || typeof doc.containerId !== 'string')
      return undefined;
    return doc as unknown as RuntimeResult;
  } catch {
    return undefined;
  }
}
