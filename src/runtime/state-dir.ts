// The wrapper's per-container folder, <stateDir>/<container id>/: CRIU config files, kept CRIU logs,
// maps.json from `extmount restore CONTAINER --map`, the result of the last call, and a short log.
import { appendFile, copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../adapters/atomic-write.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../adapters/untrusted-file.js';
import { containerStateDir, MAPS_FILE, parseMapsFile, renderRuntimeResult, type RuntimeResult } from '../core/runtime-files.js';

export class ContainerStateDir {
  private constructor(readonly dir: string) {}

  static async open(stateDir: string, id: string): Promise<ContainerStateDir> {
    const dir = containerStateDir(stateDir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new ContainerStateDir(dir);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Written whole and renamed into place, so CRIU never reads half a file. */
  async writeFile(name: string, text: string): Promise<string> {
    const path = this.path(name);
    await writeFileAtomic(path, text, { mode: 0o600 });
    return path;
  }

  /**
   * The --map of `extmount restore CONTAINER`, read once: the file is removed as it is read, so a file
   * left by an interrupted `extmount restore` cannot redirect a later plain `docker start --checkpoint`.
   */
  async consumeMaps(): Promise<Map<string, string>> {
    const path = this.path(MAPS_FILE);
    const text = await readBoundedTextIfExists(path, READ_LIMITS.mapsFile);
    if (text === undefined) return new Map();
    await rm(path, { force: true });
    return parseMapsFile(text, path);
  }

  async writeResult(name: string, result: RuntimeResult): Promise<void> {
    await this.writeFile(name, renderRuntimeResult(result)).catch(() => undefined);
  }

  /**
   * Copies a CRIU log out of runc's work dir, which containerd removes; undefined when there is none, or
   * when it is older than `since` (CRIU never ran this time: the log is an earlier call's).
   */
  async keepLog(source: string, verb: string, since: number): Promise<string | undefined> {
    const written = (await stat(source).catch(() => undefined))?.mtimeMs;
    if (written === undefined || written < since - 1000) return undefined;
    await mkdir(this.path('logs'), { recursive: true, mode: 0o700 });
    const kept = join(this.path('logs'), `criu-${verb}-${new Date().toISOString().replace(/[:.]/g, '')}.log`);
    try {
      await copyFile(source, kept);
      return kept;
    } catch {
      return undefined;
    }
  }

  async log(line: string): Promise<void> {
    await appendFile(this.path('runtime.log'), `${new Date().toISOString()} ${line}\n`, { mode: 0o600 }).catch(() => undefined);
  }
}
