// The host's mount table, parsed only where a question about a few mounts needs it. Pure, no I/O.
//
// A Kubernetes node's table holds thousands of mounts (a tmpfs per projected volume, an overlay per
// container, nsfs per pod); the runtime handler's checkpoint, inside the container's freeze, asks about
// the handful of devices and paths its container's mounts involve. Parsing and indexing every line made
// its time grow with the host (issue 26: +50 ms at 5,000 extra mounts). indexMountinfo scans each line
// once for its device and mount point; selectMounts parses only the lines that can change an answer of
// classifyMounts (classify.ts) and findSharingSource / mountOfPath (host-mounts.ts) for the given needs:
// - every mount of a needed device (host paths, providers, sharing candidates are looked up by device);
// - every mount at a needed path or at any ancestor of one, and of every selected mount's mount point
//   (mountOfPath walks down from / through exactly those, stacked mounts included);
// - every mount in or receiving from a needed peer group (classify: "has peers outside the tree");
// - the device of the mount each needed path lands on (findSharingSource's candidates), to a fixpoint.
// On that set those functions answer as on the whole table (test/core/mounts/mountinfo-index.test.ts).
import { mountOfPath } from './host-mounts.js';
import { deviceKey, parseError, parseLine, unescapeOctal, type MountInfo } from './mountinfo.js';

export interface MountinfoIndex {
  text: string;
  origin: string;
  /** Per line: where it starts and ends in text. */
  starts: number[];
  ends: number[];
  /** Per line: deviceKey of its major:minor, or -1 when the line does not scan (it is then always parsed, to report it). */
  devices: number[];
  /** Per line: where its mount point (as the kernel escaped it) starts and ends in text. */
  mountpointStarts: number[];
  mountpointEnds: number[];
  /** Per line: whether its mount point holds a "\\" escape. */
  escaped: boolean[];
  /** Per line: where its optional fields end (the " - " separator), for peer-group needs. */
  separators: number[];
  /** Whether two lines show one mount ID: a read torn by a mount that came and went (mountinfo-reads.ts). */
  repeatsMountId: boolean;
}

export interface MountNeeds {
  /** deviceKey values (mountinfo.ts). */
  devices: Iterable<number>;
  /** Peer group IDs: mounts with shared:N or master:N of one of them. */
  peerGroups?: Iterable<number>;
  /** Absolute paths whose mount (and sharing source) will be asked for. */
  paths?: Iterable<string>;
  /**
   * Absolute paths whose whole subtree will be walked (detachPropagationRisk), or whose submounts will be
   * asked about as paths: every mount below one, and every mount of their devices.
   */
  subtrees?: Iterable<string>;
}

export function indexMountinfo(text: string, origin: string): MountinfoIndex {
  const index: MountinfoIndex = {
    text,
    origin,
    starts: [],
    ends: [],
    devices: [],
    mountpointStarts: [],
    mountpointEnds: [],
    escaped: [],
    separators: [],
    repeatsMountId: false,
  };
  const mountIds = new Set<number>();
  // Mount points are not sliced here (most lines are never asked about); the next backslash is tracked
  // instead, so that telling an escaped one stays one pass over the text.
  let backslash = text.indexOf('\\');
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const e0 = text.indexOf(' ', start);
    const e1 = e0 === -1 || e0 >= end ? -1 : text.indexOf(' ', e0 + 1);
    const e2 = e1 === -1 || e1 >= end ? -1 : text.indexOf(' ', e1 + 1);
    const e3 = e2 === -1 || e2 >= end ? -1 : text.indexOf(' ', e2 + 1);
    const e4 = e3 === -1 || e3 >= end ? -1 : text.indexOf(' ', e3 + 1);
    const separator = e4 === -1 || e4 >= end ? -1 : text.indexOf(' - ', e4);
    const colon = e1 === -1 ? -1 : text.indexOf(':', e1 + 1);
    const major = colon === -1 || colon > e2 ? -1 : decimal(text, e1 + 1, colon);
    const minor = colon === -1 || colon > e2 ? -1 : decimal(text, colon + 1, e2);
    const scans = separator !== -1 && separator < end && major >= 0 && minor >= 0;
    if (scans) {
      const mountId = decimal(text, start, e0);
      if (mountId >= 0 && mountIds.has(mountId)) index.repeatsMountId = true;
      mountIds.add(mountId);
    }
    index.starts.push(start);
    index.ends.push(end);
    index.devices.push(scans ? major * 0x100000 + minor : -1);
    index.mountpointStarts.push(scans ? e3 + 1 : start);
    index.mountpointEnds.push(scans ? e4 : start);
    while (backslash !== -1 && backslash <= e3) backslash = text.indexOf('\\', backslash + 1);
    index.escaped.push(scans && backslash !== -1 && backslash < e4);
    index.separators.push(scans ? separator : -1);
    start = end + 1;
  }
  return index;
}

/** The mounts of `index` that `needs` can depend on, parsed, in table order. */
export function selectMounts(index: MountinfoIndex, needs: MountNeeds): MountInfo[] {
  const devices = new Set(needs.devices);
  const peerGroups = new Set(needs.peerGroups ?? []);
  const paths = [...(needs.paths ?? [])];
  const below = [...(needs.subtrees ?? [])].map((p) => (p.endsWith('/') ? p : `${p}/`));
  if (below.length > 0) {
    // Their devices first: a submount's sharing source is looked up by its device.
    const picked = pickBelow(index, below);
    for (let i = 0; i < picked.length; i++) if (picked[i]) devices.add(index.devices[i]!);
    paths.push(...[...(needs.subtrees ?? [])]);
  }
  for (;;) {
    const selected = parseLines(index, pickLines(index, devices, peerGroups, paths));
    const landed = paths
      .map((p) => mountOfPath(p, selected))
      .filter((m): m is MountInfo => m !== undefined && !devices.has(deviceKey(m)));
    if (landed.length === 0) return selected;
    for (const m of landed) devices.add(deviceKey(m));
  }
}

function pickLines(
  index: MountinfoIndex,
  devices: ReadonlySet<number>,
  peerGroups: ReadonlySet<number>,
  paths: readonly string[],
): boolean[] {
  const picked = new Array<boolean>(index.starts.length).fill(false);
  const onTheWay = new Set<string>();
  for (const p of paths) addAncestors(onTheWay, p);
  for (let i = 0; i < picked.length; i++) {
    const device = index.devices[i]!;
    if (device === -1 || devices.has(device) || (peerGroups.size > 0 && inPeerGroup(index, i, peerGroups))) {
      picked[i] = true;
      addAncestors(onTheWay, mountpointAt(index, i));
    }
  }
  // Most lines are told apart by the length of their mount point alone.
  const lengths = new Set([...onTheWay].map((p) => p.length));
  for (let i = 0; i < picked.length; i++) {
    if (picked[i] || !(index.escaped[i] || lengths.has(index.mountpointEnds[i]! - index.mountpointStarts[i]!)))
      continue;
    if (onTheWay.has(mountpointAt(index, i))) picked[i] = true;
  }
  return picked;
}

/** The lines whose mount point lies below one of PREFIXES (each ending in "/"). */
function pickBelow(index: MountinfoIndex, prefixes: readonly string[]): boolean[] {
  const picked = new Array<boolean>(index.starts.length).fill(false);
  for (let i = 0; i < picked.length; i++) {
    if (index.devices[i] === -1) continue;
    const start = index.mountpointStarts[i]!;
    if (index.escaped[i]) {
      const mountpoint = mountpointAt(index, i);
      picked[i] = prefixes.some((p) => mountpoint.startsWith(p));
    } else {
      picked[i] = prefixes.some((p) => index.mountpointEnds[i]! - start > p.length && index.text.startsWith(p, start));
    }
  }
  return picked;
}

function mountpointAt(index: MountinfoIndex, i: number): string {
  const raw = index.text.slice(index.mountpointStarts[i]!, index.mountpointEnds[i]!);
  return index.escaped[i] ? unescapeOctal(raw) : raw;
}

/** Whether line i's optional fields (between its mount options and " - ") name one of the peer groups. */
function inPeerGroup(index: MountinfoIndex, i: number, peerGroups: ReadonlySet<number>): boolean {
  const fields = index.text.slice(index.starts[i]!, index.separators[i]!).split(' ').slice(6);
  return fields.some((f) => {
    const colon = f.indexOf(':');
    const tag = f.slice(0, colon);
    return (tag === 'shared' || tag === 'master') && peerGroups.has(Number(f.slice(colon + 1)));
  });
}

function parseLines(index: MountinfoIndex, picked: readonly boolean[]): MountInfo[] {
  const mounts: MountInfo[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < picked.length; i++) {
    if (!picked[i]) continue;
    const mount = parseLine(index.text.slice(index.starts[i]!, index.ends[i]!), i + 1, index.origin);
    if (seen.has(mount.mountId)) throw parseError(index.origin, i + 1, `mount ID ${mount.mountId} appears twice`);
    seen.add(mount.mountId);
    mounts.push(mount);
  }
  if (index.starts.length === 0) throw parseError(index.origin, 1, 'no mounts (empty input)');
  return mounts;
}

/** "/", "/a", "/a/b" for "/a/b". */
function addAncestors(into: Set<string>, path: string): void {
  into.add('/');
  for (let cut = path.indexOf('/', 1); cut !== -1; cut = path.indexOf('/', cut + 1)) into.add(path.slice(0, cut));
  into.add(path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path);
}

function decimal(text: string, start: number, end: number): number {
  if (end <= start || end - start > 10) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}
