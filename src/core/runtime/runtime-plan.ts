// What the runc wrapper adds to runc: which external mounts are ours (runc maps its config binds itself),
// how each of ours comes back on restore, and what CRIU cannot bring back as it was.
//
// In a manifest written by the wrapper, kind "propagated" marks the mounts extmount maps (CRIU key =
// manifest key); every other kind is a config.json bind that runc maps (CRIU key = its mountpoint, see
// runc addCriuDumpMount/addCriuRestoreMount), restored from the bundle's source unless --map says otherwise.
import type { Config } from '../config.js';
import { ExtmountError } from '../errors.js';
import { findSharingSource } from '../mounts/host-mounts.js';
import type { Manifest, ManifestMount } from '../checkpoint/manifest.js';
import type { MountInfo } from '../mounts/mountinfo.js';
import { selectMounts, type MountinfoIndex } from '../mounts/mountinfo-index.js';
import { runcMappedMountpoints, type OciSpecView } from './oci-bundle.js';
import type { ExternalMount, MountPlan } from '../mounts/plan.js';
import { isUnder, resolveRestoreTargets, type RestoreTarget } from '../checkpoint/restore-targets.js';

export interface RuntimeDumpPlan {
  /** External mounts runc does not map: extmount writes them into the CRIU config. */
  ours: ExternalMount[];
  /** What goes into the manifest: ours, and the config binds runc maps (for --map and the record). */
  manifestPlan: MountPlan;
  /** What goes into the CRIU config file for the dump. */
  criuPlan: MountPlan;
}

export function splitDumpPlan(plan: MountPlan, view: OciSpecView): RuntimeDumpPlan {
  const bindDestinations = new Set(view.binds.map((b) => b.destination));
  const runcMapped = runcMappedMountpoints(view);
  // Not in config.json means it appeared after start (or the runtime added it): the classifier says propagated.
  const ours = plan.mounts
    .filter((m) => !runcMapped.has(m.mountpoint))
    .map((m) => ({ ...m, kind: 'propagated' as const }));
  const runcBinds = plan.mounts.filter((m) => bindDestinations.has(m.mountpoint));
  const flags = {
    enableExternalMasters: plan.enableExternalMasters,
    enableExternalSharing: plan.enableExternalSharing,
  };
  return {
    ours,
    manifestPlan: { rootHostPath: null, mounts: [...runcBinds, ...ours], ...flags },
    criuPlan: { rootHostPath: null, mounts: ours, ...flags },
  };
}

/** Set on a manifest mount when CRIU will not bring its propagation back as it was at dump time. */
export function dumpPropagationNote(mount: Pick<ExternalMount, 'propagation' | 'mountpoint'>): string | undefined {
  if (mount.propagation === 'shared' || mount.propagation === 'shared+slave') {
    return (
      `${mount.mountpoint} is shared with mounts outside the container: CRIU restores it as a new peer group ` +
      '(mount-v2 copies only a master from outside), so mounts made later on either side no longer propagate to the other' +
      (mount.propagation === 'shared+slave' ? '; it stays a slave of its host master' : '')
    );
  }
  return undefined;
}

/**
 * The note for one of our mounts given the host as it is now: besides what dumpPropagationNote says,
 * a slave whose content no host mount with a peer group shows will come back private.
 */
export function dumpPropagationNoteOnHost(
  mount: Pick<ExternalMount, 'propagation' | 'mountpoint' | 'hostPath' | 'key'>,
  hostMounts: readonly MountInfo[],
): string | undefined {
  const note = dumpPropagationNote(mount);
  if (note || mount.hostPath === null || (mount.propagation !== 'slave' && mount.propagation !== 'shared+slave'))
    return note;
  if (findSharingSource(mount.hostPath, hostMounts).kind !== 'none') return undefined;
  return (
    `${mount.mountpoint} (key ${mount.key}) is a slave, but no host mount that shows ${mount.hostPath} has a peer group ` +
    'CRIU could copy its master from: it will be restored private unless --map points it into a shared mount'
  );
}

/** Warnings to show before checkpointing: what the restore will need or cannot do. */
export function dumpWarnings(plan: RuntimeDumpPlan, hostMounts: readonly MountInfo[]): string[] {
  const warnings: string[] = [];
  const ours = new Set(plan.ours.map((m) => m.key));
  for (const m of plan.manifestPlan.mounts) {
    if (m.hostPath === null)
      warnings.push(
        `${m.mountpoint} (key ${m.key}): no host mount shows its content; restore needs --map ${m.key}=PATH`,
      );
    const note = ours.has(m.key) ? dumpPropagationNoteOnHost(m, hostMounts) : dumpPropagationNote(m);
    if (note) warnings.push(note);
  }
  return warnings;
}

/** How one of our mounts is handed to CRIU on restore: a bind of `bindFrom` prepared by the wrapper. */
export interface CriuSource {
  target: RestoreTarget;
  /** The host path the wrapper binds (non-recursively) into its private holder for CRIU. */
  bindFrom: string;
  /** Propagation the holder copy gets before CRIU copies its sharing (MOVE_MOUNT_SET_GROUP). */
  make: 'slave' | 'shared' | 'private';
  /** Set when the restored propagation will differ from the recorded one. */
  note?: string;
}

export interface RuntimeRestorePlan {
  /** Our mounts, in manifest order. */
  ours: CriuSource[];
  /** config.json binds whose source --map or a remap rule changes: destination → new source. */
  runcSources: Map<string, string>;
  /** Paths chosen by the user (--map, remap) or by extmount: checked before runc runs. */
  toCheck: RestoreTarget[];
}

export function planRuntimeRestore(
  manifest: Manifest,
  view: OciSpecView,
  maps: ReadonlyMap<string, string>,
  remap: Config['remap'],
  host: MountinfoIndex | readonly MountInfo[],
): RuntimeRestorePlan {
  const sources = new Map(view.binds.map((b) => [b.destination, b.source]));
  // Every undeclared bind at once, before CRIU runs: a CRI restore takes its mounts from the new Pod only
  // (containerd CRImportCheckpoint), and CRIU would stop at the first with "No mapping for … mountpoint".
  const undeclared = manifest.mounts
    .filter((m) => m.kind !== 'propagated' && !sources.has(m.mountpoint))
    .map((m) => m.mountpoint);
  if (undeclared.length > 0) {
    throw new ExtmountError(
      'bad-input',
      `the checkpoint has bind mounts the new container does not declare: ${undeclared.join(', ')}`,
      {
        hint: 'declare them in the Pod (volumeMounts) or container (-v/--mount) and restore again',
      },
    );
  }
  const current: Manifest = {
    ...manifest,
    mounts: manifest.mounts.map((m) => {
      if (m.kind === 'propagated') return m;
      const source = sources.get(m.mountpoint)!;
      // runc restores config binds from the bundle: that source, not the one recorded, is the default.
      return { ...m, hostPath: source };
    }),
  };
  const resolved = resolveRestoreTargets(current, maps, remap);
  // What the answers below depend on: a declared path lies under a bind's source; the others are given.
  const bindSources = view.binds.map((b) => b.source);
  const hostMounts =
    'text' in host
      ? selectMounts(host, { devices: [], paths: resolved.map((t) => t.path), subtrees: bindSources })
      : host;
  const targets = resolved.map((t) =>
    t.mount.kind === 'propagated' && t.from === 'original' ? declaredTarget(t, view, hostMounts) : t,
  );
  const ours: CriuSource[] = [];
  const runcSources = new Map<string, string>();
  const toCheck: RestoreTarget[] = [];
  for (const target of targets) {
    if (target.mount.kind !== 'propagated') {
      if (target.from !== 'original') {
        runcSources.set(target.mount.mountpoint, target.path);
        toCheck.push(target);
      }
      continue;
    }
    toCheck.push(target);
    ours.push(criuSourceFor(target, hostMounts));
  }
  return { ours, runcSources, toCheck };
}

/**
 * A propagated mount comes back only from what the restoring host declares: the mount its own table
 * shows at the same place under the container's bind (the bind's source from this bundle, the
 * mount's path below that bind's destination), never from the host path a manifest recorded
 * (CRI-O's rule since cri-o#8793, CVE-2024-8676). --map and the config's remap rules are
 * declarations too, and are taken as given.
 */
export function declaredTarget(
  target: RestoreTarget,
  view: Pick<OciSpecView, 'binds'>,
  hostMounts: readonly MountInfo[],
): RestoreTarget {
  const { mount } = target;
  const bind = view.binds
    .filter((b) => b.destination !== mount.mountpoint && isUnder(mount.mountpoint, b.destination))
    .sort((x, y) => y.destination.length - x.destination.length)[0];
  const hint = `restore it with --map ${mount.key}=PATH (extmount restore CONTAINER), or a remap rule in the config`;
  if (!bind) {
    throw new ExtmountError(
      'refused',
      `${mount.mountpoint} (key ${mount.key}) is under none of the container's binds: its recorded host path ${mount.hostPath ?? '(none)'} alone is not restored`,
      { hint },
    );
  }
  const below = bind.destination === '/' ? mount.mountpoint : mount.mountpoint.slice(bind.destination.length);
  const path = `${bind.source.replace(/\/+$/, '')}${below}`;
  if (!hostMounts.some((m) => m.mountpoint === path)) {
    throw new ExtmountError(
      'refused',
      `${mount.mountpoint} (key ${mount.key}): this host shows no mount at ${path}, under the bind ${bind.destination} from ${bind.source}, so there is nothing declared to restore it from`,
      { hint },
    );
  }
  return { mount, path, from: 'bind' };
}

/** Chooses what to bind for CRIU so that a slave comes back a slave of the same kind of host mount. */
export function criuSourceFor(target: RestoreTarget, hostMounts: readonly MountInfo[]): CriuSource {
  const { mount, path } = target;
  const wasSlave = mount.propagation === 'slave' || mount.propagation === 'shared+slave';
  const sharedNote = dumpPropagationNote(mount);
  if (!wasSlave) return { target, bindFrom: path, make: 'private', ...(sharedNote ? { note: sharedNote } : {}) };
  const found = findSharingSource(path, hostMounts);
  if (found.kind !== 'none') {
    // A slave copy: CRIU then copies its master and the holder never becomes a peer of a host mount.
    return { target, bindFrom: found.path, make: 'slave', ...(sharedNote ? { note: sharedNote } : {}) };
  }
  return {
    target,
    bindFrom: path,
    // CRIU refuses to copy sharing from a private mount; a short-lived peer group of our own lets the
    // restore go through, and dissolves when the holder is detached, leaving the mount private.
    make: 'shared',
    note:
      `${mount.mountpoint} (key ${mount.key}) was a slave of a host mount; no host mount that shows ${path} has a peer group ` +
      'to follow, so it is restored private: host mounts made later below it will not appear in the container',
  };
}

/** Our mounts of a manifest as a plan, for the one renderer of CRIU options. */
export function planFromManifest(manifest: Manifest, mounts: readonly ManifestMount[]): MountPlan {
  return {
    rootHostPath: null,
    enableExternalMasters: manifest.enableExternalMasters,
    enableExternalSharing: manifest.enableExternalSharing,
    mounts: mounts.map((m) => ({
      mountId: 0,
      mountpoint: m.mountpoint,
      key: m.key,
      hostPath: m.hostPath,
      kind: m.kind,
      fileType: m.type === 'unknown' ? undefined : m.type,
      ...(m.volume !== undefined ? { volumeName: m.volume } : {}),
      readOnly: m.readOnly,
      propagation: m.propagation,
      reason: '',
    })),
  };
}
