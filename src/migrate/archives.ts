// Moves tar streams engine to engine (getArchive → checks → putArchive) and images (save → load), counting bytes; no temp files.
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { ExtmountError } from '../core/errors.js';
import type { Digests } from '../core/migrate/digests.js';
import type { TransferKind } from '../core/migrate/migrate-report.js';
import { encodeEntry, END_OF_ARCHIVE, type EntryPolicy } from '../core/migrate/migrate-tar.js';
import { engineError, type Engine } from '../adapters/docker/docker.js';
import type { Progress } from './progress.js';
import { TarFilter, type Decide } from '../core/migrate/tar-filter.js';

export interface ArchiveEnd {
  engine: Engine;
  container: Docker.Container;
  path: string;
}

export interface CopyResult {
  bytes: number;
  entries: number;
  /** The files `digestKey` named, as they left the source. */
  digests: Digests;
}

/**
 * GET the archive of `from.path` on one engine and PUT what the policy and `decide` keep into
 * `to.path` on the other, streaming. The engine puts the archive's top entry (the basename of
 * from.path) inside to.path.
 */
export async function copyArchive(
  from: ArchiveEnd,
  to: ArchiveEnd,
  options: {
    policy: EntryPolicy;
    decide?: Decide;
    kind: TransferKind | ((path: string | undefined) => TransferKind);
    progress: Progress;
    digestKey?: (path: string) => string | undefined;
  },
): Promise<CopyResult> {
  let source: Readable;
  try {
    source = (await from.container.getArchive({ path: from.path })) as Readable;
  } catch (err) {
    throw engineError(from.engine, err, `reading ${from.path}`);
  }
  let early = false;
  const kindOf = typeof options.kind === 'function' ? options.kind : () => options.kind as TransferKind;
  const filter = new TarFilter(
    options.policy,
    options.decide,
    () => {
      // The archive is complete: stop reading the rest (e.g. a directory's content when only its entry is wanted).
      early = true;
      source.unpipe(filter);
      source.destroy();
      filter.end();
    },
    (path, bytes) => options.progress.add(kindOf(path), bytes),
    options.digestKey,
  );
  source.on('error', (err) => {
    if (!early) filter.destroy(engineError(from.engine, err, `reading ${from.path}`));
  });
  source.pipe(filter);
  try {
    await to.container.putArchive(filter, { path: to.path });
  } catch (err) {
    source.destroy();
    if (err instanceof ExtmountError) throw err;
    throw engineError(to.engine, err, `writing ${to.path}`);
  }
  return { bytes: filter.bytes, entries: filter.entries, digests: filter.digests };
}

/** GET the archive of `from.path` and digest the files `digestKey` names, keeping nothing (the read-back before the start). */
export async function digestArchive(
  from: ArchiveEnd,
  policy: EntryPolicy,
  digestKey: (path: string) => string | undefined,
): Promise<Digests> {
  let source: Readable;
  try {
    source = (await from.container.getArchive({ path: from.path })) as Readable;
  } catch (err) {
    throw engineError(from.engine, err, `reading back ${from.path}`);
  }
  const filter = new TarFilter(policy, undefined, undefined, undefined, digestKey);
  await new Promise<void>((resolve, reject) => {
    source.on('error', (err) => filter.destroy(engineError(from.engine, err, `reading back ${from.path}`)));
    filter.on('error', (err) => {
      source.destroy();
      reject(err);
    });
    filter.on('end', resolve);
    filter.resume();
    source.pipe(filter);
  });
  return filter.digests;
}

/** PUT a small archive built here (whiteouts, directory entries). */
export async function putEntries(
  to: ArchiveEnd,
  entries: Buffer[],
  kind: TransferKind,
  progress: Progress,
): Promise<number> {
  const archive = Buffer.concat([...entries, END_OF_ARCHIVE]);
  try {
    await to.container.putArchive(archive, { path: to.path });
  } catch (err) {
    throw engineError(to.engine, err, `writing ${to.path}`);
  }
  progress.add(kind, archive.length);
  return archive.length;
}

/** overlayfs marks a deleted lower file with a 0:0 character device of the same name in the upper layer. */
export function whiteoutEntry(path: string): Buffer {
  return encodeEntry({
    name: path,
    type: 'char',
    mode: 0,
    uid: 0,
    gid: 0,
    mtime: Math.floor(Date.now() / 1000),
    devmajor: 0,
    devminor: 0,
  });
}

/** docker save on one engine piped into docker load on the other (the target verifies the image archive). */
export async function transferImage(source: Engine, target: Engine, ref: string, progress: Progress): Promise<number> {
  let saved: Readable;
  try {
    saved = (await source.docker.getImage(ref).get()) as unknown as Readable;
  } catch (err) {
    throw engineError(source, err, `saving image ${ref}`);
  }
  const counter = new PassThrough();
  let bytes = 0;
  counter.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    progress.add('image', chunk.length);
  });
  saved.on('error', (err) => counter.destroy(err));
  saved.pipe(counter);
  let answer: Readable;
  try {
    answer = (await target.docker.loadImage(counter, { quiet: true })) as unknown as Readable;
  } catch (err) {
    throw engineError(target, err, `loading image ${ref}`);
  }
  // The load answers with JSON messages; a failure is one of them, not an HTTP status.
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    answer.on('data', (c: Buffer) => chunks.push(c));
    answer.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    answer.on('error', reject);
  }).catch((err: unknown) => {
    throw engineError(target, err, `loading image ${ref}`);
  });
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let message: { error?: string; errorDetail?: { message?: string } };
    try {
      message = JSON.parse(line);
    } catch {
      continue;
    }
    if (message.error || message.errorDetail) {
      throw new ExtmountError(
        'docker-failed',
        `loading image ${ref} on ${target.where}: ${message.errorDetail?.message ?? message.error}`,
        {
          hint: "check free space under that engine's data root, then run migrate again (nothing was stopped yet)",
        },
      );
    }
  }
  return bytes;
}
