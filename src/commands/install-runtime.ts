// `extmount install-runtime`: the daemon.json entry that registers hooks/extmount-runc with dockerd.
import { chmod, copyFile, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ExtmountError, fileError } from '../core/errors.js';
import { mergeRuntimeEntry, runtimeEntry } from '../core/daemon-json.js';
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
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ExtmountError('bad-input', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const merged = mergeRuntimeEntry(text, file, options.name, WRAPPER_PATH);
  let backup: string | null = null;
  if (merged.changed) {
    try {
      const mode = text === undefined ? 0o644 : (await stat(file)).mode & 0o777;
      if (text !== undefined) {
        backup = `${file}.extmount-backup-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
        await copyFile(file, backup);
      }
      await writeFile(`${file}.extmount.tmp`, merged.text, { mode });
      await chmod(`${file}.extmount.tmp`, mode);
      await rename(`${file}.extmount.tmp`, file);
    } catch (err) {
      throw fileError('write', file, err);
    }
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
