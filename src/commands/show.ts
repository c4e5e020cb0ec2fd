// `extmount show PATH`: decodes a CRIU images dir (mountpoints-*.img, inventory.img) or one image file.

import { decodeCriuImage, type CriuImage } from '../core/images/criu-image.js';
import { formatImage } from '../core/images/show-format.js';
import { imageFilesAt, readImageFile } from '../adapters/images.js';
import type { CommandIO } from './io.js';

export interface ShowOptions {
  path: string;
  json: boolean;
}

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

/** uint64 values beyond 2^53 are bigints; JSON carries them as decimal strings. */
function bigintAsString(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
