// A container checkpoint as a tar stream, whatever holds it: an archive (kubelet/containerd, CRI-O,
// Podman; plain, gzip or zstd) or a checkpoint image in an OCI image layout tar (extmount
// checkpoint-image --output), whose one layer is the archive's content. Read without unpacking to disk.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ExtmountError } from '../../core/errors.js';
import {
  BLOCK,
  decodeHeader,
  entryPath,
  paddedSize,
  parsePaxRecords,
  tarFiles,
  type EntryPolicy,
} from '../../core/migrate/migrate-tar.js';
import { OCI_LAYER } from '../../core/kube/oci-image.js';
import { isRecord } from '../../core/json.js';
import { openArchive, withTarStream, type ArchiveFile } from '../podman/podman-archive.js';
import { TarFilter } from '../../core/migrate/tar-filter.js';

/** Only regular files and folders: what containerd unpacks of a checkpoint (checkpointArchiveEntryAllowed); Podman's archives hold no links or devices either. */
export const CHECKPOINT_POLICY: EntryPolicy = { root: '', allowLinks: false, allowDevices: false };
const MAX_LAYOUT_META = 1 << 20;

export interface CheckpointSource {
  path: string;
  kind: 'archive' | 'oci-layout';
  /** Runs `consume` on the checkpoint's own tar bytes (the archive's, or the image layer's). */
  withTar<T>(consume: (tar: Readable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openCheckpointSource(path: string): Promise<CheckpointSource> {
  const archive = await openArchive(path);
  try {
    const layer = archive.compression === 'none' ? await findLayoutLayer(archive) : undefined;
    if (!layer)
      return {
        path,
        kind: 'archive',
        withTar: (consume) => withTarStream(archive, consume),
        close: () => archive.handle.close(),
      };
    return {
      path,
      kind: 'oci-layout',
      async withTar(consume) {
        const file = createReadStream(`/proc/self/fd/${archive.handle.fd}`, {
          start: layer.offset,
          end: layer.offset + layer.size - 1,
          autoClose: false,
        });
        if (!layer.gzip) return consume(file).finally(() => file.destroy());
        const gunzip = createGunzip();
        file.pipe(gunzip);
        return consume(gunzip).finally(() => {
          gunzip.destroy();
          file.destroy();
        });
      },
      close: () => archive.handle.close(),
    };
  } catch (err) {
    await archive.handle.close();
    throw err;
  }
}

interface Entry {
  name: string;
  offset: number;
  size: number;
}

/** The plain tar's regular files with where their content starts, read header by header (content skipped). */
async function plainTarEntries(archive: ArchiveFile, limit: number): Promise<Entry[]> {
  const entries: Entry[] = [];
  let at = 0;
  let pending: { path?: string; size?: number } = {};
  while (at + BLOCK <= archive.stat.size && entries.length < limit) {
    const { buffer } = await archive.handle.read(Buffer.alloc(BLOCK), 0, BLOCK, at);
    const header = decodeHeader(buffer);
    if (header === null) break;
    at += BLOCK;
    if (
      header.type === 'pax' ||
      header.type === 'pax-global' ||
      header.type === 'gnu-longname' ||
      header.type === 'gnu-longlink'
    ) {
      if (header.size > MAX_LAYOUT_META) return [];
      const { buffer: data } = await archive.handle.read(Buffer.alloc(header.size), 0, header.size, at);
      if (header.type === 'pax') {
        const records = parsePaxRecords(data);
        pending = {
          path: records.get('path') ?? pending.path,
          size: records.has('size') ? Number(records.get('size')) : pending.size,
        };
      } else if (header.type === 'gnu-longname') {
        const end = data.indexOf(0);
        pending = { ...pending, path: data.subarray(0, end === -1 ? data.length : end).toString('utf8') };
      }
      at += paddedSize(header.size);
      continue;
    }
    const size = header.type === 'file' ? (pending.size ?? header.size) : 0;
    const name = entryPath(pending.path ?? header.name);
    pending = {};
    if (header.type === 'file' && typeof name === 'string') entries.push({ name, offset: at, size });
    at += paddedSize(size);
  }
  return entries;
}

/** An OCI image layout tar's checkpoint layer (the first image's first layer), or undefined when the tar is no OCI layout. */
async function findLayoutLayer(
  archive: ArchiveFile,
): Promise<{ offset: number; size: number; gzip: boolean } | undefined> {
  const entries = await plainTarEntries(archive, 100_000);
  const byName = new Map(entries.map((e) => [e.name, e]));
  if (!byName.has('oci-layout') || !byName.has('index.json')) return undefined;
  const readJson = async (name: string): Promise<Record<string, unknown>> => {
    const entry = byName.get(name);
    const bad = new ExtmountError('bad-input', `${archive.path}: an OCI image layout without a readable ${name}`, {
      hint: 'give the file extmount checkpoint-image --output wrote, or the checkpoint archive itself',
    });
    if (!entry || entry.size > MAX_LAYOUT_META) throw bad;
    const { buffer } = await archive.handle.read(Buffer.alloc(entry.size), 0, entry.size, entry.offset);
    try {
      const value: unknown = JSON.parse(buffer.toString('utf8'));
      if (isRecord(value)) return value;
    } catch {
      // the error below
    }
    throw bad;
  };
  const blobName = (digest: unknown) =>
    typeof digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(digest) ? `blobs/sha256/${digest.slice(7)}` : '';
  const index = await readJson('index.json');
  const first = Array.isArray(index.manifests) ? index.manifests[0] : undefined;
  const manifest = await readJson(blobName(isRecord(first) ? first.digest : undefined));
  const layer = Array.isArray(manifest.layers) ? manifest.layers[0] : undefined;
  const entry = byName.get(blobName(isRecord(layer) ? layer.digest : undefined));
  if (!isRecord(layer) || !entry)
    throw new ExtmountError('bad-input', `${archive.path}: the OCI image has no layer blob`, {
      hint: 'give the file extmount checkpoint-image --output wrote',
    });
  const mediaType = typeof layer.mediaType === 'string' ? layer.mediaType : '';
  return { offset: entry.offset, size: entry.size, gzip: mediaType !== OCI_LAYER && mediaType.endsWith('gzip') };
}

/**
 * The regular files `want` names, each at most `maxSize` bytes; the read stops once `count` were seen
 * (the rest of the archive is not read).
 */
export async function readCheckpointFiles(
  source: Pick<CheckpointSource, 'path' | 'withTar'>,
  want: (path: string) => boolean,
  maxSize: number,
  count = Infinity,
): Promise<Map<string, Buffer>> {
  const kept: Buffer[] = [];
  let seen = 0;
  await source.withTar(
    (tar) =>
      new Promise<void>((done, fail) => {
        const filter = new TarFilter(
          CHECKPOINT_POLICY,
          ({ path, header }) => {
            if (header.type !== 'file' || !want(path)) return 'skip';
            if (header.size > maxSize)
              throw new ExtmountError(
                'bad-input',
                `${source.path}: ${path} has ${header.size} bytes, more than ${maxSize}`,
                { hint: 'the archive is not one a container engine wrote' },
              );
            return ++seen === count ? 'keep-last' : 'keep';
          },
          () => {
            tar.unpipe(filter);
            filter.end();
          },
        );
        filter.on('data', (chunk: Buffer) => kept.push(chunk));
        filter.on('end', done);
        filter.on('error', fail);
        tar.on('error', (err) => filter.destroy(err));
        tar.pipe(filter);
      }),
  );
  return tarFiles(Buffer.concat(kept));
}

/**
 * The checkpoint image's layer: the checkpoint's tar, every entry checked (regular files and folders
 * only, no "..", no absolute names) and passed on as written, given to `sink` chunk by chunk; its sha256
 * and size.
 */
export async function streamLayer(source: CheckpointSource, sink: Writable): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await source.withTar(async (tar) => {
    const filter = new TarFilter(CHECKPOINT_POLICY);
    filter.requireEnd = true;
    filter.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    await pipeline(tar, filter, sink);
  });
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** A sink that drops what it is given (the first pass: digest and size only). */
export function nullSink(): Writable {
  return new Writable({ write: (_chunk, _enc, callback) => callback() });
}

/** A checkpoint image in a registry: its first layer, fetched anew for each read. */
export function registryCheckpointSource(
  name: string,
  layer: { digest: string; mediaType: string },
  fetchBlob: (digest: string) => Promise<Readable>,
): CheckpointSource {
  return {
    path: name,
    kind: 'oci-layout',
    async withTar(consume) {
      const body = await fetchBlob(layer.digest);
      if (!layer.mediaType.endsWith('gzip')) return consume(body).finally(() => body.destroy());
      const gunzip = createGunzip();
      body.pipe(gunzip);
      return consume(gunzip).finally(() => {
        gunzip.destroy();
        body.destroy();
      });
    },
    close: async () => undefined,
  };
}
