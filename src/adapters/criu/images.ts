// Reads CRIU image files from disk; decoding is the pure core's (criu-image.ts).
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { decodeCriuImage, type MountEntry } from '../../core/images/criu-image.js';
import { ExtmountError } from '../../core/errors.js';
import { READ_LIMITS, readBoundedFile } from '../fs/untrusted-file.js';

const mountpointsImageName = /^mountpoints-(\d+)\.img$/;

/** The image files to decode: PATH itself, or inventory.img then mountpoints-*.img by namespace id. */
export async function imageFilesAt(path: string): Promise<string[]> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (cause) {
    throw new ExtmountError('bad-input', `cannot read ${path}: ${reason(cause)}`, {
      hint: 'give a CRIU images directory or one image file',
      cause,
    });
  }
  if (!isDirectory) return [path];

  let names: string[];
  try {
    names = await readdir(path);
  } catch (cause) {
    throw new ExtmountError('bad-input', `cannot list ${path}: ${reason(cause)}`, {
      hint: 'check its permissions',
      cause,
    });
  }
  const mountpoints = names
    .filter((name) => mountpointsImageName.test(name))
    .sort((a, b) => namespaceId(a) - namespaceId(b));
  const selected = [...(names.includes('inventory.img') ? ['inventory.img'] : []), ...mountpoints];
  if (selected.length === 0) {
    throw new ExtmountError('bad-input', `${path} holds no inventory.img or mountpoints-*.img`, {
      hint: 'is it the directory given to criu dump -D?',
    });
  }
  return selected.map((name) => join(path, name));
}

/** One image file: a regular file of at most READ_LIMITS.criuImage bytes, never through a symlink. */
export function readImageFile(path: string): Promise<Uint8Array> {
  return readBoundedFile(path, READ_LIMITS.criuImage);
}

function namespaceId(name: string): number {
  return Number(mountpointsImageName.exec(name)?.[1] ?? 0);
}

function reason(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return cause instanceof Error ? cause.message : String(cause);
}

/** Every mount recorded in an images directory (all mountpoints-*.img). */
export async function readImageMounts(dir: string): Promise<MountEntry[]> {
  const files = (await imageFilesAt(dir)).filter((path) => mountpointsImageName.test(basename(path)));
  const entries: MountEntry[] = [];
  for (const path of files) {
    const image = decodeCriuImage(await readImageFile(path), path);
    if (image.kind === 'mountpoints') entries.push(...image.entries);
  }
  return entries;
}
