// The dockerd configuration entry for the extmount runtime, and merging it into a daemon.json text.
import { isRecord } from '../json.js';
import { ExtmountError } from '../errors.js';

export function runtimeEntry(name: string, path: string): { runtimes: Record<string, { path: string }> } {
  return { runtimes: { [name]: { path } } };
}

export interface MergedDaemonJson {
  text: string;
  changed: boolean;
  /** An entry of that name pointed elsewhere. */
  replaced: boolean;
}

/** Adds runtimes[name] = {path}; keeps every other setting. `text` undefined: the file does not exist yet. */
export function mergeRuntimeEntry(
  text: string | undefined,
  origin: string,
  name: string,
  path: string,
): MergedDaemonJson {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new ExtmountError('usage', `--name ${name}: a runtime name holds letters, digits, "_", "." and "-"`);
  }
  let doc: unknown = {};
  if (text !== undefined && text.trim() !== '') {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ExtmountError('bad-input', `${origin} is not valid JSON (${(err as Error).message})`, {
        hint: 'fix it first; nothing was changed',
      });
    }
  }
  if (!isRecord(doc))
    throw new ExtmountError('bad-input', `${origin} must hold a JSON object`, {
      hint: 'fix it first; nothing was changed',
    });
  const runtimes = doc.runtimes ?? {};
  if (!isRecord(runtimes))
    throw new ExtmountError('bad-input', `${origin}: "runtimes" must be an object`, {
      hint: 'fix it first; nothing was changed',
    });
  const existing = runtimes[name];
  if (isRecord(existing) && existing.path === path && Object.keys(existing).length === 1) {
    return { text: text ?? '', changed: false, replaced: false };
  }
  const merged = { ...doc, runtimes: { ...runtimes, [name]: { path } } };
  return { text: `${JSON.stringify(merged, null, 2)}\n`, changed: true, replaced: existing !== undefined };
}
