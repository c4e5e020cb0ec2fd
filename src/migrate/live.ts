// Post-copy migration (--live=postcopy): the source's checkpoint keeps the memory and serves it from
// CRIU's page server; the target restores without it and pulls each page as it is touched.
//
// dockerd's API has no lazy checkpoint (moby checkpoint create → runtime `checkpoint --image-path
// --work-path`; containerd copies the images into its content store only after runc returns, which
// for a lazy dump is after the last page moved). So the extmount runtime on each engine is asked,
// beside the API call, to make the dump and the restore lazy (core/live/live-request.ts), and the
// images are taken from where runc writes them, on this host.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../core/config.js';
import { ExtmountError } from '../core/errors.js';
import type { Digests } from '../core/migrate/digests.js';
import { CHECKPOINT_ATTEMPT_FILE, CHECKPOINT_MAPS_FILE } from '../core/runtime/runtime-files.js';
import {
  chooseLiveMode,
  type LiveChoice,
  type LiveFacts,
  type LivePages,
  type LiveReady,
  type LiveRequestMode,
} from '../core/live/live-request.js';
import {
  readLivePages,
  readLiveReady,
  removeLive,
  writeLiveRelease,
  writeLiveRequest,
  writeLiveTls,
  type LiveTls,
} from '../adapters/live/live-files.js';
import { opensslProblem } from '../adapters/live/live-tls.js';
import { writeFileAtomic } from '../adapters/fs/atomic-write.js';
import type { MigrationPlan } from './preflight.js';
import type { MigrateDeps } from './migrate.js';
import { describeFailure } from '../adapters/docker/migrate-engine.js';

const execFileAsync = promisify(execFile);

/** The page server listens on loopback: both engines are on this host (the only case built). */
export const PAGE_SERVER_ADDRESS = '127.0.0.1';
/** How long the frozen source waits for the target to start pulling before it gives up and resumes. */
const CONNECT_WITHIN_MS = 300_000;
const READY_TIMEOUT_MS = 120_000;
/** Every page on the target: bounded, though the daemon prefetches everything in the background. */
export const PAGES_TIMEOUT_MS = 600_000;
/** A lazy checkpoint holds the memory, not images: more than this many bytes of them is not one. */
const MAX_IMAGE_BYTES = 256 * 1024 * 1024;

export async function chooseLive(requested: LiveRequestMode, plan: MigrationPlan, config: Config): Promise<LiveChoice> {
  if (requested === 'off') return chooseLiveMode('off', emptyFacts());
  if (plan.mode !== 'fresh') {
    if (requested === 'auto')
      return { mode: 'off', why: 'an earlier run already checkpointed it: its checkpoint holds the memory' };
    throw new ExtmountError(
      'refused',
      `--live=${requested}: an earlier run already checkpointed ${plan.name} with its memory on ${plan.source.where}`,
      { hint: 'run migrate again without --live to finish it' },
    );
  }
  return chooseLiveMode(requested, await liveFacts(plan, config));
}

function emptyFacts(): LiveFacts {
  return {
    uffd: false,
    dirtyTracking: false,
    pipeMaxSize: 0,
    runtimeProblem: undefined,
    localProblem: undefined,
    tlsProblem: undefined,
  };
}

async function liveFacts(plan: MigrationPlan, config: Config): Promise<LiveFacts> {
  const feature = (name: string) =>
    execFileAsync(config.criu, ['check', '--feature', name], { timeout: 20_000 }).then(
      () => true,
      () => false,
    );
  const [uffd, dirtyTracking, pipeMax, sourceConfig, targetContainers, tlsProblem] = await Promise.all([
    feature('uffd-noncoop'),
    feature('mem_dirty_track'),
    readFile('/proc/sys/fs/pipe-max-size', 'utf8').then(
      (t) => Number(t.trim()),
      () => 0,
    ),
    stat(join(plan.sourceInfo.DockerRootDir, 'containers', plan.container.Id, 'config.v2.json')).then(
      () => true,
      () => false,
    ),
    stat(join(plan.targetInfo.DockerRootDir, 'containers')).then(
      (s) => s.isDirectory(),
      () => false,
    ),
    opensslProblem(),
  ]);
  return {
    uffd,
    dirtyTracking,
    pipeMaxSize: pipeMax,
    tlsProblem,
    runtimeProblem: runtimeProblem(plan),
    localProblem: !sourceConfig
      ? `${plan.source.where}'s data (${plan.sourceInfo.DockerRootDir}) is not on this host`
      : !targetContainers
        ? `${plan.target.where}'s data (${plan.targetInfo.DockerRootDir}) is not on this host`
        : undefined,
  };
}

/** Both engines must run the container with the extmount runtime: it is what makes the dump and the restore lazy. */
function runtimeProblem(plan: MigrationPlan): string | undefined {
  const runtime = (plan.container.HostConfig.Runtime as string | undefined) || 'runc';
  for (const [info, where] of [
    [plan.sourceInfo, plan.source.where],
    [plan.targetInfo, plan.target.where],
  ] as const) {
    const path = info.Runtimes?.[runtime]?.path ?? '';
    if (!path.endsWith('/extmount-runc') && path !== 'extmount-runc')
      return `${plan.name} runs under the runtime "${runtime}", which on ${where} is ${path ? path : 'not registered'}, not the extmount runtime`;
  }
  return undefined;
}

/** A free TCP port on loopback for the page server. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, PAGE_SERVER_ADDRESS, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface LiveSession {
  port: number;
  stateDir: string;
  sourceId: string;
  /** The page server's TLS files, made for this migration (adapters/live/live-tls.ts). */
  tls: LiveTls;
}

/**
 * How long past the verification window the source's wrapper waits for migrate's word once every page
 * is on the target, before it ends the source by itself (migrate was killed): migrate's own steps
 * between the last page and its word (the window's polls, removing its helpers) take well under this.
 */
const RELEASE_MARGIN_MS = 20_000;

export async function requestLazyDump(session: LiveSession, targetId: string, windowMs: number): Promise<void> {
  // Nothing of an earlier session (a release, an abort) may speak for this one.
  await removeLive(session.stateDir, session.sourceId);
  await writeLiveTls(session.stateDir, session.sourceId, session.tls);
  await writeLiveRequest(session.stateDir, session.sourceId, {
    role: 'dump',
    address: PAGE_SERVER_ADDRESS,
    port: session.port,
    expiresAt: Date.now() + 60_000,
    connectWithinMs: CONNECT_WITHIN_MS,
    peer: targetId,
    releaseWithinMs: windowMs + RELEASE_MARGIN_MS,
  });
}

export async function requestLazyRestore(session: LiveSession, targetId: string): Promise<void> {
  await writeLiveTls(session.stateDir, targetId, session.tls);
  await writeLiveRequest(session.stateDir, targetId, {
    role: 'restore',
    address: PAGE_SERVER_ADDRESS,
    port: session.port,
    expiresAt: Date.now() + 60_000,
    connectWithinMs: CONNECT_WITHIN_MS,
  });
}

/** Waits for the source's wrapper to announce the images (its page server listens); fails as soon as the checkpoint call does. */
export async function awaitReady(session: LiveSession, created: Promise<void>): Promise<LiveReady> {
  let failed: unknown;
  let settled = false;
  created.then(
    () => (settled = true),
    (err: unknown) => {
      settled = true;
      failed = err;
    },
  );
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const ready = await readLiveReady(session.stateDir, session.sourceId);
    if (ready) return ready;
    if (failed !== undefined) throw failed;
    if (settled) {
      throw new ExtmountError(
        'docker-failed',
        'the checkpoint ended without a lazy page server: the engine did not run the extmount runtime for it, or the runtime did not take the request',
        {
          hint: "check that the container runs with the extmount runtime (docker inspect -f {{.HostConfig.Runtime}}) and that its state dir is this config's",
        },
      );
    }
    if (Date.now() > deadline)
      throw new ExtmountError(
        'docker-failed',
        `no lazy page server after ${READY_TIMEOUT_MS / 1000} s of checkpointing`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The lazy checkpoint's images (all but the pages) into the target's checkpoint folder, on this host.
 * Plain files only, bounded; what is this host's only (an operator's --map, a start nonce) stays out.
 */
export async function copyLazyImages(ready: LiveReady, targetDir: string): Promise<Digests> {
  const digests: Digests = new Map();
  await mkdir(targetDir, { recursive: true, mode: 0o700 });
  let total = 0;
  for (const name of await readdir(ready.imagePath)) {
    if (name === CHECKPOINT_MAPS_FILE || name === CHECKPOINT_ATTEMPT_FILE) continue;
    const path = join(ready.imagePath, name);
    const info = await lstat(path);
    if (!info.isFile())
      throw new ExtmountError(
        'refused',
        `refused a non-file ${JSON.stringify(name)} in the checkpoint ${ready.imagePath}`,
      );
    total += info.size;
    if (total > MAX_IMAGE_BYTES)
      throw new ExtmountError(
        'refused',
        `the lazy checkpoint in ${ready.imagePath} holds more than ${MAX_IMAGE_BYTES} bytes: not a checkpoint without its pages`,
      );
    const bytes = await readFile(path);
    // Not synced: CRIU reads them at once, and a crash ends the frozen source they describe too.
    await writeFileAtomic(join(targetDir, name), bytes, { mode: info.mode & 0o777, sync: false });
    digests.set(name, { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
  }
  return digests;
}

/** The target's supervisor's verdict on the page pull; undefined when it has not ended within the wait. */
export async function awaitPages(
  stateDir: string,
  targetId: string,
  waitMs = PAGES_TIMEOUT_MS,
): Promise<LivePages | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const pages = await readLivePages(stateDir, targetId);
    if (pages || Date.now() > deadline) return pages;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function endLiveSession(session: LiveSession, targetId: string | undefined): Promise<void> {
  await removeLive(session.stateDir, session.sourceId).catch(() => undefined);
  if (targetId) await removeLive(session.stateDir, targetId).catch(() => undefined);
}

/** A post-copy checkpoint under way: the source is frozen, its page server listens, the images are announced. */
export interface LazyCheckpoint {
  session: LiveSession;
  ready: LiveReady;
  /** The engine's checkpoint call: it returns once every page has been pulled (or the dump failed). */
  created: Promise<void>;
  /** Set once the source was told to end (every page on the target, the copy verified): from then on the memory is on the target only. */
  released: boolean;
}

/** Pages in the page images CRIU wrote (pages-N.img: 4 KiB each). */
export function pagesIn(files: Digests): number {
  let bytes = 0;
  for (const [name, d] of files) if (/^pages-\d+\.img$/.test(name)) bytes += d.size;
  return Math.floor(bytes / 4096);
}

/**
 * Post-copy's end, part one: the target's supervisor says its daemon got every page the container
 * needs. The source's checkpoint call fails meanwhile only if its side failed (its CRIU died).
 */
export async function pagesPulled(
  plan: MigrationPlan,
  lazy: LazyCheckpoint,
  targetId: string,
  deps: MigrateDeps,
): Promise<number> {
  let failed: unknown;
  lazy.created.catch((err: unknown) => {
    failed = err ?? new Error('checkpoint failed');
  });
  for (const deadline = Date.now() + PAGES_TIMEOUT_MS; ; await new Promise((resolve) => setTimeout(resolve, 20))) {
    const pages = await awaitPages(lazy.session.stateDir, targetId, 0);
    if (pages?.ok) {
      deps.log.debug({ pages: pages.transferred }, 'every page on the target');
      return pages.transferred ?? 0;
    }
    if (pages) {
      throw new ExtmountError(
        'criu-failed',
        `post-copy: the target's lazy-pages daemon ${pages.exitCode === 0 ? 'ended, but its container had stopped' : `ended with ${pages.signal ?? `exit ${pages.exitCode}`}`} after ${pages.transferred ?? '?'} of ${pages.total ?? '?'} pages${pages.killed ? `; its container was killed (${pages.killed})` : ''}`,
      );
    }
    if (failed !== undefined) {
      const late = await awaitPages(lazy.session.stateDir, targetId, 5000);
      throw new ExtmountError(
        'criu-failed',
        `post-copy failed: the source's page server ended before every page reached the target (${describeFailure(failed, plan.source)})${late ? `; the target's lazy-pages daemon got ${late.transferred ?? '?'} of ${late.total ?? '?'} pages${late.killed ? `, its container was killed (${late.killed})` : ''}` : ''}`,
        { cause: failed },
      );
    }
    if (Date.now() > deadline)
      throw new ExtmountError(
        'docker-failed',
        `the pages did not all reach ${plan.target.where} within ${PAGES_TIMEOUT_MS / 1000} s`,
      );
  }
}

/** Part two, after the copy's verification window: the source's wrapper is told to end the source, and its checkpoint call then returns. */
export async function releaseSource(plan: MigrationPlan, lazy: LazyCheckpoint): Promise<void> {
  lazy.released = true;
  await writeLiveRelease(lazy.session.stateDir, lazy.session.sourceId, { action: 'end' });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      lazy.created,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ExtmountError(
                'docker-failed',
                `the checkpoint on ${plan.source.where} did not end within 60 s of the release`,
              ),
            ),
          60_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
