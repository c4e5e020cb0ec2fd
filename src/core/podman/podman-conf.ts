// Podman's side of `extmount install-runtime --podman`: the containers.conf drop-in that registers
// hooks/extmount-runc, and the extmount config with absolute paths the wrapper needs there.
//
// Podman passes the runtime no environment of its own (`kill`/`delete` get no PATH, no EXTMOUNT_*), so the
// wrapper's configuration can only come from /etc/extmount/config.json, and its "runc", "node" and "criu"
// must not depend on a PATH.
import { isAbsolutePath, parseConfig } from '../config.js';
import { ExtmountError } from '../errors.js';
import { isRecord } from '../json.js';

/** The first line of every drop-in extmount writes: what tells ours from a file someone else wrote. */
export const DROP_IN_MARK = '# Written by `extmount install-runtime --podman`; rerun it to change this file.';

const RUNTIME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function checkRuntimeName(name: string): void {
  if (!RUNTIME_NAME.test(name))
    throw new ExtmountError('usage', `--name ${name}: a runtime name holds letters, digits, "_", "." and "-"`);
}

/** A TOML basic string. Control characters are refused rather than escaped: no path needs them. */
export function tomlString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new ExtmountError('bad-input', `${JSON.stringify(value)}: a control character in a path`);
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `[engine.runtimes] NAME = ["PATH"]`, marked as extmount's. */
export function podmanDropIn(name: string, wrapper: string): string {
  checkRuntimeName(name);
  return [
    DROP_IN_MARK,
    '# Registers the extmount runc wrapper with Podman: podman --runtime ' +
      name +
      ' run …; podman container checkpoint/restore.',
    '[engine.runtimes]',
    `${name} = [${tomlString(wrapper)}]`,
    '',
  ].join('\n');
}

export type DropInAction = 'create' | 'replace' | 'none';

/**
 * What --apply does with the drop-in that is there now (undefined: none yet); a file whose first line is
 * not `mark` (one extmount did not write) is refused.
 */
export function dropInAction(
  current: string | undefined,
  wanted: string,
  origin: string,
  mark = DROP_IN_MARK,
  hint = 'move it away, or write the [engine.runtimes] entry into it yourself (extmount install-runtime --podman prints it); nothing was changed',
): DropInAction {
  if (current === undefined) return 'create';
  if (current === wanted) return 'none';
  if (current.split('\n')[0] !== mark)
    throw new ExtmountError('refused', `${origin} exists and was not written by extmount`, { hint });
  return 'replace';
}

/** The absolute paths the wrapper needs without a PATH. */
export interface RuntimePaths {
  runc: string;
  node: string;
  criu: string;
}

export interface RuntimeConfigUpdate {
  text: string;
  action: 'create' | 'update' | 'none';
  /** The paths the file names once written. */
  paths: RuntimePaths;
}

/**
 * Sets "runc", "node" and "criu" in an extmount config text (undefined: no file yet) to absolute paths:
 * a value that is already absolute is kept (someone chose it), a bare name becomes the path found for it.
 * Every other field stays. A file that is no valid extmount config is not ours to rewrite (exit 2).
 */
export function updateRuntimeConfig(
  text: string | undefined,
  origin: string,
  found: RuntimePaths,
): RuntimeConfigUpdate {
  for (const [field, path] of Object.entries(found)) {
    if (!isAbsolutePath(path)) throw new ExtmountError('bad-input', `${field} ${path} is not an absolute path`);
  }
  if (text === undefined) {
    const doc = { runc: found.runc, node: found.node, criu: found.criu };
    return { text: `${JSON.stringify(doc, null, 2)}\n`, action: 'create', paths: { ...found } };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ExtmountError('refused', `${origin} is not valid JSON (${(err as Error).message})`, {
      hint: 'fix it or move it away first; nothing was changed',
    });
  }
  if (!isRecord(doc))
    throw new ExtmountError('refused', `${origin} must hold a JSON object`, {
      hint: 'fix it or move it away first; nothing was changed',
    });
  // Unknown fields or bad values: someone else's file, or a broken one; either way not rewritten.
  const config = parseConfig(doc, origin);
  const paths: RuntimePaths = {
    runc: config.runc.startsWith('/') ? config.runc : found.runc,
    node: config.node.startsWith('/') ? config.node : found.node,
    criu: config.criu.startsWith('/') ? config.criu : found.criu,
  };
  const record = doc;
  const changed = (Object.keys(paths) as (keyof RuntimePaths)[]).some((k) => record[k] !== paths[k]);
  if (!changed) return { text, action: 'none', paths };
  return { text: `${JSON.stringify({ ...record, ...paths }, null, 2)}\n`, action: 'update', paths };
}
