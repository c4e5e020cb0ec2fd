// A Podman checkpoint archive on disk, read as a tar stream (zstd through zstd(1), gzip through zlib, or
// plain), and Podman's own `container restore --import`.
import { createReadStream, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { loadExeca } from '../execa-import.js';
import { ExtmountError } from '../../core/errors.js';
import { compressionOf, type Compression } from '../../core/podman/checkpoint-archive.js';
import { openUntrusted, requireRegularFile } from '../fs/untrusted-file.js';

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
      throw new ExtmountError('bad-input', `${path} is not a checkpoint archive (a tar, plain, gzip or zstd)`, {
        hint: 'give the file written by podman container checkpoint --export',
      });
    }
    return { path, handle, stat, compression };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Runs `consume` on the archive's tar bytes, from its first byte. `consume` may stop reading early. A
 * failure of the read or the decompression is reported as such, before whatever it made `consume` see;
 * a stream read to its end counts only once the decompressor says it was whole (zstd(1) writes what it
 * decoded before it checks the frame).
 */
export async function withTarStream<T>(archive: ArchiveFile, consume: (tar: Readable) => Promise<T>): Promise<T> {
  const file = createReadStream(`/proc/self/fd/${archive.handle.fd}`);
  const damaged = (detail: string) =>
    new ExtmountError('bad-input', `${archive.path}: the ${archive.compression} stream is damaged (${detail})`, {
      hint: 'export the checkpoint again',
    });
  const unreadable = (err: Error) =>
    new ExtmountError('bad-input', `cannot read ${archive.path}: ${err.message}`, { cause: err });
  let failure: ExtmountError | undefined;
  const fail = (tar: Readable, err: ExtmountError) => {
    failure ??= err;
    tar.destroy(failure);
  };
  try {
    if (archive.compression === 'none') {
      file.on('error', (err) => fail(file, unreadable(err)));
      return await consume(file).catch((err: unknown) => Promise.reject(failure ?? err));
    }
    if (archive.compression === 'gzip') {
      const gunzip = createGunzip();
      file.on('error', (err) => fail(gunzip, unreadable(err)));
      // zlib's own errors only (Z_DATA_ERROR, Z_BUF_ERROR …): a consumer's refusal destroys gunzip with that refusal.
      gunzip.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code?.startsWith('Z_')) failure ??= damaged(err.message);
      });
      file.pipe(gunzip);
      try {
        return await consume(gunzip).catch((err: unknown) => Promise.reject(failure ?? err));
      } finally {
        gunzip.destroy();
      }
    }
    const zstd = await startZstd(archive, damaged);
    file.on('error', (err) => fail(zstd.tar, unreadable(err)));
    file.pipe(zstd.stdin);
    // zstd missing, or failing before the consumer has seen a broken stream: the consumer gets that error.
    void zstd.finished.then((err) => err && fail(zstd.tar, err));
    try {
      const value = await consume(zstd.tar).catch(async (err: unknown) => {
        // What the consumer saw may be zstd's doing (a cut stream): let zstd finish and say so first.
        const verdict = failure ?? (await zstd.verdict(2000));
        throw verdict ?? err;
      });
      if (zstd.tar.readableEnded) {
        const err = await zstd.finished;
        if (err) throw err;
      }
      return value;
    } finally {
      await zstd.stop();
    }
  } finally {
    file.destroy();
  }
}

async function startZstd(archive: ArchiveFile, damaged: (detail: string) => ExtmountError) {
  const { execa } = await loadExeca();
  const child = execa('zstd', ['-dcq'], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  // zstd stops reading when it is stopped after an early end: what it did not read is not an error.
  child.stdin?.on('error', () => undefined);
  const tar = new PassThrough();
  child.stdout?.pipe(tar);
  let stopped = false;
  const finished: Promise<ExtmountError | undefined> = child.then((result) => {
    if (stopped) return undefined;
    if (
      (result as { code?: string }).code === 'ENOENT' ||
      (result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
    ) {
      return new ExtmountError(
        'bad-input',
        `${archive.path} is zstd-compressed (Podman's default) and zstd(1) is not installed`,
        {
          hint: 'install zstd (apt-get install zstd), or export with podman container checkpoint --compress gzip',
        },
      );
    }
    return result.exitCode === 0
      ? undefined
      : damaged(stderr.trim().split('\n').pop() || `zstd exited with ${result.exitCode}`);
  });
  return {
    tar,
    stdin: child.stdin!,
    finished,
    /** zstd's own failure, waiting at most `ms` for it to end (its output drained meanwhile). */
    async verdict(ms: number): Promise<ExtmountError | undefined> {
      child.stdout?.unpipe(tar);
      child.stdout?.resume();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
      try {
        return await Promise.race([finished, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) stopped = true;
      // Unread output would hold zstd's stdout open, and the child's promise with it.
      child.stdout?.unpipe(tar);
      child.stdout?.resume();
      tar.destroy();
      child.kill('SIGKILL');
      await child;
    },
  };
}

export interface PodmanResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface PodmanStore {
  graphRoot: string;
  runRoot: string;
  volumePath: string;
}

/** Where this host's Podman keeps its storage, run state and local volumes (`podman info`). */
export async function podmanStore(): Promise<PodmanStore> {
  const { execa } = await loadExeca();
  const result = await execa(
    'podman',
    ['info', '--format', '{{.Store.GraphRoot}}\n{{.Store.RunRoot}}\n{{.Store.VolumePath}}'],
    {
      reject: false,
      stdin: 'ignore',
      maxBuffer: 1 << 20,
    },
  );
  if ((result as { code?: string }).code === 'ENOENT') throw podmanMissing();
  const [graphRoot, runRoot, volumePath] = String(result.stdout ?? '')
    .trim()
    .split('\n')
    .map((l) => l.trim());
  if (result.exitCode !== 0 || ![graphRoot, runRoot, volumePath].every((p) => p?.startsWith('/'))) {
    throw new ExtmountError(
      'restore-failed',
      `podman info did not say where its storage is (exit ${result.exitCode}): ${
        String(result.stderr ?? '')
          .trim()
          .split('\n')
          .pop() ?? ''
      }`,
    );
  }
  return { graphRoot: graphRoot!, runRoot: runRoot!, volumePath: volumePath! };
}

function podmanMissing(): ExtmountError {
  return new ExtmountError('bad-input', 'podman is not installed here (not found in PATH)', {
    hint: 'run extmount restore --import on the host that runs Podman',
  });
}

/**
 * `podman container restore --import ARCHIVE ARGS…`, the argv as given (never a shell). Podman's CLI
 * restores with the runtime the archive names (cmd/podman/root.go, CRGetRuntimeFromArchive).
 */
export async function podmanRestoreImport(archive: string, args: readonly string[]): Promise<PodmanResult> {
  const { execa } = await loadExeca();
  const result = await execa('podman', ['container', 'restore', '--import', archive, ...args], {
    reject: false,
    stdin: 'ignore',
    maxBuffer: 16 << 20,
  });
  if ((result as { code?: string }).code === 'ENOENT') throw podmanMissing();
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
}
