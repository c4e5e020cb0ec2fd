// `extmount show PATH`: decodes a CRIU images dir (mountpoints-*.img, inventory.img) or one image file.

import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { decodeCriuImage, type CriuImage } from '../core/criu-image.js';
import { ExtmountError } from '../core/errors.js';
import { formatImage } from '../core/show-format.js';
import type { CommandIO } from './io.js';

export interface ShowOptions {
  path: string;
  json: boolean;
}

const mountpointsImageName = /^mountpoints-(\d+)\.img$/;

export async function runShow(opts: ShowOptions, io: CommandIO): Promise<void> {
  const files = await imageFilesAt(opts.path);
  const images: { path: string; image: CriuImage }[] = [];
  for (const path of files) {
    images.push({ path, image: decodeCriuImage(await readImageFile(path), path) });
  }
  if (opts.json) {
    const files = images.map(({ path, image }) => ({ file: path, magic: image.magic.name, entries: image.entries }));
    io.out(JSON.stringify({ files }, bigintAsString, 2));
    return;
  }
  io.out(images.map(({ path, image }) => formatImage(image, path).join('\n')).join('\n\n'));
}

/** The image files to decode: PATH itself, or inventory.img then mountpoints-*.img by namespace id. */
async function imageFilesAt(path: string): Promise<string[]> {
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
    throw new ExtmountError('bad-input', `cannot list ${path}: ${reason(cause)}`, { hint: 'check its permissions', cause });
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

async function readImageFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new ExtmountError('bad-input', `cannot read ${path}: ${reason(cause)}`, {
      hint: `check that ${basename(path)} exists and is readable`,
      cause,
    });
  }
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

/** uint64 values beyond 2^53 are bigints; JSON carries them as decimal strings. */
function bigintAsString(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
