// Questions about the host's mount table that restore has to answer before runc and CRIU touch it.
import { isUnder } from '../checkpoint/restore-targets.js';
import { deviceOf, type MountInfo } from './mountinfo.js';

/** The mount a path resolves to, walking down from / as the kernel does (hidden mounts are skipped). */
export function mountOfPath(path: string, mounts: readonly MountInfo[]): MountInfo | undefined {
  return resolvePath(mountTree(mounts), path);
}

/**
 * The table indexed for walks down from /: built once per question, so that asking about every mount of
 * a table (findSharingSource's candidates) stays linear on a host with thousands of mounts (issue 26).
 */
interface MountTree {
  root: MountInfo | undefined;
  /** Every mount under its parent's ID and its own mount point, in table order. */
  byParentAndPath: Map<string, MountInfo[]>;
  byParent: Map<number, MountInfo[]>;
}

function mountTree(mounts: readonly MountInfo[]): MountTree {
  const byParent = childrenIndex(mounts);
  const byParentAndPath = new Map<string, MountInfo[]>();
  for (const m of mounts) {
    const key = childKey(m.parentId, m.mountpoint);
    const list = byParentAndPath.get(key);
    if (list) list.push(m);
    else byParentAndPath.set(key, [m]);
  }
  const ids = new Set(mounts.map((m) => m.mountId));
  const base =
    mounts.find((m) => m.mountpoint === '/' && !ids.has(m.parentId)) ?? mounts.find((m) => m.mountpoint === '/');
  const tree: MountTree = { root: undefined, byParentAndPath, byParent };
  tree.root = topmost(base, tree);
  return tree;
}

function childKey(parentId: number, mountpoint: string): string {
  return `${parentId} ${mountpoint}`;
}

function resolvePath(tree: MountTree, path: string): MountInfo | undefined {
  let current = tree.root;
  if (!current) return undefined;
  let prefix = '';
  for (const part of path.split('/')) {
    if (part === '') continue;
    prefix = `${prefix}/${part}`;
    const child: MountInfo | undefined = tree.byParentAndPath.get(childKey(current.mountId, prefix))?.[0];
    if (child) current = topmost(child, tree)!;
  }
  return current;
}

/** The path inside the mount's filesystem that `path` names (what the mountinfo "root" field would say). */
export function fsPathOf(path: string, mount: MountInfo): string {
  const rest = mount.mountpoint === '/' ? path : path.slice(mount.mountpoint.length);
  if (rest === '' || rest === '/') return mount.root;
  return mount.root === '/' ? rest : `${mount.root}${rest}`;
}

/**
 * Why detaching a recursive bind copy of `source` would unmount mounts on the host, or undefined.
 *
 * runc 1.1's prepareCriuRestoreMounts (libcontainer/container_linux.go) binds every bind source into the
 * rootfs with MS_BIND|MS_REC and later detaches it (MNT_DETACH). A copy of a mount in a shared peer group
 * joins that group, so unmounting the copy's children propagates to the peers: the host's own mounts
 * below the source go away. Seen here: the host's /srv/prop/sub vanished on `docker start --checkpoint`.
 */
export function detachPropagationRisk(source: string, mounts: readonly MountInfo[]): string | undefined {
  const tree = mountTree(mounts);
  const top = resolvePath(tree, source);
  if (!top) return undefined;
  const byParent = tree.byParent;
  const queue: MountInfo[] = [top];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    const children = (byParent.get(parent.mountId) ?? []).filter((c) =>
      c.mountpoint.startsWith(source === '/' ? '/' : `${source}/`),
    );
    for (const child of children) {
      if (parent.shared !== undefined) {
        return `${child.mountpoint} sits on ${parent.mountpoint}, which is shared (peer group ${parent.shared}): detaching a copy would unmount it on the host`;
      }
      queue.push(child);
    }
  }
  return undefined;
}

export type SharingSource =
  /** The path lies in a mount that has a peer group or a master: a bind of the path can pass it on. */
  | { kind: 'self'; path: string; mount: MountInfo }
  /** Another visible host mount shows this content, more specifically, with sharing: bind it there. */
  | { kind: 'peer'; path: string; mount: MountInfo }
  | { kind: 'none'; mount: MountInfo | undefined };

/**
 * Where CRIU can copy slave propagation from for a mount restored from `path`. CRIU mount-v2 copies
 * an external master with MOVE_MOUNT_SET_GROUP from the mount holding the source path, and the kernel
 * refuses that (EINVAL) from a private mount: "Failed to copy sharing from -1:/srv/disk2" when the
 * path is a plain folder of a private /. A host mount that shows the same content with sharing
 * (the propagated /srv/prop/sub for /srv/disk2) gives the restored mount back its master.
 */
export function findSharingSource(path: string, mounts: readonly MountInfo[]): SharingSource {
  const tree = mountTree(mounts);
  const mount = resolvePath(tree, path);
  if (!mount) return { kind: 'none', mount: undefined };
  const fsPath = fsPathOf(path, mount);
  // The most specific mount wins: with a shared / (systemd hosts), /srv/disk2 must still follow the
  // /srv/prop/sub peer group it was a slave of, not the one of /.
  const candidates = mounts.filter(
    (m) =>
      deviceOf(m) === deviceOf(mount) &&
      hasSharing(m) &&
      isUnder(fsPath, m.root) &&
      (m === mount || resolvePath(tree, m.mountpoint) === m),
  );
  if (candidates.length === 0) return { kind: 'none', mount };
  candidates.sort(
    (a, b) =>
      b.root.length - a.root.length ||
      Number(b === mount) - Number(a === mount) ||
      Number(b.shared !== undefined) - Number(a.shared !== undefined) ||
      a.mountpoint.length - b.mountpoint.length,
  );
  const best = candidates[0]!;
  if (best === mount) return { kind: 'self', path, mount };
  const rest = best.root === '/' ? fsPath : fsPath.slice(best.root.length);
  const joined =
    rest === '' || rest === '/' ? best.mountpoint : best.mountpoint === '/' ? rest : `${best.mountpoint}${rest}`;
  return { kind: 'peer', path: joined, mount: best };
}

export function hasSharing(mount: MountInfo): boolean {
  return mount.shared !== undefined || mount.master !== undefined;
}

function childrenIndex(mounts: readonly MountInfo[]): Map<number, MountInfo[]> {
  const index = new Map<number, MountInfo[]>();
  for (const m of mounts) {
    const list = index.get(m.parentId);
    if (list) list.push(m);
    else index.set(m.parentId, [m]);
  }
  return index;
}

/** A mount stacked on the same mountpoint of another is a child of it: follow to the one on top. */
function topmost(mount: MountInfo | undefined, tree: MountTree): MountInfo | undefined {
  let current = mount;
  for (let guard = 0; current && guard < 1000; guard++) {
    const over = tree.byParentAndPath.get(childKey(current.mountId, current.mountpoint))?.find((c) => c !== current);
    if (!over) break;
    current = over;
  }
  return current;
}
