// `extmount checkpoint --pid PID --images-dir DIR`: a plain CRIU dump that keeps external mounts.
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { criuFailureError } from '../core/checkpoint/criu-log.js';
import { ExtmountError } from '../core/errors.js';
import { MANIFEST_FILE, manifestFromPlan, renderManifest } from '../core/checkpoint/manifest.js';
import { toArgv } from '../core/mounts/render.js';
import { writeFileAtomic } from '../adapters/fs/atomic-write.js';
import { runCriu } from '../adapters/criu/criu.js';
import { extmountVersion } from '../adapters/package-info.js';
import type { CommandContext } from './context.js';
import { analyzeTask } from './detect.js';

export interface CheckpointOptions {
  pid: number;
  imagesDir: string;
  keys: ReadonlyMap<string, string>;
  leaveRunning: boolean;
  criuArgs: string[];
}

export async function runCheckpoint(options: CheckpointOptions, ctx: CommandContext): Promise<void> {
  const { pid } = options;
  // CRIU resolves some paths (--pidfile, the log) inside -D: hand it an absolute one.
  const imagesDir = resolve(options.imagesDir);
  const analysis = await analyzeTask({ source: { kind: 'pid', pid }, keys: options.keys }, ctx);
  if (!analysis.version)
    throw new ExtmountError('bad-input', `CRIU (${ctx.config.criu}) is not installed`, {
      hint: 'install it (scripts/provision.sh) or set "criu" in the config',
    });
  await prepareImagesDir(imagesDir);
  const manifest = manifestFromPlan(analysis.plan, {
    extmount: extmountVersion(),
    criu: analysis.version.text,
    createdAt: new Date().toISOString(),
    target: { kind: 'pid', pid, root: analysis.plan.rootHostPath },
  });
  // Written beside the images only once the dump worked, so a manifest always has its images.
  const pending = join(imagesDir, `.${MANIFEST_FILE}.pending`);
  await writeFileAtomic(pending, renderManifest(manifest), { mode: 0o600 });
  const args = [
    '-t',
    String(pid),
    ...toArgv(analysis.criuOptions.dump),
    ...(options.leaveRunning ? ['--leave-running'] : []),
    ...options.criuArgs,
  ];
  ctx.log.debug({ argv: args }, 'criu dump');
  const run = await runCriu(ctx.config.criu, 'dump', imagesDir, args);
  if (run.exitCode !== 0) {
    await rm(pending, { force: true });
    throw criuFailureError(`criu dump of pid ${pid}`, run.log, run.logPath);
  }
  await rename(pending, join(imagesDir, MANIFEST_FILE));
  const summary = {
    pid,
    imagesDir,
    manifest: join(imagesDir, MANIFEST_FILE),
    leftRunning: options.leaveRunning,
    external: manifest.mounts.map((m) => ({
      mountpoint: m.mountpoint,
      key: m.key,
      hostPath: m.hostPath,
      kind: m.kind,
    })),
  };
  if (ctx.json) {
    ctx.io.out(JSON.stringify(summary, null, 2));
    return;
  }
  const lines = [`checkpointed pid ${pid} into ${imagesDir}${options.leaveRunning ? ' (left running)' : ''}`];
  for (const m of summary.external)
    lines.push(`  external ${m.mountpoint} as ${m.key} (from ${m.hostPath ?? 'unknown host path'})`);
  ctx.io.out(lines.join('\n'));
}

/** Creates DIR, or accepts it empty: never mixes two dumps in one folder. */
async function prepareImagesDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ExtmountError('bad-input', `cannot create images dir ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const existing = (await readdir(dir)).filter((name) => name.endsWith('.img') || name === MANIFEST_FILE);
  if (existing.length > 0) {
    throw new ExtmountError('bad-input', `images dir ${dir} already holds a checkpoint (${existing[0]})`, {
      hint: 'give an empty or new directory',
    });
  }
}
