// The host's mount table, parsed only where a question about a few mounts needs it. Pure, no I/O.
//
// A Kubernetes node's table holds thousands of mounts (a tmpfs per projected volume, an overlay per
// container, nsfs per pod); the runtime handler's checkpoint, inside the container's freeze, asks about
// the handful of devices and paths its container's mounts involve. Parsing every line made its time grow
// with the host (issue 26: +50 ms at 5,000 extra mounts), and so did a scan of every line's fields (10–15
// ms there). indexMountinfo only notes where each line starts (and whether one mount ID shows twice);
// selectMounts finds its lines with the string search of the JavaScript engine, the field each hit must
// be in checked, and parses only the lines that can change an answer of classifyMounts (classify.ts) and
// findSharingSource / mountOfPath (host-mounts.ts) for the given needs:
// - every mount of a needed device (host paths, providers, sharing candidates are looked up by device);
// - every mount at a needed path or at any ancestor of one, and of every selected mount's mount point
//   (mountOfPath walks down from / through exactly those, stacked mounts included);
// - every mount in or receiving from a needed peer group (classify: "has peers outside the tree");
// - the device of the mount each needed path lands on (findSharingSource's candidates), to a fixpoint.
// On that set those functions answer as on the whole table (test/core/mounts/mountinfo-index.test.ts).
// A line the kernel would not write (too few fields, say) is parsed, and reported, only where a search
// finds it.
// It reads the kernel's own text: a mount point is searched for as the kernel escapes it, and is always
// followed by the mount's options, which start with "rw" or "ro" (fs/proc_namespace.c show_mountinfo).
import { mountOfPath } from './host-mounts.js';
import { deviceKey, parseError, parseLine, type MountInfo } from './mountinfo.js';

export interface MountinfoIndex {
  text: string;
  origin: string;
  /** Per line: where it starts in text (it ends at the next newline, or at the end). */
  starts: number[];
  /** Whether two lines show one mount ID: a read torn by a mount that came and went (mountinfo-reads.ts). */
  repeatsMountId: boolean;
  /** The lines each string searched for so far was found on (selectMounts searches again as its needs grow). */
  found: Map<string, number[]>;
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

/** Fields are separated by single spaces: a hit at the space before field N has N - 1 spaces up to it. */
const DEVICE_FIELD = 3;
const MOUNTPOINT_FIELD = 5;

export function indexMountinfo(text: string, origin: string): MountinfoIndex {
  const index: MountinfoIndex = { text, origin, starts: [], repeatsMountId: false, found: new Map() };
  const mountIds = new Set<number>();
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    index.starts.push(start);
    const mountId = decimal(text, start, text.indexOf(' ', start));
    if (mountId >= 0 && mountIds.has(mountId)) index.repeatsMountId = true;
    mountIds.add(mountId);
    start = end + 1;
  }
  return index;
}

/** The mounts of `index` that `needs` can depend on, parsed, in table order. */
export function selectMounts(index: MountinfoIndex, needs: MountNeeds): MountInfo[] {
  if (index.starts.length === 0) throw parseError(index.origin, 1, 'no mounts (empty input)');
  const devices = new Set(needs.devices);
  const peerGroups = new Set(needs.peerGroups ?? []);
  const paths = [...(needs.paths ?? [])];
  const subtrees = [...(needs.subtrees ?? [])];
  if (subtrees.length > 0) {
    // Their devices first: a submount's sharing source is looked up by its device.
    const below = new Set<number>();
    const prefixes = subtrees.map((p) => ` ${escapeMountpoint(p.endsWith('/') ? p : `${p}/`)}`);
    addHits(
      index,
      prefixes.map((lead) => ({ lead, trail: '', field: MOUNTPOINT_FIELD })),
      below,
    );
    for (const mount of parseLines(index, below)) devices.add(deviceKey(mount));
    paths.push(...subtrees);
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
): Set<number> {
  const picked = new Set<number>();
  const device = (key: number) => ` ${Math.floor(key / 0x100000)}:${key % 0x100000}`;
  addHits(
    index,
    [...devices].map((key) => ({ lead: device(key), trail: ' ', field: DEVICE_FIELD })),
    picked,
  );
  const inGroups = new Set<number>();
  const tags = [...peerGroups].flatMap((group) => [` shared:${group}`, ` master:${group}`]);
  addHits(
    index,
    tags.map((lead) => ({ lead, trail: ' ', field: undefined })),
    inGroups,
  );
  for (const i of inGroups) {
    const mount = parseAt(index, i);
    if (
      (mount.shared !== undefined && peerGroups.has(mount.shared)) ||
      (mount.master !== undefined && peerGroups.has(mount.master))
    )
      picked.add(i);
  }
  const onTheWay = new Set<string>();
  for (const p of paths) addAncestors(onTheWay, p);
  for (const i of picked) addAncestors(onTheWay, parseAt(index, i).mountpoint);
  const mountpoints = [...onTheWay].map((path) => ` ${escapeMountpoint(path)}`);
  addHits(
    index,
    mountpoints.map((lead) => ({ lead, trail: ' r', field: MOUNTPOINT_FIELD })),
    picked,
  );
  return picked;
}

/** A string to find in the table: LEAD (from the space before a field) followed by TRAIL. */
interface Needle {
  lead: string;
  trail: string;
  /** The field LEAD must be (any, if undefined). */
  field: number | undefined;
}

/**
 * Adds to INTO the lines where one of NEEDLES is found as its field. Those not searched for before are
 * searched in one pass of one regular expression per TRAIL (a pass per string took 0.3 ms each on 5,000
 * lines), and remembered; but not those without a TRAIL (prefixes: one can hide another at a place).
 * A LEAD holds no space but its first (the kernel escapes them), so no match can hide another.
 */
function addHits(index: MountinfoIndex, needles: readonly Needle[], into: Set<number>): void {
  const { text, starts } = index;
  const byTrail = new Map<string, Map<string, Needle>>();
  for (const needle of needles) {
    const known = index.found.get(keyOf(needle));
    if (known) for (const line of known) into.add(line);
    else byTrail.set(needle.trail, (byTrail.get(needle.trail) ?? new Map<string, Needle>()).set(needle.lead, needle));
  }
  for (const [trail, leads] of byTrail) {
    const hits = new Map<string, number[]>([...leads.keys()].map((lead) => [lead, []]));
    const field = exactField(leads.values());
    if (trail && field !== undefined && leads.size > MAX_ALTERNATIVES) {
      // Many at once (the mount points above thousands of picked mounts, say): V8 builds a regular
      // expression of thousands of alternatives in seconds; one pass over every line's field is linear.
      for (let line = 0; line < starts.length; line++) {
        const lines = hits.get(fieldLead(text, starts[line]!, field) ?? '');
        if (lines) {
          lines.push(line);
          into.add(line);
        }
      }
      for (const [lead, lines] of hits) index.found.set(keyOf(leads.get(lead)!), lines);
      continue;
    }
    const alternatives = [...leads.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    const pattern = new RegExp(`(?:${alternatives.join('|')})${trail ? `(?=${escapeRegExp(trail)})` : ''}`, 'g');
    for (const match of text.matchAll(pattern)) {
      const { field } = leads.get(match[0])!;
      const line = lineAt(starts, match.index!);
      if (field === undefined || spacesBetween(text, starts[line]!, match.index!) === field - 1) {
        hits.get(match[0])!.push(line);
        into.add(line);
      }
    }
    if (trail) for (const [lead, lines] of hits) index.found.set(keyOf(leads.get(lead)!), lines);
  }
}

/** Above this many strings to find at once, addHits reads each line's field instead. */
const MAX_ALTERNATIVES = 64;

/** The one field all NEEDLES must be; undefined if they differ or any may be anywhere. */
function exactField(needles: Iterable<Needle>): number | undefined {
  let field: number | undefined;
  for (const needle of needles) {
    if (needle.field === undefined || (field !== undefined && needle.field !== field)) return undefined;
    field = needle.field;
  }
  return field;
}

/** Field FIELD of the line at START with the space before it (a Needle's lead); undefined if the line has fewer. */
function fieldLead(text: string, start: number, field: number): string | undefined {
  let end = text.indexOf('\n', start);
  if (end === -1) end = text.length;
  let at = start - 1;
  for (let spaces = 0; spaces < field - 1; spaces++) {
    at = text.indexOf(' ', at + 1);
    if (at === -1 || at >= end) return undefined;
  }
  const next = text.indexOf(' ', at + 1);
  return text.slice(at, next === -1 || next > end ? end : next);
}

const keyOf = (needle: Needle) => `${needle.field ?? ''}|${needle.trail}|${needle.lead}`;
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** The spaces in text[from..at], `at` included (a field's leading space). */
function spacesBetween(text: string, from: number, at: number): number {
  let count = 0;
  for (let i = text.indexOf(' ', from); i !== -1 && i <= at; i = text.indexOf(' ', i + 1)) count++;
  return count;
}

/** The line holding offset AT (binary search over the line starts). */
function lineAt(starts: readonly number[], at: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle]! <= at) low = middle;
    else high = middle - 1;
  }
  return low;
}

function parseAt(index: MountinfoIndex, i: number): MountInfo {
  const end = index.text.indexOf('\n', index.starts[i]!);
  return parseLine(index.text.slice(index.starts[i]!, end === -1 ? index.text.length : end), i + 1, index.origin);
}

function parseLines(index: MountinfoIndex, picked: ReadonlySet<number>): MountInfo[] {
  const mounts: MountInfo[] = [];
  const seen = new Set<number>();
  for (const i of [...picked].sort((a, b) => a - b)) {
    const mount = parseAt(index, i);
    if (seen.has(mount.mountId)) throw parseError(index.origin, i + 1, `mount ID ${mount.mountId} appears twice`);
    seen.add(mount.mountId);
    mounts.push(mount);
  }
  return mounts;
}

/** A path as the kernel writes it in mountinfo (seq_path_root with " \t\n\\" escaped as octal). */
function escapeMountpoint(path: string): string {
  return path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
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
