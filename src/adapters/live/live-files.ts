// The files of one live migration in the wrapper's state dir: <stateDir>/live/<container id>/ (root only).
import { lstat, mkdir, rm, stat } from 'node:fs/promises';
import { CHECKPOINT_LAZY_FILE } from '../../core/runtime/runtime-files.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../fs/untrusted-file.js';
import { ExtmountError } from '../../core/errors.js';
import {
  LIVE_ABORT,
  LIVE_LAZY_SUPERVISOR,
  LIVE_PAGES,
  LIVE_READY,
  LIVE_RELEASE,
  LIVE_REQUEST,
  LIVE_TLS_CA,
  LIVE_TLS_CERT,
  LIVE_TLS_KEY,
  parseLiveRelease,
  type LiveRelease,
  parseLivePages,
  parseLiveReady,
  parseLiveRequest,
  type LivePages,
  type LiveReady,
  type LiveRequest,
} from '../../core/live/live-request.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_+.-]{0,127}$/;

export function liveDir(stateDir: string, id: string): string {
  if (!ID.test(id) || id.includes('..'))
    throw new ExtmountError('bad-input', `not a container ID: ${JSON.stringify(id.slice(0, 80))}`);
  return join(stateDir, 'live', id);
}

/** This container's live dir, made root-only (its parent too) if it is not there. */
async function makeLiveDir(stateDir: string, id: string): Promise<string> {
  const dir = liveDir(stateDir, id);
  await mkdir(join(stateDir, 'live'), { recursive: true, mode: 0o700 });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

async function writeLive(stateDir: string, id: string, name: string, value: unknown): Promise<void> {
  await writeFileAtomic(join(await makeLiveDir(stateDir, id), name), `${JSON.stringify(value)}\n`, { mode: 0o600 });
}

async function readLive(stateDir: string, id: string, name: string): Promise<string | undefined> {
  return readBoundedTextIfExists(join(liveDir(stateDir, id), name), READ_LIMITS.runtimeResult);
}

export const writeLiveRequest = (stateDir: string, id: string, request: LiveRequest) =>
  writeLive(stateDir, id, LIVE_REQUEST, request);
export const writeLiveReady = (stateDir: string, id: string, ready: LiveReady) =>
  writeLive(stateDir, id, LIVE_READY, ready);
export const writeLivePages = (stateDir: string, id: string, pages: LivePages) =>
  writeLive(stateDir, id, LIVE_PAGES, pages);
export const writeLiveSupervisor = (stateDir: string, id: string, pid: number) =>
  writeLive(stateDir, id, LIVE_LAZY_SUPERVISOR, { pid });

/** Whether the lazy-pages supervisor has said it runs; the word is removed when read. */
export async function takeLiveSupervisor(stateDir: string, id: string): Promise<boolean> {
  const path = join(liveDir(stateDir, id), LIVE_LAZY_SUPERVISOR);
  if ((await readLive(stateDir, id, LIVE_LAZY_SUPERVISOR)) === undefined) return false;
  await rm(path, { force: true });
  return true;
}

export const removeLiveSupervisor = (stateDir: string, id: string) =>
  rm(join(liveDir(stateDir, id), LIVE_LAZY_SUPERVISOR), { force: true });

/** The request for this container's next checkpoint or restore; undefined when there is none (the usual case: one stat). */
export async function readLiveRequest(stateDir: string, id: string): Promise<LiveRequest | undefined> {
  const text = await readLive(stateDir, id, LIVE_REQUEST);
  return text === undefined ? undefined : parseLiveRequest(text, join(liveDir(stateDir, id), LIVE_REQUEST));
}

export async function readLiveReady(stateDir: string, id: string): Promise<LiveReady | undefined> {
  const text = await readLive(stateDir, id, LIVE_READY);
  return text === undefined ? undefined : parseLiveReady(text);
}

export async function readLivePages(stateDir: string, id: string): Promise<LivePages | undefined> {
  const text = await readLive(stateDir, id, LIVE_PAGES);
  return text === undefined ? undefined : parseLivePages(text);
}

/** The page server's TLS files (PEM): a certificate for its address, its key, and the CA that signed it. */
export interface LiveTls {
  ca: string;
  cert: string;
  key: string;
}

export async function writeLiveTls(stateDir: string, id: string, tls: LiveTls): Promise<void> {
  const dir = await makeLiveDir(stateDir, id);
  await writeFileAtomic(join(dir, LIVE_TLS_CA), tls.ca, { mode: 0o600 });
  await writeFileAtomic(join(dir, LIVE_TLS_CERT), tls.cert, { mode: 0o600 });
  await writeFileAtomic(join(dir, LIVE_TLS_KEY), tls.key, { mode: 0o600 });
}

/** Which of the TLS files is missing from this container's live dir (undefined: all there, regular files). */
export async function missingLiveTls(stateDir: string, id: string): Promise<string | undefined> {
  for (const name of [LIVE_TLS_CA, LIVE_TLS_CERT, LIVE_TLS_KEY]) {
    const path = join(liveDir(stateDir, id), name);
    if (
      !(await lstat(path).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      return path;
  }
  return undefined;
}

export async function removeLive(stateDir: string, id: string): Promise<void> {
  await rm(liveDir(stateDir, id), { recursive: true, force: true });
}

/**
 * The request for this container's next checkpoint or restore, taken (removed) so that it acts once;
 * undefined when there is none (the usual case: one failed open) or it has expired.
 */
export async function takeLiveRequest(
  stateDir: string,
  id: string,
  now = Date.now(),
): Promise<LiveRequest | undefined> {
  const request = await readLiveRequest(stateDir, id);
  if (request === undefined) return undefined;
  await rm(join(liveDir(stateDir, id), LIVE_REQUEST), { force: true });
  return request.expiresAt >= now ? request : undefined;
}

/** Asks the wrapper that runs this container's lazy dump to give it up (it kills the dump's CRIU: the container resumes). */
export async function requestLazyAbort(stateDir: string, id: string): Promise<void> {
  await writeLive(stateDir, id, LIVE_ABORT, { at: new Date().toISOString() });
}

export async function lazyAbortRequested(stateDir: string, id: string): Promise<boolean> {
  return (await readLive(stateDir, id, LIVE_ABORT).catch(() => undefined)) !== undefined;
}

/** Whether a Docker checkpoint on this host is a post-copy one (CHECKPOINT_LAZY_FILE in its images: they hold no memory). */
export async function isLazyCheckpoint(dockerRoot: string, containerId: string, name: string): Promise<boolean> {
  return stat(join(dockerRoot, 'containers', containerId, 'checkpoints', name, CHECKPOINT_LAZY_FILE)).then(
    () => true,
    () => false,
  );
}

export const writeLiveRelease = (stateDir: string, id: string, release: LiveRelease) =>
  writeLive(stateDir, id, LIVE_RELEASE, release);

export async function readLiveRelease(stateDir: string, id: string): Promise<LiveRelease | undefined> {
  const text = await readLive(stateDir, id, LIVE_RELEASE).catch(() => undefined);
  return text === undefined ? undefined : parseLiveRelease(text);
}
