// `extmount restore --import ARCHIVE [--map SRC=DST]…`: a `podman container checkpoint --export` archive
// restored on this host with its binds remapped (Podman's own --import keeps every source as it was).
//
// The archive is read twice, never unpacked: first its config.dump and spec.dump (near its start), and
// every bind checked on this host before anything is written; then the whole archive is copied, entry by
// entry through the tar checks, into a private folder with the two dumps replaced, and Podman imports
// that copy. The archive itself is never changed; the copy is removed whatever happens.
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RemapRule } from '../core/config.js';
import { ExtmountError } from '../core/errors.js';
import { restoreDenials } from '../core/checkpoint/restore-targets.js';
import { encodeFileEntry, TarFormatError } from '../core/migrate/migrate-tar.js';
import { planBindTargets, unusedMaps, type BindTarget } from '../core/migrate/migrate-plan.js';
import {
  archiveMounts,
  CONFIG_DUMP,
  localVolumeSource,
  MAX_DUMP_SIZE,
  parseDumps,
  rewriteDumps,
  SPEC_DUMP,
  type ArchiveDumps,
} from '../core/podman/checkpoint-archive.js';
import { configuredEngineRoots } from '../adapters/fs/engine-roots.js';
import { checkHostPath } from '../adapters/fs/restore-target-check.js';
import {
  openArchive,
  podmanRestoreImport,
  podmanStore,
  withTarStream,
  type ArchiveFile,
} from '../adapters/podman/podman-archive.js';
import { TarFilter } from '../core/migrate/tar-filter.js';
import { CHECKPOINT_POLICY, readCheckpointFiles } from '../adapters/kube/checkpoint-source.js';
import { createProgress } from '../migrate/progress.js';
import { formatBytes } from '../core/migrate/migrate-report.js';
import type { CommandContext } from './context.js';

export interface ImportOptions {
  archive: string;
  maps: RemapRule[];
  /** Podman's --name: a new name (and ID) for the restored container. */
  name: string | undefined;
  /** After "--": passed to podman container restore as they are. */
  podmanArgs: string[];
}

export async function runRestoreImport(options: ImportOptions, ctx: CommandContext): Promise<void> {
  // Podman takes the last --import and --name: one after "--" would undo the mapping.
  const clash = options.podmanArgs.find((a) => /^(-i|--import|--name)(=|$)/.test(a));
  if (clash)
    throw new ExtmountError(
      'usage',
      `${clash.split('=')[0]} after "--": extmount gives podman the archive and the name itself`,
      { hint: 'use restore --import ARCHIVE --name NAME' },
    );
  try {
    await importArchive(options, ctx);
  } catch (err) {
    if (err instanceof TarFormatError)
      throw new ExtmountError('refused', err.message, {
        hint: 'the file is not an archive podman container checkpoint --export writes',
        cause: err,
      });
    throw err;
  }
}

async function importArchive(options: ImportOptions, ctx: CommandContext): Promise<void> {
  const archive = await openArchive(resolve(options.archive));
  try {
    const dumps = await readDumps(archive);
    const { binds, volumes } = archiveMounts(dumps);
    const unused = unusedMaps(options.maps, binds);
    if (unused.length > 0) {
      throw new ExtmountError(
        'usage',
        `--map ${unused[0]!.from}=…: the archive has no bind from ${unused[0]!.from} or below`,
        {
          hint: `its bind sources: ${binds.map((b) => b.source).join(', ') || 'none'}`,
        },
      );
    }
    const denied = restoreDenials(ctx.config, await configuredEngineRoots());
    const targets = planBindTargets(binds, options.maps, ctx.config, denied);
    for (const t of targets) {
      await checkHostPath(`bind ${t.destination} → ${t.target}`, t.target, {
        missingHint:
          t.from === 'original'
            ? `create it, or map it with --map ${t.source}=PATH`
            : 'create it, or choose another --map target',
      });
    }
    // Podman's own storage is no place to bind from either, wherever this host keeps it.
    const store = binds.length + volumes.length > 0 ? await podmanStore() : undefined;
    if (store)
      planBindTargets(binds, options.maps, ctx.config, [...denied, store.graphRoot, store.runRoot, store.volumePath]);
    const rewritten = rewriteDumps(dumps, targets, volumes, store?.volumePath);

    await mkdir(ctx.config.stateDir, { recursive: true, mode: 0o700 });
    const work = await mkdtemp(join(ctx.config.stateDir, 'import-'));
    try {
      const copy = join(work, 'archive.tar');
      // Progress is for a person watching a long copy: only on a terminal, and never on stdout.
      const progress = createProgress(process.stderr.isTTY ? { write: (text) => process.stderr.write(text) } : {});
      progress.phase(`copying ${options.archive}`);
      try {
        await copyWithDumps(archive, copy, rewritten, ctx.config.importMaxBytes, (n) => progress.add('checkpoint', n));
      } finally {
        progress.done();
      }
      ctx.log.debug({ copy, binds: targets }, 'podman container restore --import');
      const args = [...(options.name !== undefined ? ['--name', options.name] : []), ...options.podmanArgs];
      const run = await podmanRestoreImport(copy, args);
      if (run.exitCode !== 0) {
        const lines = run.stderr
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '');
        const reason =
          [...lines].reverse().find((l) => l.startsWith('Error: ')) ?? lines.pop() ?? `exit ${run.exitCode}`;
        throw new ExtmountError(
          'restore-failed',
          `podman container restore --import failed: ${reason.replace(/^Error: /, '')}`,
          {
            hint: 'see podman ps -a for a container it may have left created',
            details: lines.slice(-20),
          },
        );
      }
      report(
        run.stdout.trim().split('\n').pop() ?? '',
        targets,
        volumes.map((v) => ({ ...v, path: localVolumeSource(store!.volumePath, v.name) })),
        options,
        ctx,
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    await archive.handle.close();
  }
}

/** The two dumps, read from the archive's start; the read stops once both were seen. */
async function readDumps(archive: ArchiveFile): Promise<ArchiveDumps> {
  const source = {
    path: archive.path,
    withTar: <T>(consume: (tar: Readable) => Promise<T>) => withTarStream(archive, consume),
  };
  const files = await readCheckpointFiles(source, (p) => p === CONFIG_DUMP || p === SPEC_DUMP, MAX_DUMP_SIZE, 2);
  const config = files.get(CONFIG_DUMP);
  const spec = files.get(SPEC_DUMP);
  if (!config || !spec) {
    throw new ExtmountError('bad-input', `${archive.path} has no ${config ? SPEC_DUMP : CONFIG_DUMP}`, {
      hint: 'give the file written by podman container checkpoint --export',
    });
  }
  return parseDumps(config, spec);
}

/**
 * The whole archive into `to`, checked entry by entry, its dumps replaced by `dumps`; stopped before it
 * would pass `maxBytes` (the config's importMaxBytes: a 231 KB zstd archive unpacked to 6 GiB, issue 27),
 * or leave less than a reserve free on that filesystem. The caller removes what was written.
 */
async function copyWithDumps(
  archive: ArchiveFile,
  to: string,
  dumps: { config: Buffer; spec: Buffer },
  maxBytes: number,
  copied: (bytes: number) => void,
): Promise<void> {
  const mtime = Math.floor(Date.now() / 1000);
  const fs = await statfs(dirname(to));
  const reserve = Math.min(1 << 30, Math.floor((fs.blocks * fs.bsize) / 20));
  const budget = fs.bavail * fs.bsize - reserve;
  let written = 0;
  await withTarStream(archive, async (tar) => {
    const filter = new TarFilter(
      CHECKPOINT_POLICY,
      ({ path }) => (path === CONFIG_DUMP || path === SPEC_DUMP ? 'skip' : 'keep'),
      undefined,
      (path, bytes) => {
        // Called before the bytes are passed on: what would pass the cap is never written.
        if (written + bytes > maxBytes) {
          throw new ExtmountError(
            'refused',
            `${archive.path} unpacks to more than ${formatBytes(maxBytes)} (importMaxBytes), passed at ${path ?? 'its end'}`,
            {
              hint: 'raise "importMaxBytes" in the config if the archive is one you trust',
            },
          );
        }
        written += bytes;
        copied(bytes);
        if (written > budget) {
          throw new ExtmountError(
            'restore-failed',
            `the archive unpacks to more than the ${Math.max(0, budget)} bytes free (keeping ${reserve} in reserve) in ${dirname(to)}`,
            {
              hint: 'free space there, or set another stateDir in the config',
            },
          );
        }
      },
    );
    filter.requireEnd = true;
    filter.trailer = [
      encodeFileEntry({ name: CONFIG_DUMP, mode: 0o600, uid: 0, gid: 0, mtime }, dumps.config),
      encodeFileEntry({ name: SPEC_DUMP, mode: 0o600, uid: 0, gid: 0, mtime }, dumps.spec),
    ];
    await pipeline(tar, filter, createWriteStream(to, { mode: 0o600, flags: 'wx' })).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).path !== to) throw err;
      throw new ExtmountError('restore-failed', `cannot write the archive's copy ${to}: ${(err as Error).message}`, {
        hint: 'the copy needs as much free space as the archive holds uncompressed; free some, or set another stateDir',
        cause: err,
      });
    });
  });
}

function report(
  id: string,
  targets: readonly BindTarget[],
  volumes: { name: string; destination: string; path: string }[],
  options: ImportOptions,
  ctx: CommandContext,
): void {
  const binds = targets.map((t) => ({ destination: t.destination, source: t.source, path: t.target, from: t.from }));
  if (ctx.json) {
    ctx.io.out(
      JSON.stringify(
        {
          id,
          ...(options.name !== undefined ? { name: options.name } : {}),
          archive: resolve(options.archive),
          binds,
          volumes,
        },
        null,
        2,
      ),
    );
    return;
  }
  ctx.io.out(id);
  for (const b of binds) ctx.log.info(`bind ${b.destination}: ${b.source} → ${b.path} (${b.from})`);
  for (const v of volumes) ctx.log.info(`volume ${v.name} at ${v.destination}: ${v.path}`);
}
