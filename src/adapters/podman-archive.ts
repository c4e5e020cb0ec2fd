// A Podman checkpoint archive on disk, read as a tar stream (zstd through zstd(1), gzip through zlib, or
// plain), and Podman's own `container restore --import`.
import { createReadStream, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { execa } from 'execa';
import { ExtmountError } from '../core/errors.js';
import { compressionOf, type Compression } from '../core/podman/checkpoint-archive.js';
import { openUntrusted, requireRegularFile } from './untrusted-file.js';

const ARCHIVE = { what: 'checkpoint archive', maxBytes: Number.MAX_SAFE_INTEGER };

export interface ArchiveFile {
  path: string;
  /** Held open: every read is of this file, whatever happens to the path meanwhile. */
  handle: FileHandle;
  stat: Stats;
  compression: Compression;
}

export async function openArchive(path: string): Promise<ArchiveFile> {
  const handle = await openUntrusted(path, ARCHIVE);
  try {
    const stat = await handle.stat();
    requireRegularFile(stat, path, ARCHIVE);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(512), 0, 512, 0);
    const compression = compressionOf(buffer.subarray(0, bytesRead));
    if (!compression) {
      throw new ExtmountError('bad-input', `${path} is not a checkpoint archive (a tar, plain, gzip or zstd)`, { hint: 'give the file written by podman container checkpoint --export' });
    }
    return { path, handle, stat, compression };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Runs `consume` on the archive's tar bytes, from its first byte. `consume` may stop reading early. A
 * failure of the decompression is reported as such, before whatever it made `consume` see.
 */
export async function withTarStream<T>(archive: ArchiveFile, consume: (tar: Readable) => Promise<T>): Promise<T> {
  // Each read opens the file held open again through /proc (the same inode, whatever the path names now):
  // a stream closes its descriptor when destroyed, and the archive is read twice.
  const file = createReadStream(`/proc/self/fd/${archive.handle.fd}`);
  const damaged = (detail: string) =>
    new ExtmountError('bad-input', `${archive.path}: the ${archive.compression} stream is damaged (${detail})`, { hint: 'export the checkpoint again' });
  try {
    if (archive.compression === 'none') return await consume(file);
    if (archive.compression === 'gzip') {
      const gunzip = createGunzip();
      let failure: ExtmountError | undefined;
      gunzip.on('error', (err) => (failure = damaged(err.message)));
      file.pipe(gunzip);
      try {
        return await consume(gunzip);
      } catch (err) {
        throw failure ?? err;
      } finally {
        gunzip.destroy();
      }
    }
    return await throughZstd(archive, file, consume, damaged);
  } finally {
    file.destroy();
  }
}

async function throughZstd<T>(archive: ArchiveFile, file: Readable, consume: (tar: Readable) => Promise<T>, damaged: (detail: string) => ExtmountError): Promise<T> {
  const child = execa('zstd', ['-dcq'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  // zstd stops reading when it is killed after an early end: what it did not read is not an error.
  child.stdin?.on('error', () => undefined);
  file.pipe(child.stdin!);
  const tar = new PassThrough();
  child.stdout?.pipe(tar);
  let stopped = false;
  const stop = () => {
    stopped = true;
    // Unread output would hold zstd's stdout open, and the child's promise with it.
    child.stdout?.unpipe(tar);
    child.stdout?.resume();
    tar.destroy();
    child.kill('SIGKILL');
  };
  const finished = child.then((result) => {
    if (stopped) return undefined;
    if ((result as { code?: string }).code === 'ENOENT' || (result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      return new ExtmountError('bad-input', `${archive.path} is zstd-compressed (Podman's default) and zstd(1) is not installed`, {
        hint: 'install zstd (apt-get install zstd), or export with podman container checkpoint --compress gzip',
      });
    }
    if (result.exitCode !== 0) return damaged(stderr.trim().split('\n').pop() || `zstd exited with ${result.exitCode}`);
    return undefined;
  });
  try {
    const value = await consume(tar);
    stop();
    return value;
  } catch (err) {
    const failure = await Promise.race([finished, new Promise<undefined>((resolve) => setTimeout(resolve, 2000, undefined))]);
    stop();
    throw failure ?? err;
  } finally {
    await child;
  }
}

export interface PodmanResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Where this host's Podman keeps local volumes (`podman info`: store.volumePath). */
export async function podmanVolumePath(): Promise<string> {
  const result = await execa('podman', ['info', '--format', '{{.Store.VolumePath}}'], { reject: false, stdin: 'ignore', maxBuffer: 1 << 20 });
  if ((result as { code?: string }).code === 'ENOENT') throw podmanMissing();
  const path = String(result.stdout ?? '').trim();
  if (result.exitCode !== 0 || !path.startsWith('/')) {
    throw new ExtmountError('restore-failed', `podman info gave no volume path (exit ${result.exitCode}): ${String(result.stderr ?? '').trim().split('\n').pop() ?? ''}`);
  }
  return path;
}

function podmanMissing(): ExtmountError {
  return new ExtmountError('bad-input', 'podman is not installed here (not found in PATH)', { hint: 'run extmount restore --import on the host that runs Podman' });
}

/**
 * `podman container restore --import ARCHIVE ARGS…`, the argv as given (never a shell). Podman's CLI
 * restores with the runtime the archive names (cmd/podman/root.go, CRGetRuntimeFromArchive).
 */
export async function podmanRestoreImport(archive: string, args: readonly string[]): Promise<PodmanResult> {
  const result = await execa('podman', ['container', 'restore', '--import', archive, ...args], {
    reject: false, stdin: 'ignore', maxBuffer: 16 << 20,
  });
  if ((result as { code?: string }).code === 'ENOENT') throw podmanMissing();
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
}
