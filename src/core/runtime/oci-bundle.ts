// Reads what extmount needs from an OCI bundle's config.json (and Docker's config.v2.json), and rewrites bind sources.
import { isRecord } from '../json.js';
import type { ContainerInfo, ContainerMount } from '../mounts/container.js';
import { normalizePath } from '../config.js';
import type { WalkMount } from './restore-walk.js';
import { ExtmountError } from '../errors.js';
import { secureJoin, type RootfsReadlink } from './secure-join.js';

export interface OciBind {
  /**
   * Where runc mounts it inside the rootfs: the destination written in config.json until
   * resolveBindDestinations has resolved its symlinks the way runc does (secure-join.ts).
   */
  destination: string;
  /** The destination as config.json writes it (normalized). */
  specDestination: string;
  /** Its index in config.json's mounts. */
  index: number;
  /** Absolute host path (runc resolves a relative source against the bundle). */
  source: string;
  readOnly: boolean;
  /** rprivate, rslave, …; empty when the options do not say. */
  propagation: string;
}

export interface OciSpecView {
  rootfs: string;
  binds: OciBind[];
  /** linux.devices paths: runc maps these itself on checkpoint when they are bind mounts. */
  devicePaths: string[];
  /** linux.maskedPaths: runc maps the file ones to /dev/null itself (addMaskPaths). */
  maskedPaths: string[];
  /** Every mount of config.json, binds and others, in its order (restore-walk.ts checks where runc makes them). */
  mounts?: WalkMount[];
}

const PROPAGATION_OPTIONS = new Set([
  'private',
  'rprivate',
  'slave',
  'rslave',
  'shared',
  'rshared',
  'unbindable',
  'runbindable',
]);

/** Parses config.json text; `bundle` resolves relative paths as runc does (it runs in the bundle). */
export function parseOciSpec(
  text: string,
  bundle: string,
  origin = `${bundle}/config.json`,
): { spec: Record<string, unknown>; view: OciSpecView } {
  const fail = (what: string) =>
    new ExtmountError('bad-input', `${origin}: ${what}`, { hint: 'the bundle is not a valid OCI runtime bundle' });
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(spec)) throw fail('not a JSON object');
  const root = isRecord(spec.root) ? spec.root.path : undefined;
  if (typeof root !== 'string' || root === '') throw fail('no root.path');
  const mounts = Array.isArray(spec.mounts) ? spec.mounts : [];
  const binds: OciBind[] = [];
  const all: WalkMount[] = [];
  for (const [i, m] of mounts.entries()) {
    if (!isRecord(m)) throw fail(`mounts[${i}] is not an object`);
    const options = Array.isArray(m.options) ? m.options.filter((o): o is string => typeof o === 'string') : [];
    // runc treats a mount as a bind when its flags hold MS_BIND (options bind/rbind), whatever the type says.
    const bind = m.type === 'bind' || options.includes('bind') || options.includes('rbind');
    if (typeof m.destination === 'string')
      all.push({ specDestination: normalizePath(m.destination), destination: normalizePath(m.destination), bind });
    if (!bind) continue;
    if (typeof m.destination !== 'string' || typeof m.source !== 'string')
      throw fail(`mounts[${i}] has no destination or source`);
    binds.push({
      destination: normalizePath(m.destination),
      specDestination: normalizePath(m.destination),
      index: i,
      source: normalizePath(m.source.startsWith('/') ? m.source : `${bundle}/${m.source}`),
      readOnly: options.includes('ro'),
      propagation: options.filter((o) => PROPAGATION_OPTIONS.has(o)).at(-1) ?? '',
    });
  }
  const linux = isRecord(spec.linux) ? spec.linux : {};
  const devicePaths = (Array.isArray(linux.devices) ? linux.devices : [])
    .map((d) => (isRecord(d) && typeof d.path === 'string' ? normalizePath(d.path) : undefined))
    .filter((p): p is string => p !== undefined);
  const maskedPaths = (Array.isArray(linux.maskedPaths) ? linux.maskedPaths : [])
    .filter((p): p is string => typeof p === 'string')
    .map(normalizePath);
  return {
    spec,
    view: {
      rootfs: root.startsWith('/') ? root : normalizePath(`${bundle}/${root}`),
      binds,
      devicePaths,
      maskedPaths,
      mounts: all,
    },
  };
}

/**
 * The view with bind and device destinations where runc really mounts them: resolved inside the rootfs
 * through its symlinks (runc's addCriuDumpMount/addCriuRestoreMount key them by SecureJoin, and keep the
 * path as written when that fails). Masked paths are keyed as written (addMaskPaths).
 */
export function resolveBindDestinations(view: OciSpecView, readlink: RootfsReadlink): OciSpecView {
  const resolve = (path: string) => {
    try {
      return secureJoin(path, readlink) ?? path;
    } catch {
      return path;
    }
  };
  return {
    ...view,
    binds: view.binds.map((b) => ({ ...b, destination: resolve(b.specDestination) })),
    devicePaths: view.devicePaths.map(resolve),
    ...(view.mounts ? { mounts: view.mounts.map((m) => ({ ...m, destination: resolve(m.specDestination) })) } : {}),
  };
}

/** Mountpoints whose CRIU mapping runc sets up itself (addCriuDumpMount, addMaskPaths, devices). */
export function runcMappedMountpoints(view: OciSpecView): Set<string> {
  return new Set([...view.binds.map((b) => b.destination), ...view.devicePaths, ...view.maskedPaths]);
}

/** A copy of config.json with the source of the bind mounted at each given destination (OciBind.destination) replaced. */
export function rewriteBindSources(
  spec: Record<string, unknown>,
  binds: readonly OciBind[],
  sources: ReadonlyMap<string, string>,
): string {
  const copy = structuredClone(spec);
  const mounts = Array.isArray(copy.mounts) ? copy.mounts : [];
  for (const bind of binds) {
    const replacement = sources.get(bind.destination);
    const m = mounts[bind.index];
    if (replacement !== undefined && isRecord(m)) m.source = replacement;
  }
  return JSON.stringify(copy);
}

/** What Docker knows of the container (config.v2.json): its name, image, named volumes, runtime files. */
export interface DockerContainerMeta {
  name: string;
  image: string;
  /** Destination → volume name. */
  volumes: Map<string, string>;
  runtimeFiles: string[];
}

/** undefined when the text is not a config.v2.json, or (given `id`) not the one of that container. */
export function parseDockerConfigV2(text: string, id?: string): DockerContainerMeta | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(doc)) return undefined;
  if (id !== undefined && doc.ID !== id) return undefined;
  const config = isRecord(doc.Config) ? doc.Config : {};
  const volumes = new Map<string, string>();
  for (const mp of Object.values(isRecord(doc.MountPoints) ? doc.MountPoints : {})) {
    if (
      isRecord(mp) &&
      mp.Type === 'volume' &&
      typeof mp.Name === 'string' &&
      mp.Name !== '' &&
      typeof mp.Destination === 'string'
    ) {
      volumes.set(normalizePath(mp.Destination), mp.Name);
    }
  }
  return {
    name: typeof doc.Name === 'string' ? doc.Name.replace(/^\//, '') : '',
    image: typeof config.Image === 'string' ? config.Image : '',
    volumes,
    runtimeFiles: [doc.HostsPath, doc.ResolvConfPath, doc.HostnamePath].filter(
      (p): p is string => typeof p === 'string' && p !== '',
    ),
  };
}

/** Where moby's graph drivers mount a container's rootfs: <data-root>/overlay2/<layer>/merged and the like. */
const GRAPH_DRIVER_LAYER =
  /^(\/.+)\/(?:(?:overlay2|fuse-overlayfs)\/[^/]+\/merged|vfs\/dir\/[^/]+|btrfs\/subvolumes\/[^/]+|zfs\/graph\/[^/]+)$/;

/**
 * Where Docker's folder for this container (<data-root>/containers/<id>) may be, best guess first; empty
 * for bundles that are not Docker's. The files Docker binds into every container (hostname, hosts,
 * resolv.conf) name it, but Docker 28 binds none of them into a container created with NetworkDisabled
 * (seen with 28.5.2; 20.10 and 26.1 still bind one of them), so the data root is also
 * read off the graph driver's layer (<data-root>/<driver>/<layer>/merged and the like), the named
 * volumes' sources (<data-root>/volumes/<name>/_data) and the data roots daemon.json configures. Only
 * those shapes: never an arbitrary ancestor of a bind, which a container may be able to write into.
 * The caller keeps the first candidate whose config.v2.json names this container (parseDockerConfigV2).
 */
export function dockerContainerDirs(view: OciSpecView, id: string, engineRoots: readonly string[] = []): string[] {
  if (!/^[0-9a-f]{64}$/.test(id)) return [];
  const dirs: string[] = [];
  for (const bind of view.binds) {
    const cut = bind.source.lastIndexOf('/');
    const dir = bind.source.slice(0, cut);
    const name = bind.source.slice(cut + 1);
    if (['hostname', 'hosts', 'resolv.conf'].includes(name) && dir.endsWith(`/containers/${id}`)) dirs.push(dir);
  }
  const roots: string[] = [];
  const layer = GRAPH_DRIVER_LAYER.exec(view.rootfs);
  if (layer) roots.push(layer[1]!);
  for (const bind of view.binds) {
    const volume = /^(\/.+)\/volumes\/[^/]+\/_data$/.exec(bind.source);
    if (volume) roots.push(volume[1]!);
  }
  roots.push(...engineRoots.map(normalizePath), '/var/lib/docker');
  for (const root of roots) dirs.push(`${root}/containers/${id}`);
  return [...new Set(dirs)];
}

/** The container as the classifier sees it, from the bundle (the runtime has no engine API to ask). */
export function containerInfoFromBundle(
  view: OciSpecView,
  target: { id: string; pid: number; runtime: string },
  meta?: DockerContainerMeta,
): ContainerInfo {
  const mounts = view.binds.map((b): ContainerMount => {
    const volumeName = meta?.volumes.get(b.destination);
    return {
      type: volumeName ? 'volume' : 'bind',
      source: b.source,
      destination: b.destination,
      ...(volumeName ? { volumeName } : {}),
      readOnly: b.readOnly,
      propagation: b.propagation,
    };
  });
  return {
    id: target.id,
    name: meta?.name ?? '',
    image: meta?.image ?? '',
    pid: target.pid,
    running: true,
    runtime: target.runtime,
    mounts,
    runtimeFiles: meta?.runtimeFiles ?? [],
  };
}

/** Podman's per-container folders: <graphroot>/<driver>-containers/<id>/userdata (the bundle) and <runroot>/…/userdata. */
const PODMAN_USERDATA = /^(\/.+)\/[a-z0-9]+-containers\/([0-9a-f]{64})\/userdata$/;
/** What Podman binds into every container from those folders, and so the runtime's, not the user's. */
const PODMAN_RUNTIME_BINDS = new Map([
  ['/etc/hosts', 'hosts'],
  ['/etc/hostname', 'hostname'],
  ['/etc/resolv.conf', 'resolv.conf'],
  ['/run/.containerenv', '.containerenv'],
  ['/dev/shm', 'shm'],
]);

/**
 * Whether `source`, bound at `destination`, is one of the files Podman binds into every container from
 * that container's own userdata folders (hosts, hostname, resolv.conf, .containerenv, /dev/shm).
 */
export function isPodmanRuntimeBind(destination: string, source: string, id: string): boolean {
  const cut = source.lastIndexOf('/');
  const dir = PODMAN_USERDATA.exec(source.slice(0, cut));
  return dir !== null && dir[2] === id && PODMAN_RUNTIME_BINDS.get(destination) === source.slice(cut + 1);
}

/** containers/storage's record of a container's storage: <graphroot>/<driver>-containers/containers.json, beside the bundle. */
export function podmanContainersJsonPath(bundle: string, id: string): string | undefined {
  const own = PODMAN_USERDATA.exec(normalizePath(bundle));
  return own && own[2] === id
    ? `${normalizePath(bundle).slice(0, -`/${id}/userdata`.length)}/containers.json`
    : undefined;
}

/**
 * What Podman knows of a container, from its bundle (`<graphroot>/<driver>-containers/<id>/userdata`)
 * and containers/storage's containers.json beside it: the runtime files (hosts, hostname, resolv.conf,
 * .containerenv, the /dev/shm folder) are the binds of those names from this container's userdata
 * folders; a named volume is a bind of `<graphroot>/volumes/<name>/_data`; name and image are the
 * record's metadata (`name`, `image-name`), written by Podman. undefined: not a Podman bundle of this id.
 */
export function podmanContainerMeta(
  view: OciSpecView,
  id: string,
  bundle: string,
  containersJson?: string,
): DockerContainerMeta | undefined {
  const own = PODMAN_USERDATA.exec(normalizePath(bundle));
  if (!own || own[2] !== id) return undefined;
  const graphRoot = own[1]!;
  const runtimeFiles: string[] = [];
  const volumes = new Map<string, string>();
  for (const bind of view.binds) {
    if (isPodmanRuntimeBind(bind.destination, bind.source, id)) {
      runtimeFiles.push(bind.source);
      continue;
    }
    const volume = /^(\/.+)\/volumes\/([^/]+)\/_data$/.exec(bind.source);
    if (volume && volume[1] === graphRoot) volumes.set(bind.destination, volume[2]!);
  }
  const record = storageRecord(containersJson, id);
  const name = typeof record?.metadata.name === 'string' ? record.metadata.name : (record?.names[0] ?? '');
  const image = typeof record?.metadata['image-name'] === 'string' ? record.metadata['image-name'] : '';
  return { name, image, volumes, runtimeFiles };
}

function storageRecord(
  text: string | undefined,
  id: string,
): { names: string[]; metadata: Record<string, unknown> } | undefined {
  if (text === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const entry = Array.isArray(doc) ? doc.find((e) => isRecord(e) && e.id === id) : undefined;
  if (!isRecord(entry)) return undefined;
  const names = Array.isArray(entry.names) ? entry.names.filter((n): n is string => typeof n === 'string') : [];
  let metadata: unknown = {};
  try {
    metadata = typeof entry.metadata === 'string' ? JSON.parse(entry.metadata) : {};
  } catch {
    metadata = {};
  }
  return { names, metadata: isRecord(metadata) ? metadata : {} };
}
