// Decides, as data, what a migration moves: bind sources on the target, and which rootfs changes to carry.
import type { Config, RemapRule } from '../config.js';
import { isAbsolutePath, normalizePath } from '../config.js';
import { ExtmountError } from '../errors.js';
import { applyRemap, isUnder, refusalOf } from '../checkpoint/restore-targets.js';

/** `--map SRC=DST`, repeated: both absolute; SRC maps itself and everything below it. */
export function parseMigrateMaps(flags: readonly string[] | undefined, command = 'migrate'): RemapRule[] {
  const rules: RemapRule[] = [];
  for (const flag of flags ?? []) {
    const eq = flag.indexOf('=');
    const from = eq > 0 ? flag.slice(0, eq) : '';
    const to = eq > 0 ? flag.slice(eq + 1) : '';
    if (!isAbsolutePath(from) || !isAbsolutePath(to)) {
      throw new ExtmountError(
        'usage',
        `--map "${flag}": expected SRC=DST, two absolute paths, e.g. --map /srv/a=/srv/b`,
        { hint: `see extmount ${command} --help` },
      );
    }
    const rule = { from: normalizePath(from), to: normalizePath(to) };
    if (rules.some((r) => r.from === rule.from))
      throw new ExtmountError('usage', `--map: ${rule.from} is given twice`, {
        hint: `see extmount ${command} --help`,
      });
    rules.push(rule);
  }
  return rules;
}

export interface SourceBind {
  source: string;
  destination: string;
  readOnly: boolean;
  propagation: string;
}

export interface BindTarget extends SourceBind {
  /** The host path on the target engine. */
  target: string;
  from: 'map' | 'remap' | 'original';
  /** Not there on the target yet (allowed with --copy-binds, which creates it). */
  missing?: boolean;
}

/**
 * --map rules first, then the config's remap rules, then the same path. The target host decides what
 * may be mounted: a path outside its allowlist (or inside `extraDeny`: its engines' data roots) is refused.
 */
export function planBindTargets(
  binds: readonly SourceBind[],
  maps: readonly RemapRule[],
  config: Pick<Config, 'remap' | 'hostPaths'>,
  extraDeny: readonly string[],
): BindTarget[] {
  return binds.map((bind): BindTarget => {
    const mapped = applyRemap(bind.source, maps);
    const remapped = mapped === undefined ? applyRemap(bind.source, config.remap) : undefined;
    const target = mapped ?? remapped ?? bind.source;
    const from = mapped !== undefined ? 'map' : remapped !== undefined ? 'remap' : 'original';
    const refusal = refusalOf(target, config.hostPaths, extraDeny);
    if (refusal) {
      throw new ExtmountError('refused', `bind ${bind.destination}: the target path ${target} ${refusal}`, {
        hint:
          from === 'original'
            ? `map it with --map ${bind.source}=/ALLOWED/PATH`
            : 'choose another --map target, or allow it in the config (hostPaths.allow)',
      });
    }
    return { ...bind, target, from };
  });
}

/** A --map rule that matches no bind is most likely a typo: say so rather than ignore it. */
export function unusedMaps(maps: readonly RemapRule[], binds: readonly SourceBind[]): RemapRule[] {
  return maps.filter((rule) => !binds.some((b) => isUnder(b.source, rule.from)));
}

// ── rootfs changes (GET /containers/{id}/changes) ──────────────────────────────────────────

export interface Change {
  Path: string;
  /** 0 modified, 1 added, 2 deleted. */
  Kind: number;
}

/** Paths the engine recreates on the target, or that are mounts: never copied from the writable layer. */
export const RUNTIME_PATHS = [
  '/proc',
  '/sys',
  '/dev',
  '/etc/hosts',
  '/etc/hostname',
  '/etc/resolv.conf',
  '/.dockerenv',
];

export interface RootfsFetch {
  /** Absolute path in the container. */
  path: string;
  /**
   * added: the path and everything below it is new, copy it whole. modified: copy the entry itself
   * only (a directory's metadata, not its content: changed children are fetched on their own).
   */
  mode: 'added' | 'modified';
}

export interface RootfsPlan {
  /** In path order: a parent before its children. */
  fetch: RootfsFetch[];
  /** Deleted paths, none below another (one whiteout hides everything under it). */
  deletions: string[];
  /** Changes not carried because they are mounts or runtime paths (counted for the report). */
  skipped: number;
}

export function planRootfsChanges(changes: readonly Change[], mountpoints: readonly string[]): RootfsPlan {
  const excluded = [...RUNTIME_PATHS, ...mountpoints.map(normalizePath)];
  const isExcluded = (path: string) => path === '/' || excluded.some((e) => isUnder(path, e));
  const kinds = new Map<string, number>();
  let skipped = 0;
  for (const change of changes) {
    if (!isAbsolutePath(change.Path))
      throw new ExtmountError(
        'refused',
        `the source engine reported a change at a bad path ${JSON.stringify(change.Path)}`,
      );
    const path = normalizePath(change.Path);
    if (isExcluded(path)) {
      skipped++;
      continue;
    }
    kinds.set(path, change.Kind);
  }
  const paths = [...kinds.keys()].sort(comparePaths);
  const deleted = paths.filter((p) => kinds.get(p) === 2);
  const deletions = deleted.filter((p) => !deleted.some((d) => d !== p && isUnder(p, d)));
  const fetch: RootfsFetch[] = [];
  for (const path of paths) {
    const kind = kinds.get(path)!;
    if (kind === 2) continue;
    // Below an added directory everything is new and comes with the directory's archive.
    if (ancestors(path).some((a) => kinds.get(a) === 1)) continue;
    // overlayfs reports a directory that was deleted and made again as deleted (opaque) with new children:
    // the whiteout hides the old content, and the new directory comes whole.
    const recreated = ancestors(path).find((a) => kinds.get(a) === 2);
    if (recreated !== undefined) {
      if (!fetch.some((f) => f.path === recreated)) fetch.push({ path: recreated, mode: 'added' });
      continue;
    }
    fetch.push({ path, mode: kind === 1 ? 'added' : 'modified' });
  }
  fetch.sort((a, b) => comparePaths(a.path, b.path));
  return { fetch, deletions, skipped };
}

function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) out.push(path.slice(0, at));
  return out;
}

/** Component-wise order, so "/a" < "/a/b" < "/a-b" (a parent always comes before its children). */
export function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  }
  return pa.length - pb.length;
}

export function dirname(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? '/' : path.slice(0, at);
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Path components below "/": "/srv/b" → ["srv", "b"]. */
export function components(path: string): string[] {
  return normalizePath(path).split('/').filter(Boolean);
}
