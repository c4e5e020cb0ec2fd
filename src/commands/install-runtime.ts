// `extmount install-runtime`: the daemon.json entry that registers hooks/extmount-runc with dockerd.
import { fileURLToPath } from 'node:url';
import { mergeRuntimeEntry, runtimeEntry } from '../core/docker/daemon-json.js';
import { createFileExclusive, writeFileAtomic } from '../adapters/atomic-write.js';
import { READ_LIMITS, readUntrustedIfExists } from '../adapters/untrusted-file.js';
import type { CommandContext } from './context.js';

export interface InstallRuntimeOptions {
  apply: boolean;
  name: string;
  /** daemon.json to merge into with --apply. */
  daemonJson: string;
}

export const WRAPPER_PATH = fileURLToPath(new URL('../../../hooks/extmount-runc', import.meta.url));

export async function runInstallRuntime(options: InstallRuntimeOptions, ctx: CommandContext): Promise<void> {
  const entry = runtimeEntry(options.name, WRAPPER_PATH);
  if (!options.apply) {
    ctx.io.out(JSON.stringify(entry, null, ctx.json ? 2 : undefined));
    if (!ctx.json) ctx.io.err(`add this to ${options.daemonJson} (or run with --apply), then reload dockerd (kill -HUP its pid)`);
    return;
  }
  const file = options.daemonJson;
  // Refuses a symlink, a FIFO or a huge file before anything is written.
  const current = await readUntrustedIfExists(file, READ_LIMITS.daemonJson);
  const text = current?.bytes.toString('utf8');
  const merged = mergeRuntimeEntry(text, file, options.name, WRAPPER_PATH);
  let backup: string | null = null;
  if (merged.changed) {
    const mode = current ? current.stat.mode & 0o777 : 0o644;
    if (current) {
      backup = `${file}.extmount-backup-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
      await createFileExclusive(backup, current.bytes, { mode });
    }
    await writeFileAtomic(file, merged.text, { mode });
  }
  const report = { daemonJson: file, runtime: options.name, path: WRAPPER_PATH, changed: merged.changed, replaced: merged.replaced, backup };
  if (ctx.json) {
    ctx.io.out(JSON.stringify(report, null, 2));
    return;
  }
  ctx.io.out(
    merged.changed
      ? `${merged.replaced ? 'replaced' : 'added'} runtime "${options.name}" → ${WRAPPER_PATH} in ${file}${backup ? ` (backup: ${backup})` : ''}; reload dockerd (kill -HUP its pid) to use it`
      : `runtime "${options.name}" → ${WRAPPER_PATH} is already in ${file}; nothing changed`,
  );
}

