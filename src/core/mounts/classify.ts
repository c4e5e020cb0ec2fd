// Decides, for every mount of a task, whether CRIU can dump it by itself, and why not if it cannot.
import type { ContainerInfo, ContainerMount } from './container.js';
import { ExtmountError } from '../errors.js';
import { isPodmanRuntimeBind } from '../runtime/oci-bundle.js';
import { deviceKey, deviceOf, isReadOnly, type MountInfo } from './mountinfo.js';

export type MountClass = 'root' | 'internal' | 'external' | 'runtime' | 'special';
export type ExternalKind = 'bind' | 'volume' | 'propagated' | 'file' | 'runtime';

export interface ClassifiedMount {
  mount: MountInfo;
  /** Mountpoint relative to the tree's root (what CRIU calls it). */
  mountpoint: string;
  class: MountClass;
  reason: string;
  /** Set for class external and runtime: what CRIU needs to be told. */
  external?: ExternalDetails;
}

export interface ExternalDetails {
  kind: ExternalKind;
  /** Where the mount's content lives in the reader's (host's) mount namespace; null if not found. */
  hostPath: string | null;
  volumeName?: string;
  readOnly: boolean;
  propagation: string;
  /** Its master peer group has no member inside the tree (CRIU: "has unreachable sharing"). */
  needsExternalMasters: boolean;
  /** Its shared peer group has members outside the tree. */
  needsExternalSharing: boolean;
}

export interface Classification {
  root: ClassifiedMount;
  /** Where the root mount's content lives on the host (null when not found, e.g. no host view). */
  rootHostPath: string | null;
  /** The root and every mount below it, in mountinfo order. */
  mounts: ClassifiedMount[];
}

export interface ClassifyContext {
  /** Mount ID of the tree's root; default: the first mount at "/" whose parent is not listed. */
  rootMountId?: number;
  /** The reader's own mountinfo, to find host paths and peers outside the tree. */
  hostMounts?: MountInfo[];
  container?: ContainerInfo;
}

// Filesystems CRIU mounts anew on restore (tmpfs: it also dumps the content); cgroup mounts go
// through CRIU's cgroup yard whatever their root.
const FRESH_FS = new Set([
  'proc',
  'sysfs',
  'devpts',
  'mqueue',
  'tmpfs',
  'devtmpfs',
  'cgroup',
  'cgroup2',
  'binfmt_misc',
  'securityfs',
  'debugfs',
  'tracefs',
  'pstore',
  'bpf',
  'fusectl',
  'configfs',
  'hugetlbfs',
  'nsfs',
]);
const CONTENT_FS = new Set(['tmpfs', 'devtmpfs']);
const RUNTIME_FILE_MOUNTPOINTS = new Set([
  '/etc/hosts',
  '/etc/resolv.conf',
  '/etc/hostname',
  '/run/.containerenv',
  '/.dockerenv',
]);

export function classifyMounts(mounts: MountInfo[], context: ClassifyContext = {}): Classification {
  const rootMount = findRootMount(mounts, context.rootMountId);
  const tree = subtree(mounts, rootMount);
  const relative = relativeMountpoints(rootMount);
  const providers = indexByDeviceAndRoot(tree);
  const sharedInTree = new Set<number>();
  for (const m of tree) if (m.shared !== undefined) sharedInTree.add(m.shared);
  // Host mounts outside the tree (a host-view mountinfo holds the tree too), and their peer groups.
  let hostIndex: DeviceIndex | undefined;
  const peersOutside = new Set<number>();
  if (context.hostMounts) {
    const treeIds = new Set(tree.map((m) => m.mountId));
    const outside = context.hostMounts.filter((m) => !treeIds.has(m.mountId));
    hostIndex = indexByDeviceAndRoot(outside);
    for (const m of outside) {
      if (m.shared !== undefined) peersOutside.add(m.shared);
      if (m.master !== undefined) peersOutside.add(m.master);
    }
  }
  const configByDestination = new Map((context.container?.mounts ?? []).map((cm) => [cm.destination, cm]));
  const runtimeFiles = new Set(context.container?.runtimeFiles ?? []);
  // Only a container's config makes mounts "propagated", and only those look up their ancestors.
  const byId = context.container ? new Map(tree.map((m) => [m.mountId, m])) : new Map<number, MountInfo>();

  const classified = tree.map((mount): ClassifiedMount => {
    const mountpoint = relative(mount.mountpoint);
    if (mount === rootMount) {
      return {
        mount,
        mountpoint,
        class: 'root',
        reason: `root of the tree (${mount.fstype} ${mount.root} at ${mount.mountpoint})`,
      };
    }
    const provider = findProvider(providers, mount);
    if (provider) {
      const via =
        provider === rootMount ? 'the root mount' : `${relative(provider.mountpoint)} (mount ${provider.mountId})`;
      return {
        mount,
        mountpoint,
        class: 'internal',
        reason: `bind of ${mount.root} inside ${via}: reachable from the tree`,
      };
    }
    const hostMount = hostIndex ? findHostMount(hostIndex, mount) : undefined;
    if (
      FRESH_FS.has(mount.fstype) &&
      (mount.root === '/' || mount.fstype.startsWith('cgroup')) &&
      !(CONTENT_FS.has(mount.fstype) && hostMount)
    ) {
      return { mount, mountpoint, class: 'special', reason: specialReason(mount.fstype) };
    }
    const hostPath = hostPathOf(mount, hostIndex);
    const config = configByDestination.get(mountpoint);
    const details: ExternalDetails = {
      kind: 'bind',
      hostPath,
      readOnly: isReadOnly(mount),
      propagation: propagationOf(mount),
      needsExternalMasters: mount.master !== undefined && !sharedInTree.has(mount.master),
      needsExternalSharing: mount.shared !== undefined && (hostIndex ? peersOutside.has(mount.shared) : true),
    };
    const where = hostPath ?? `${mount.root} on device ${deviceOf(mount)} (no host mount of that device contains it)`;
    const sharing = sharingNote(mount, details);

    if (isRuntimeFile(mountpoint, mount, hostPath, runtimeFiles, context.container)) {
      details.kind = 'runtime';
      return {
        mount,
        mountpoint,
        class: 'runtime',
        reason: `runtime-managed file ${mountpoint}, bound from ${where}${sharing}`,
        external: details,
      };
    }
    if (config?.volumeName) {
      details.kind = 'volume';
      details.volumeName = config.volumeName;
      return {
        mount,
        mountpoint,
        class: 'external',
        reason: `volume ${config.volumeName} from ${where}${sharing}`,
        external: details,
      };
    }
    if (context.container && !config) {
      details.kind = 'propagated';
      const from = configAncestor(mount, byId, configByDestination, relative);
      const via = from
        ? `, propagated from the host through ${from.destination}${from.propagation ? ` (${from.propagation})` : ''}`
        : '';
      return {
        mount,
        mountpoint,
        class: 'external',
        reason: `not in the container's config: appeared after start${via}; content at ${where}${sharing}`,
        external: details,
      };
    }
    if (mount.fstype === 'devtmpfs' && mount.root !== '/') details.kind = 'file';
    return {
      mount,
      mountpoint,
      class: 'external',
      reason: `bind of host path ${where}: its root is not reachable from the tree's root${sharing}`,
      external: details,
    };
  });
  return {
    root: classified[tree.indexOf(rootMount)]!,
    rootHostPath: hostPathOf(rootMount, hostIndex),
    mounts: classified,
  };
}

/**
 * Where a mount's root lives in the host's namespace: under the host mount of the same device whose
 * root contains it (as CRIU's own auto-detection does). Without a host view, the device is assumed
 * mounted at / on the host, so the mount's root is the path.
 */
function hostPathOf(mount: MountInfo, hostIndex: DeviceIndex | undefined): string | null {
  if (!hostIndex) return mount.root;
  const hostMount = findHostMount(hostIndex, mount);
  if (!hostMount) return null;
  return joinUnder(hostMount.mountpoint, mount.root.slice(rootLength(hostMount.root)));
}

function findRootMount(mounts: MountInfo[], rootMountId: number | undefined): MountInfo {
  if (rootMountId !== undefined) {
    const chosen = mounts.find((m) => m.mountId === rootMountId);
    if (!chosen)
      throw new ExtmountError('usage', `--root-mount ${rootMountId}: no mount with that ID`, {
        hint: 'pick a mount ID from the first column of the mountinfo',
      });
    return chosen;
  }
  const ids = new Set(mounts.map((m) => m.mountId));
  return (
    mounts.find((m) => m.mountpoint === '/' && !ids.has(m.parentId)) ??
    mounts.find((m) => m.mountpoint === '/') ??
    mounts[0]!
  );
}

/** The root and its descendants, in input order. */
function subtree(mounts: MountInfo[], root: MountInfo): MountInfo[] {
  const children = new Map<number, MountInfo[]>();
  for (const m of mounts) {
    if (m === root) continue;
    const list = children.get(m.parentId);
    if (list) list.push(m);
    else children.set(m.parentId, [m]);
  }
  const inTree = new Set<MountInfo>([root]);
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!.mountId) ?? []) {
      if (!inTree.has(child)) {
        inTree.add(child);
        queue.push(child);
      }
    }
  }
  return mounts.filter((m) => inTree.has(m));
}

/** Mountpoints relative to the root mount, for a mountinfo read from outside the tree. */
function relativeMountpoints(root: MountInfo): (mountpoint: string) => string {
  if (root.mountpoint === '/') return (mp) => mp;
  const prefix = root.mountpoint;
  return (mp) => (mp === prefix ? '/' : mp.startsWith(`${prefix}/`) ? mp.slice(prefix.length) : mp);
}

interface DeviceRoots {
  /** One mount, or the mounts in input order where several share a root (10,000 arrays fewer). */
  byRoot: Map<string, MountInfo | MountInfo[]>;
  /** No root of this device is shorter: walking up a path can stop there. */
  shortestRoot: number;
}
type DeviceIndex = Map<number, DeviceRoots>;

function indexByDeviceAndRoot(mounts: MountInfo[]): DeviceIndex {
  const index: DeviceIndex = new Map();
  for (const m of mounts) {
    const dev = deviceKey(m);
    let roots = index.get(dev);
    if (!roots) index.set(dev, (roots = { byRoot: new Map(), shortestRoot: m.root.length }));
    const held = roots.byRoot.get(m.root);
    if (held === undefined) roots.byRoot.set(m.root, m);
    else if (Array.isArray(held)) held.push(m);
    else roots.byRoot.set(m.root, [held, m]);
    if (m.root.length < roots.shortestRoot) roots.shortestRoot = m.root.length;
  }
  return index;
}

/**
 * A mount of the same device whose root contains this mount's root: what CRIU binds it from.
 * With equal roots the earlier mount provides (so two copies do not provide for each other).
 */
function findProvider(index: DeviceIndex, mount: MountInfo): MountInfo | undefined {
  const roots = index.get(deviceKey(mount));
  if (!roots) return undefined;
  const same = roots.byRoot.get(mount.root);
  if (same !== undefined && first(same) !== mount) return first(same);
  for (
    let path = parentPath(mount.root);
    path !== undefined && path.length >= roots.shortestRoot;
    path = parentPath(path)
  ) {
    const candidates = roots.byRoot.get(path);
    if (candidates !== undefined) return first(candidates);
  }
  return undefined;
}

/**
 * The host mount that shows this mount's content closest to its filesystem's root (shortest root,
 * then shortest mountpoint): the canonical path, not one that exists only through another bind.
 */
function findHostMount(index: DeviceIndex, mount: MountInfo): MountInfo | undefined {
  const roots = index.get(deviceKey(mount));
  if (!roots) return undefined;
  let found: MountInfo | MountInfo[] | undefined;
  for (
    let path: string | undefined = mount.root;
    path !== undefined && path.length >= roots.shortestRoot;
    path = parentPath(path)
  ) {
    found = roots.byRoot.get(path) ?? found;
  }
  return found === undefined ? undefined : preferShortest(found);
}

function first(held: MountInfo | MountInfo[]): MountInfo {
  return Array.isArray(held) ? held[0]! : held;
}

function preferShortest(held: MountInfo | MountInfo[]): MountInfo {
  if (!Array.isArray(held)) return held;
  return held.reduce((best, m) => (m.mountpoint.length < best.mountpoint.length ? m : best));
}

function parentPath(path: string): string | undefined {
  if (path === '/') return undefined;
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

function rootLength(root: string): number {
  return root === '/' ? 0 : root.length;
}

function joinUnder(base: string, rest: string): string {
  if (rest === '' || rest === '/') return base;
  return base === '/' ? rest : `${base}${rest}`;
}

export function propagationOf(mount: MountInfo): string {
  if (mount.unbindable) return 'unbindable';
  if (mount.shared !== undefined && mount.master !== undefined) return 'shared+slave';
  if (mount.shared !== undefined) return 'shared';
  if (mount.master !== undefined) return 'slave';
  return 'private';
}

function sharingNote(mount: MountInfo, details: ExternalDetails): string {
  const notes: string[] = [];
  if (details.needsExternalMasters)
    notes.push(`master:${mount.master} is outside the tree (needs --enable-external-masters)`);
  if (details.needsExternalSharing)
    notes.push(`shared:${mount.shared} has peers outside the tree (needs --enable-external-sharing)`);
  return notes.length ? `; ${notes.join('; ')}` : '';
}

function specialReason(fstype: string): string {
  if (fstype === 'tmpfs') return 'tmpfs: CRIU mounts a new one and dumps its content';
  if (fstype.startsWith('cgroup')) return `${fstype}: CRIU restores cgroup mounts itself`;
  return `${fstype}: CRIU mounts a fresh ${fstype} on restore`;
}

function isRuntimeFile(
  mountpoint: string,
  mount: MountInfo,
  hostPath: string | null,
  runtimeFiles: ReadonlySet<string>,
  container: ContainerInfo | undefined,
): boolean {
  if (hostPath && runtimeFiles.has(hostPath)) return true;
  // Podman's Docker-compatible API names only hosts, hostname and resolv.conf; .containerenv and
  // /dev/shm come from the same per-container userdata folders.
  if (container && hostPath && isPodmanRuntimeBind(mountpoint, hostPath, container.id)) return true;
  if (container && container.runtimeFiles.length > 0) return false;
  // Without the engine's word: the runtime binds a file of the same name from its own folder.
  const name = mountpoint.slice(mountpoint.lastIndexOf('/'));
  return RUNTIME_FILE_MOUNTPOINTS.has(mountpoint) && mount.root.endsWith(name);
}

/** The nearest ancestor mount that the container's config declares (how a submount got here). */
function configAncestor(
  mount: MountInfo,
  byId: ReadonlyMap<number, MountInfo>,
  configByDestination: ReadonlyMap<string, ContainerMount>,
  relative: (mp: string) => string,
): ContainerMount | undefined {
  for (let parent = byId.get(mount.parentId); parent; parent = byId.get(parent.parentId)) {
    const config = configByDestination.get(relative(parent.mountpoint));
    if (config) return config;
  }
  return undefined;
}
