// The wrapper's folders for a container.
//
// <stateDir>/<container id>/ is what `extmount checkpoint|restore CONTAINER` shares with the wrapper
// (the CLI knows the ID, not the engine's runc root): the result of the last call,
// kept CRIU logs and a short log. <stateDir>/<container id>/roots/<runc root key>/ holds what one call
// works with — the CRIU config files and the holder mount — keyed by runc root and ID, so that two runc
// roots with the same container ID never touch each other's (runtime-files.ts runcRootKey).
import { appendFile, copyFile, lstat, mkdir, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.js';
import { dirname, join } from 'node:path';
import { fileError } from '../../core/errors.js';
import { checkStateDirFacts, type PathFacts, type StateDirFacts } from '../../core/state-dir-rule.js';
import {
  containerStateDir,
  renderRuntimeResult,
  RUNTIME_LOG,
  RUNTIME_LOG_MAX_BYTES,
  runcRootKey,
  type RuntimeResult,
} from '../../core/runtime/runtime-files.js';

/**
 * `<stateDir>/restore/<hash of DIR>`: the private holder of `extmount restore --images-dir DIR`, one per
 * images dir (one restore at a time holds it, under the lock): a crashed run's is cleared by the next.
 */
export async function restoreHolderDir(stateDir: string, imagesDir: string): Promise<string> {
  return join(stateDir, 'restore', (await sha256Hex(imagesDir)).slice(0, 16));
}

// node:crypto is loaded when first used: the CLI's entry imports this module, and loading it at start costs
// the offline commands (detect, show, --help) a share of their start (docs/performance.md).
async function sha256Hex(text: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Refuses (exit 2, one line) a state dir the host shows as a symlink, reached through one, owned by another
 * user or writable by others (core/state-dir-rule.ts); writes nothing. The path itself was checked when the
 * config was parsed.
 */
export async function checkStateDir(stateDir: string): Promise<void> {
  checkStateDirFacts(stateDir, await stateDirFacts(stateDir), process.geteuid?.() ?? 0);
}

async function stateDirFacts(stateDir: string): Promise<StateDirFacts> {
  for (let path = stateDir; ; path = dirname(path)) {
    const facts = await pathFacts(path);
    if (facts) return path === stateDir ? { exists: true, dir: facts } : { exists: false, ancestor: path, facts };
    if (path === '/')
      throw fileError('read', stateDir, Object.assign(new Error('no root directory'), { code: 'ENOENT' }));
  }
}

async function pathFacts(path: string): Promise<PathFacts | undefined> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw fileError('read', path, err);
  });
  if (!st) return undefined;
  const kind = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : 'other';
  return { kind, uid: st.uid, mode: st.mode & 0o7777, realPath: await realpath(path).catch(() => path) };
}

export class ContainerStateDir {
  private constructor(
    readonly dir: string,
    /** This runc root's folder for the container. */
    readonly rootDir: string,
  ) {}

  static async open(stateDir: string, id: string, runcRoot: string): Promise<ContainerStateDir> {
    const dir = containerStateDir(stateDir, id);
    const root = await realRoot(runcRoot);
    const { createHash } = await import('node:crypto');
    const rootDir = join(
      dir,
      'roots',
      runcRootKey(root, (text) => createHash('sha256').update(text).digest('hex').slice(0, 32)),
    );
    await mkdir(rootDir, { recursive: true, mode: 0o700 });
    await writeFile(join(rootDir, 'root'), `${root}\n`, { mode: 0o600 }).catch(() => undefined);
    return new ContainerStateDir(dir, rootDir);
  }

  /** A file of the container's shared folder (maps.json, results, logs). */
  path(name: string): string {
    return join(this.dir, name);
  }

  /** A file of this runc root's folder (CRIU config files, the holder mount). */
  rootPath(name: string): string {
    return join(this.rootDir, name);
  }

  /** Written whole into this root's folder and renamed into place, so CRIU never reads half a file. */
  async writeFile(name: string, text: string): Promise<string> {
    const path = this.rootPath(name);
    await writeFileAtomic(path, text, { mode: 0o600 });
    return path;
  }

  /** Best effort (the runtime's answer to its caller does not depend on it), through the one writer. */
  async writeResult(name: string, result: RuntimeResult): Promise<void> {
    await writeFileAtomic(this.path(name), renderRuntimeResult(result), { mode: 0o600 }).catch(() => undefined);
  }

  /**
   * Copies a CRIU log out of runc's work dir, which containerd removes; undefined when there is none, or
   * when it is older than `since` (CRIU never ran this time: the log is an earlier call's).
   */
  async keepLog(source: string, verb: string, since: number): Promise<string | undefined> {
    const written = (await stat(source).catch(() => undefined))?.mtimeMs;
    if (written === undefined || written < since - 1000) return undefined;
    await mkdir(this.path('logs'), { recursive: true, mode: 0o700 });
    const kept = join(
      this.path('logs'),
      `criu-${verb}-${new Date().toISOString().replace(/[:.]/g, '')}-${process.pid}.log`,
    );
    try {
      await copyFile(source, kept);
      return kept;
    } catch {
      return undefined;
    }
  }

  /** One line in runtime.log; past RUNTIME_LOG_MAX_BYTES it becomes runtime.log.1 (the one before is dropped). */
  async log(line: string): Promise<void> {
    const path = this.path(RUNTIME_LOG);
    const size = (await stat(path).catch(() => undefined))?.size ?? 0;
    if (size >= RUNTIME_LOG_MAX_BYTES) await rename(path, `${path}.1`).catch(() => undefined);
    await appendFile(path, `${new Date().toISOString()} ${line}\n`, { mode: 0o600 }).catch(() => undefined);
  }
}

/** The runc root as a real path (/var/run → /run); a root runc has not made yet keeps its missing tail. */
async function realRoot(root: string): Promise<string> {
  const real = await realpath(root).catch(() => undefined);
  if (real !== undefined) return real;
  const parent = dirname(root);
  return parent === root ? root : join(await realRoot(parent), root.slice(parent.length + 1));
}
