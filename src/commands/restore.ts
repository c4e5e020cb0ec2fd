// `extmount restore --images-dir DIR`: checks every target, then a plain CRIU restore.
import { lstat, realpath, rm, stat } from 'node:fs/promises';
import type { Config } from '../core/config.js';
import { join, resolve } from 'node:path';
import { criuFailureError } from '../core/checkpoint/criu-log.js';
import { ExtmountError } from '../core/errors.js';
import { checkManifestAgainstImages } from '../core/checkpoint/image-check.js';
import { MANIFEST_FILE, type Manifest } from '../core/checkpoint/manifest.js';
import { planCriuOptions, toArgv } from '../core/mounts/render.js';
import {
  refusalOf,
  resolveRestoreTargets,
  restoreDenials,
  type RestoreTarget,
} from '../core/checkpoint/restore-targets.js';
import { runCriu } from '../adapters/criu/criu.js';
import { criuVersion } from '../adapters/criu/criu-version.js';
import { lockImagesDir } from '../adapters/fs/dir-lock.js';
import { MountHolder } from '../adapters/mounts/mount-holder.js';
import { restoreHolderDir } from '../adapters/fs/state-dir.js';
import { configuredEngineRoots } from '../adapters/fs/engine-roots.js';
import { checkRestoreTargets } from '../adapters/fs/restore-target-check.js';
import { readManifestIn } from '../adapters/fs/manifest-file.js';
import { readImageMounts } from '../adapters/criu/images.js';
import { READ_LIMITS, readBoundedText } from '../adapters/fs/untrusted-file.js';
import type { CommandContext } from './context.js';

export interface RestoreOptions {
  imagesDir: string;
  maps: ReadonlyMap<string, string>;
  foreground: boolean;
  criuArgs: string[];
}

export async function runRestore(options: RestoreOptions, ctx: CommandContext): Promise<void> {
  // CRIU opens --pidfile and its log relative to -D: a relative dir failed with "pidfile: Can't open".
  const imagesDir = resolve(options.imagesDir);
  await requireImagesDir(imagesDir);
  // Held from the first read to CRIU's end: two restores of one checkpoint would run two copies of the tree.
  const lock = await lockImagesDir(imagesDir);
  try {
    await restoreLocked({ ...options, imagesDir }, ctx);
  } finally {
    await lock.release();
  }
}

async function restoreLocked(options: RestoreOptions, ctx: CommandContext): Promise<void> {
  const { imagesDir } = options;
  const manifest = await readManifest(imagesDir);
  if (manifest.target.kind !== 'pid') {
    throw new ExtmountError('bad-input', `${imagesDir} holds a checkpoint of container ${manifest.target.name}`, {
      hint: `restore it with: extmount restore ${manifest.target.name}`,
    });
  }
  checkManifestAgainstImages(manifest, await readImageMounts(imagesDir), imagesDir);
  const targets = resolveRestoreTargets(manifest, options.maps, ctx.config.remap);
  const denied = restoreDenials(ctx.config, await configuredEngineRoots());
  await checkRestoreTargets(targets, ctx.config.hostPaths, denied);
  const root = manifest.target.root;
  if (root !== null && root !== '/') await checkTreeRoot(root, ctx.config.hostPaths, denied);
  // Everything checked: from here on CRIU may write (its log and pidfile) into the images dir.
  const version = await criuVersion(ctx.config.criu, { stateDir: ctx.config.stateDir });
  const pidfile = join(imagesDir, 'restore.pid');
  await rm(pidfile, { force: true });
  // CRIU gets our verified binds, never the paths themselves: what it mounts is what was checked.
  const holder = await MountHolder.create(await restoreHolderDir(ctx.config.stateDir, imagesDir));
  try {
    const criuTargets = await bindVerifiedTargets(holder, targets);
    // The root too: CRIU builds the tree's filesystem from it, so it gets the checked bind, not the path.
    const rootEntry =
      root === null || root === '/' ? null : await holder.bindChecked(root, 'private', "the tree's root");
    const criuOptions = planCriuOptions({ ...manifest, rootHostPath: rootEntry }, version, {
      targets: criuTargets,
      includeRoot: true,
    });
    const args = [
      ...toArgv(criuOptions.restore),
      ...(options.foreground ? [] : ['--restore-detached', '--pidfile', pidfile]),
      ...options.criuArgs,
    ];
    ctx.log.debug({ argv: args }, 'criu restore');
    const run = await runCriu(ctx.config.criu, 'restore', imagesDir, args, { foreground: options.foreground });
    if (run.exitCode !== 0) throw criuFailureError(`criu restore from ${imagesDir}`, run.log, run.logPath);
  } finally {
    // The restored tree has its own copies of these mounts (in its mount namespace): ours can go.
    await holder.release();
  }
  if (options.foreground) return;
  const pid = Number((await readBoundedText(pidfile, READ_LIMITS.pidfile)).trim());
  if (ctx.json) {
    ctx.io.out(
      JSON.stringify(
        {
          pid,
          mounts: targets.map((t) => ({
            key: t.mount.key,
            mountpoint: t.mount.mountpoint,
            path: t.path,
            from: t.from,
          })),
        },
        null,
        2,
      ),
    );
    return;
  }
  ctx.io.out(String(pid));
  for (const t of targets)
    ctx.log.info(`${t.mount.mountpoint} (key ${t.mount.key}) restored from ${t.path} (${t.from})`);
}

/** Each target bound into the private holder and checked there (MountHolder.bindChecked): key → holder entry, for CRIU. */
async function bindVerifiedTargets(
  holder: MountHolder,
  targets: readonly RestoreTarget[],
): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  for (const { mount, path } of targets) {
    entries.set(
      mount.key,
      await holder.bindChecked(
        path,
        mount.propagation.includes('slave') ? 'slave' : 'private',
        `${mount.mountpoint} (key ${mount.key})`,
      ),
    );
  }
  return entries;
}

/** The restored tree's whole filesystem: held to the same rules as every mount target. */
async function checkTreeRoot(root: string, hostPaths: Config['hostPaths'], denied: readonly string[]): Promise<void> {
  const refusal = refusalOf(root, hostPaths, denied);
  if (refusal)
    throw new ExtmountError('refused', `the tree's root ${root} ${refusal}`, {
      hint: 'allow it in the config (hostPaths.allow) if this is intended',
    });
  const rootStat = await lstat(root).catch(() => undefined);
  if (!rootStat?.isDirectory())
    throw new ExtmountError('refused', `the tree's root ${root} is not a directory on this host`, {
      hint: 'the root folder must exist where it was at checkpoint time',
    });
  const real = await realpath(root).catch(() => root);
  if (real !== root)
    throw new ExtmountError('refused', `the tree's root ${root} goes through a symlink (real path ${real})`, {
      hint: 'restore where the tree really was',
    });
}

async function requireImagesDir(imagesDir: string): Promise<void> {
  const dirStat = await stat(imagesDir).catch(() => undefined);
  if (!dirStat?.isDirectory())
    throw new ExtmountError('bad-input', `no images directory ${imagesDir}`, {
      hint: 'give the --images-dir used at checkpoint time',
    });
}

export async function readManifest(imagesDir: string): Promise<Manifest> {
  await requireImagesDir(imagesDir);
  const manifest = await readManifestIn(imagesDir);
  if (!manifest)
    throw new ExtmountError('bad-input', `${imagesDir} has no ${MANIFEST_FILE}`, {
      hint: 'was it written by extmount checkpoint?',
    });
  return manifest;
}
