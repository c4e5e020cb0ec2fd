// `extmount show PATH`: decodes a CRIU images dir (mountpoints-*.img, inventory.img), one image file, or
// the checkpoint/ images inside a checkpoint archive (kubelet/containerd, CRI-O, Podman) or a checkpoint
// image in an OCI layout tar, read in place (nothing unpacked).

import { open, stat } from 'node:fs/promises';
import { decodeCriuImage, type CriuImage } from '../core/images/criu-image.js';
import { formatImage } from '../core/images/show-format.js';
import { compressionOf } from '../core/podman/checkpoint-archive.js';
import { imageFilesAt, readImageFile } from '../adapters/criu/images.js';
import { READ_LIMITS } from '../adapters/fs/untrusted-file.js';
import type { CommandIO } from './io.js';

export interface ShowOptions {
  path: string;
  json: boolean;
}

const ARCHIVE_IMAGE = /^checkpoint\/(inventory\.img|mountpoints-(\d+)\.img)$/;

export async function runShow(opts: ShowOptions, io: CommandIO): Promise<void> {
  const images: { path: string; image: CriuImage }[] = [];
  if (await isArchive(opts.path)) {
    const { openCheckpointSource, readCheckpointFiles } = await import('../adapters/kube/checkpoint-source.js');
    const source = await openCheckpointSource(opts.path);
    try {
      const files = await readCheckpointFiles(source, (p) => ARCHIVE_IMAGE.test(p), READ_LIMITS.criuImage.maxBytes);
      const order = (p: string) => (p.endsWith('inventory.img') ? -1 : Number(ARCHIVE_IMAGE.exec(p)?.[2] ?? 0));
      const names = [...files.keys()].sort((a, b) => order(a) - order(b));
      if (names.length === 0) {
        const { ExtmountError } = await import('../core/errors.js');
        throw new ExtmountError(
          'bad-input',
          `${opts.path} holds no checkpoint/inventory.img or checkpoint/mountpoints-*.img`,
          { hint: 'is it a container checkpoint archive or checkpoint image?' },
        );
      }
      for (const name of names)
        images.push({ path: `${opts.path}:${name}`, image: decodeCriuImage(files.get(name)!, name) });
    } finally {
      await source.close();
    }
  } else {
    for (const path of await imageFilesAt(opts.path))
      images.push({ path, image: decodeCriuImage(await readImageFile(path), path) });
  }
  if (opts.json) {
    const files = images.map(({ path, image }) => ({ file: path, magic: image.magic.name, entries: image.entries }));
    io.out(JSON.stringify({ files }, bigintAsString, 2));
    return;
  }
  io.out(images.map(({ path, image }) => formatImage(image, path).join('\n')).join('\n\n'));
}

/** A regular file whose first bytes are a tar, gzip or zstd stream (a CRIU image starts with its magic). */
async function isArchive(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) return false;
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(512), 0, 512, 0);
    return compressionOf(buffer.subarray(0, bytesRead)) !== undefined;
  } finally {
    await handle.close();
  }
}

/** uint64 values beyond 2^53 are bigints; JSON carries them as decimal strings. */
function bigintAsString(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
