// Turns a classification into the plan: one stable, unique key per external mount, and what CRIU needs.
import type { Classification, ExternalKind } from './classify.js';

export type FileType = 'file' | 'directory';
import { ExtmountError } from '../errors.js';

export interface ExternalMount {
  mountId: number;
  /** Inside the tree, e.g. /bar. */
  mountpoint: string;
  key: string;
  /** Host path at dump time; null when no host mount contains it. */
  hostPath: string | null;
  kind: ExternalKind;
  fileType: FileType | undefined;
  volumeName?: string;
  readOnly: boolean;
  propagation: string;
  reason: string;
}

export interface MountPlan {
  /** Host path of the tree's root when it is a bind of a host folder (plain CRIU trees); else null. */
  rootHostPath: string | null;
  mounts: ExternalMount[];
  enableExternalMasters: boolean;
  enableExternalSharing: boolean;
}

export interface PlanOptions {
  /** Mountpoint → key, from --key MOUNTPOINT=KEY. */
  keys?: ReadonlyMap<string, string>;
  /** Host path of the root mount's content, found by the adapter (null for overlay roots). */
  rootHostPath?: string | null;
  /** Host path → file or directory, as the adapter found it (the core does no I/O). */
  fileTypes?: ReadonlyMap<string, FileType>;
}

const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+@-]*$/;

/** Keys end up in CRIU's `mnt[KEY]:…` syntax and in file names: refuse anything that could break either. */
export function validateKey(key: string): string | undefined {
  if (key.length === 0) return 'is empty';
  if (key.length > 128) return 'is longer than 128 characters';
  if (key.includes('..')) return 'contains ".."';
  if (!KEY_PATTERN.test(key))
    return 'may only hold letters, digits and . _ + @ - (no ":", "[", "]", "/" or whitespace)';
  return undefined;
}

export function planExternalMounts(classification: Classification, options: PlanOptions = {}): MountPlan {
  const externals = classification.mounts.filter((c) => c.external !== undefined);
  const overrides = options.keys ?? new Map<string, string>();
  for (const [mountpoint, key] of overrides) {
    const problem = validateKey(key);
    if (problem) throw new ExtmountError('usage', `--key ${mountpoint}=${key}: the key ${problem}`);
    if (!externals.some((c) => c.mountpoint === mountpoint)) {
      const known = externals.map((c) => c.mountpoint).join(', ') || 'none';
      throw new ExtmountError('usage', `--key ${mountpoint}=${key}: no external mount at ${mountpoint}`, {
        hint: `external mounts: ${known}`,
      });
    }
  }
  const used = new Set<string>();
  for (const [mountpoint, key] of overrides) {
    if (used.has(key)) throw new ExtmountError('usage', `--key ${mountpoint}=${key}: key ${key} is given twice`);
    used.add(key);
  }
  // Sorted by mountpoint so that suffixes (-2, -3) do not depend on mountinfo order.
  const sorted = [...externals].sort(
    (x, y) => compare(x.mountpoint, y.mountpoint) || x.mount.mountId - y.mount.mountId,
  );
  const keyById = new Map<number, string>();
  const overridden = new Set<string>();
  for (const c of sorted) {
    const override = overrides.get(c.mountpoint);
    if (override !== undefined && !overridden.has(c.mountpoint)) {
      overridden.add(c.mountpoint);
      keyById.set(c.mount.mountId, override);
      continue;
    }
    const base = deriveKey(c.external!.volumeName ?? c.mountpoint);
    let key = base;
    for (let n = 2; used.has(key); n++) key = `${base}-${n}`;
    used.add(key);
    keyById.set(c.mount.mountId, key);
  }
  const mounts = externals.map((c): ExternalMount => {
    const e = c.external!;
    const fileType = e.hostPath === null ? undefined : options.fileTypes?.get(e.hostPath);
    const mount: ExternalMount = {
      mountId: c.mount.mountId,
      mountpoint: c.mountpoint,
      key: keyById.get(c.mount.mountId)!,
      hostPath: e.hostPath,
      kind: e.kind === 'bind' && fileType === 'file' ? 'file' : e.kind,
      fileType,
      readOnly: e.readOnly,
      propagation: e.propagation,
      reason: c.reason,
    };
    if (e.volumeName !== undefined) mount.volumeName = e.volumeName;
    return mount;
  });
  return {
    rootHostPath: options.rootHostPath ?? null,
    mounts,
    enableExternalMasters: externals.some((c) => c.external!.needsExternalMasters),
    enableExternalSharing: externals.some((c) => c.external!.needsExternalSharing),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// A path of plain names ("/m/e0", "/etc/resolv.conf"): what the general rules below make of it is its
// names joined with "-", so the four passes over it are skipped (5,000 external mounts → 20,000 regex runs).
const PLAIN_PATH = /^\/[A-Za-z0-9][A-Za-z0-9._+@-]*(?:\/[A-Za-z0-9._+@-]+)*$/;

/** /etc/resolv.conf → etc-resolv.conf; a volume name stays as it is where it can. */
export function deriveKey(source: string): string {
  if (source.length <= 101 && PLAIN_PATH.test(source) && !source.includes('..') && !source.endsWith('-')) {
    return source.slice(1).replaceAll('/', '-');
  }
  const key = source
    .replace(/[^A-Za-z0-9._+@-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 100);
  return key === '' ? 'root' : key;
}
