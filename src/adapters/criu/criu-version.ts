// `criu --version`, without execa (run-file.ts): the runtime handler asks it inside the container's freeze.
//
// The answer is kept in <stateDir>/criu-version.json, keyed by the identity of the CRIU file that
// answered (path, device, inode, size, mtime, ctime: a package upgrade or a copy over it changes one),
// so that a command pays a stat instead of a spawn of CRIU (10-20 ms, inside the freeze for the
// runtime handler). The file is kept only where the state dir already exists (root's, mode 0700).
import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { ExtmountError } from '../../core/errors.js';
import { parseCriuVersion, type CriuVersion } from '../../core/mounts/render.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../fs/untrusted-file.js';

export const CRIU_VERSION_CACHE = 'criu-version.json';

export async function criuVersion(criu: string, options: { stateDir?: string } = {}): Promise<CriuVersion> {
  const cacheFile = options.stateDir ? join(options.stateDir, CRIU_VERSION_CACHE) : undefined;
  const identity = cacheFile ? await fileIdentity(criu) : undefined;
  if (cacheFile && identity) {
    const cached = await readCache(cacheFile, identity);
    if (cached) return cached;
  }
  // Loaded only when CRIU is asked: a cache hit needs neither child_process nor the writer's crypto.
  const [{ runFile }, { writeFileAtomic }] = await Promise.all([
    import('./run-file.js'),
    import('../fs/atomic-write.js'),
  ]);
  const run = await runFile(criu, ['--version'], { timeoutMs: 10_000 });
  // A CRIU that runs but exits non-zero still prints its version; one that cannot start is bad input.
  if (run.notStarted) {
    throw new ExtmountError('bad-input', `cannot run CRIU (${criu}): ${run.error}`, {
      hint: 'install CRIU (scripts/provision.sh) or set "criu" in the config',
    });
  }
  const version = parseCriuVersion(`${run.stdout}\n${run.stderr}`);
  if (cacheFile && identity && run.exitCode === 0) {
    await writeFileAtomic(cacheFile, `${JSON.stringify({ identity, version: version.text })}\n`).catch(() => undefined);
  }
  return version;
}

/** What the cache is keyed by; undefined when the file cannot be found (then CRIU is asked). */
async function fileIdentity(criu: string): Promise<string | undefined> {
  const path = await resolveExecutable(criu);
  if (!path) return undefined;
  try {
    const real = await realpath(path);
    const s = await stat(real, { bigint: true });
    if (!s.isFile()) return undefined;
    return [real, s.dev, s.ino, s.size, s.mtimeNs, s.ctimeNs].join(':');
  } catch {
    return undefined;
  }
}

/**
 * As execvp finds it: a name with a slash as it is, else the first executable file on PATH, where an
 * empty entry is the working directory. Undefined (no cache) when that is a relative path: its answer
 * would depend on where the command runs.
 */
async function resolveExecutable(command: string): Promise<string | undefined> {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '').split(delimiter).map((d) => join(d || '.', command));
  for (const candidate of candidates) {
    if (!isAbsolute(candidate)) return undefined;
    try {
      // A directory of that name also passes: fileIdentity then finds no file and nothing is cached.
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function readCache(file: string, identity: string): Promise<CriuVersion | undefined> {
  try {
    const text = await readBoundedTextIfExists(file, READ_LIMITS.criuVersionCache);
    if (text === undefined) return undefined;
    const entry = JSON.parse(text) as { identity?: unknown; version?: unknown };
    if (entry.identity !== identity || typeof entry.version !== 'string') return undefined;
    return parseCriuVersion(`Version: ${entry.version}`);
  } catch {
    return undefined; // a damaged cache is asked again and rewritten
  }
}
