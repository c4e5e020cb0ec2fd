// Decides where each external mount comes from on restore, and whether that host path is allowed.
import type { Config, RemapRule } from '../config.js';
import { normalizePath } from '../config.js';
import { ExtmountError } from '../errors.js';
import { fsPathOf, mountOfPath } from '../mounts/host-mounts.js';
import type { Manifest, ManifestMount } from './manifest.js';
import { deviceKey, deviceOf, type MountInfo } from '../mounts/mountinfo.js';

export interface RestoreTarget {
  mount: ManifestMount;
  path: string;
  /**
   * Which rule chose the path: --map, a config remap rule, the path recorded at dump time, or (a
   * propagated mount under the runtime) the host mount under the container's own declared bind.
   */
  from: 'map' | 'remap' | 'original' | 'bind';
}

/** --map KEY=PATH first, then the config's remap rules (longest prefix wins), then the recorded path. */
export function resolveRestoreTargets(
  manifest: Manifest,
  maps: ReadonlyMap<string, string>,
  remap: readonly RemapRule[],
): RestoreTarget[] {
  const keys = new Set(manifest.mounts.map((m) => m.key));
  for (const key of maps.keys()) {
    if (!keys.has(key)) {
      throw new ExtmountError('usage', `--map ${key}=…: the images have no external mount with key ${key}`, {
        hint: `keys in the manifest: ${[...keys].join(', ') || 'none'}`,
      });
    }
  }
  return manifest.mounts.map((mount): RestoreTarget => {
    const mapped = maps.get(mount.key);
    if (mapped !== undefined) return { mount, path: normalizePath(mapped), from: 'map' };
    if (mount.hostPath === null) {
      throw new ExtmountError(
        'usage',
        `external mount ${mount.mountpoint} (key ${mount.key}) had no host path at dump time`,
        {
          hint: `give one with --map ${mount.key}=PATH`,
        },
      );
    }
    const remapped = applyRemap(mount.hostPath, remap);
    return remapped === undefined
      ? { mount, path: mount.hostPath, from: 'original' }
      : { mount, path: remapped, from: 'remap' };
  });
}

/** `/srv/a=/srv/b` maps /srv/a and everything below it; the longest matching prefix wins. */
export function applyRemap(path: string, rules: readonly RemapRule[]): string | undefined {
  let best: RemapRule | undefined;
  for (const rule of rules) {
    if (isUnder(path, rule.from) && (!best || rule.from.length > best.from.length)) best = rule;
  }
  if (!best) return undefined;
  return best.from === '/'
    ? normalizePath(`${best.to}/${path}`)
    : normalizePath(best.to + path.slice(best.from.length));
}

export function isUnder(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Denied on top of the config's deny list, whatever it says (an allow entry can still open them): extmount's
 * own state dir (its holders, CRIU configs and maps files), and the data root of every engine known at
 * restore — a container's layers and checkpoints are no place to bind from (issue 11: a recorded hostPath
 * in a non-default Docker data root was restored).
 */
export function restoreDenials(config: Pick<Config, 'stateDir'>, engineDataRoots: readonly string[]): string[] {
  const paths = [config.stateDir, ...engineDataRoots].filter((p) => p.startsWith('/')).map(normalizePath);
  return [...new Set(paths)].filter((p) => p !== '/');
}

/**
 * Why a host path may not be a restore target, or undefined if it may. A deny entry refuses the path
 * and everything below it ("/" refuses only itself); an allow entry at least as specific overrides it.
 */
export function refusalOf(
  path: string,
  hostPaths: Config['hostPaths'],
  extraDeny: readonly string[] = [],
): string | undefined {
  if (!path.startsWith('/') || path.includes('\0') || path.split('/').includes('..') || /[\n\r]/.test(path)) {
    return 'is not a clean absolute path';
  }
  const deny = [...hostPaths.deny, ...extraDeny].filter((d) => (d === '/' ? path === '/' : isUnder(path, d)));
  const allow = hostPaths.allow.filter((a) => (a === '/' ? true : isUnder(path, a)));
  const strongestDeny = Math.max(-1, ...deny.map((d) => d.length));
  const strongestAllow = Math.max(-1, ...allow.map((a) => a.length));
  if (hostPaths.allow.length > 0 && allow.length === 0)
    return `is outside the allowed host paths (${hostPaths.allow.join(', ')})`;
  if (deny.length > 0 && strongestAllow < strongestDeny)
    return `is under the denied host path ${deny.find((d) => d.length === strongestDeny)}`;
  return undefined;
}

/**
 * Why the mount at `entry` (a bind of `path` just made) does not show what `path` names in the same
 * mount table, or undefined when it does: same device, and the root the kernel reports is the path's
 * place in that filesystem. A path checked and then swapped for a symlink before the bind (issue 11: the
 * check and the mount looked at the path at different times) shows up here as another root.
 */
export function boundEntryMismatch(entry: string, path: string, mounts: readonly MountInfo[]): string | undefined {
  const bound = mountOfPath(entry, mounts);
  if (!bound || bound.mountpoint !== entry) return `nothing is mounted at ${entry}`;
  const source = mountOfPath(path, mounts);
  if (!source) return `no mount holds ${path}`;
  const expected = fsPathOf(path, source);
  if (deviceKey(bound) !== deviceKey(source) || bound.root !== expected) {
    return `the bind shows ${bound.root} of device ${deviceOf(bound)}, where ${path} is ${expected} of device ${deviceOf(source)}`;
  }
  return undefined;
}
