// containerd 2.x's side of `extmount install-runtime --containerd`: the drop-in (config version 3) that
// declares a CRI runtime handler running hooks/extmount-runc, the main config's `imports` that loads it,
// and the Kubernetes RuntimeClass that names the handler.
//
// containerd ≥ 2.0 reads `imports` (globs allowed, relative paths from the main config's folder) and
// merges plugin sections key by key (containerd a21e379b6), so a drop-in adds one handler without
// restating the CRI plugin (cmd/containerd/server/config/config.go LoadConfig, read from v2.1.9).
// No TOML library: the drop-in is written whole, and the main config is only ever given, or extended,
// one top-level single-line `imports = [...]`; anything else is refused.
import { ExtmountError } from '../errors.js';
import { checkRuntimeName, dropInAction, tomlString, type DropInAction } from '../podman/podman-conf.js';

export const CONTAINERD_DROP_IN_MARK =
  '# Written by `extmount install-runtime --containerd`; rerun it to change this file.';
/** Where the CRI runtime handlers live in a version 3 config (containerd 2.x). */
export const CRI_RUNTIME_TABLE = 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes';

export function containerdDropIn(name: string, wrapper: string): string {
  checkRuntimeName(name);
  return [
    CONTAINERD_DROP_IN_MARK,
    `# A CRI runtime handler "${name}": the runc v2 shim runs the extmount wrapper instead of runc.`,
    '# Pods choose it with a RuntimeClass whose handler is "' +
      name +
      '" (extmount install-runtime --containerd prints it).',
    'version = 3',
    '',
    `[${CRI_RUNTIME_TABLE}.${name}]`,
    '  runtime_type = "io.containerd.runc.v2"',
    '',
    `[${CRI_RUNTIME_TABLE}.${name}.options]`,
    `  BinaryName = ${tomlString(wrapper)}`,
    '',
  ].join('\n');
}

export function runtimeClassManifest(name: string): {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  handler: string;
} {
  checkRuntimeName(name);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) {
    // A RuntimeClass handler must be a DNS label (k8s.io/api node/v1 RuntimeClass.Handler).
    throw new ExtmountError(
      'usage',
      `--name ${name}: a Kubernetes RuntimeClass handler is a DNS label (lower-case letters, digits, "-")`,
    );
  }
  return { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name }, handler: name };
}

export type FileAction = DropInAction;

/** What --apply does with the drop-in now there (undefined: none); a file extmount did not write is refused. */
export function containerdDropInAction(current: string | undefined, wanted: string, origin: string): FileAction {
  return dropInAction(
    current,
    wanted,
    origin,
    CONTAINERD_DROP_IN_MARK,
    'move it away, or give another --drop-in; nothing was changed',
  );
}

export interface ImportsUpdate {
  action: FileAction | 'update';
  text: string;
}

const NOT_SAFE = 'edit it by hand: add the drop-in to its top-level imports = [...]; nothing was changed';

/**
 * The main config with `dropIn` covered by its top-level `imports` (`text` undefined or empty: a new
 * version 3 config that only imports it). Refuses (exit 2) what it cannot edit safely: no
 * `version = 3`, an `imports` spanning lines or holding strings with escapes, multi-line strings
 * before the first table.
 */
export function addContainerdImport(text: string | undefined, origin: string, dropIn: string): ImportsUpdate {
  const line = `imports = [${tomlString(dropIn)}]`;
  if (text === undefined || text.trim() === '') return { action: 'create', text: `version = 3\n${line}\n` };
  const lines = text.split('\n');
  const firstTable = lines.findIndex((l) => /^\s*\[/.test(l));
  const top = firstTable === -1 ? lines.length : firstTable;
  const refuse = (what: string) => new ExtmountError('bad-input', `${origin}: ${what}`, { hint: NOT_SAFE });
  const head = lines.slice(0, top);
  if (head.some((l) => l.includes('"""') || l.includes("'''")))
    throw refuse('multi-line strings before its first table');
  const versionAt = head.findIndex((l) => /^\s*version\s*=/.test(l));
  if (versionAt === -1)
    throw refuse('no top-level "version = 3" (containerd 2.x: run containerd config migrate first)');
  const version = /^\s*version\s*=\s*(\d+)\s*(#.*)?$/.exec(head[versionAt]!)?.[1];
  if (version !== '3')
    throw refuse(
      `version ${version ?? '?'}, not 3 (containerd 2.x: containerd config migrate writes a version 3 config)`,
    );
  const importsAt = head.findIndex((l) => /^\s*imports\s*=/.test(l));
  if (importsAt === -1) {
    lines.splice(versionAt + 1, 0, line);
    return { action: 'update', text: lines.join('\n') };
  }
  const match = /^(\s*imports\s*=\s*\[)(.*)\](\s*(#.*)?)$/.exec(head[importsAt]!);
  if (!match) throw refuse('an "imports" that is not a one-line list');
  const entries = parseStringList(match[2]!);
  if (entries === undefined) throw refuse('an "imports" list extmount cannot read (only plain quoted paths)');
  if (entries.some((pattern) => importCovers(pattern, origin, dropIn))) return { action: 'none', text };
  const inner = match[2]!.trim().replace(/,\s*$/, '');
  lines[importsAt] = `${match[1]}${inner === '' ? '' : `${inner}, `}${tomlString(dropIn)}]${match[3]}`;
  return { action: 'update', text: lines.join('\n') };
}

/** The strings of a TOML inline array body, or undefined when it holds anything but plain strings. */
function parseStringList(body: string): string[] | undefined {
  const out: string[] = [];
  let rest = body.trim();
  while (rest !== '') {
    const m = /^(?:"([^"\\\n]*)"|'([^'\n]*)')\s*(,\s*|$)/.exec(rest);
    if (!m) return undefined;
    out.push(m[1] ?? m[2]!);
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** Whether an `imports` entry (a path or a glob, relative to the config's folder) names `file`. */
export function importCovers(pattern: string, configFile: string, file: string): boolean {
  const dir = configFile.slice(0, configFile.lastIndexOf('/')) || '/';
  const absolute = pattern.startsWith('/') ? pattern : `${dir}/${pattern}`;
  const clean = (p: string) =>
    p
      .split('/')
      .filter((s, i) => (s !== '' && s !== '.') || i === 0)
      .join('/');
  const wanted = clean(absolute).split('/');
  const have = clean(file).split('/');
  if (wanted.length !== have.length) return false;
  // filepath.Glob: "*" matches within one path segment; containerd globs only when a "*" is present.
  return wanted.every((seg, i) => {
    if (!seg.includes('*')) return seg === have[i];
    const re = new RegExp(
      `^${seg
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')}$`,
    );
    return re.test(have[i]!);
  });
}
