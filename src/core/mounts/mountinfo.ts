// Parses /proc/PID/mountinfo text into records; pure, no I/O.
//
// One line per mount, fields separated by single spaces (proc(5), "/proc/pid/mountinfo"):
//   (1) mount ID  (2) parent ID  (3) major:minor  (4) root  (5) mount point  (6) mount options
//   (7) optional fields, zero or more "tag[:value]"  (8) "-"  (9) fstype  (10) source  (11) super options
// The kernel escapes space, tab, newline and backslash in paths as octal (\040 \011 \012 \134),
// see show_mountinfo()/mangle() in fs/proc_namespace.c — and nothing else: any other byte of a mount
// source, path or option reaches the text raw. A container with CAP_SYS_ADMIN can mount a tmpfs whose
// source holds \001 on the host (issue 11), so a text read from /proc is parsed as the kernel writes it
// (`{ format: 'kernel' }`); the strict default, which refuses raw control bytes as not-mountinfo, is for
// files a user passes in.
import { ExtmountError } from '../errors.js';

export interface MountInfo {
  mountId: number;
  parentId: number;
  major: number;
  minor: number;
  /** The path inside the filesystem that forms this mount's root. */
  root: string;
  /** Relative to the reading process's root. */
  mountpoint: string;
  /** Per-mount options, e.g. ["rw", "relatime"]. */
  options: string[];
  /** Peer group this mount belongs to (shared:N). */
  shared?: number;
  /** Peer group this mount receives propagation from (master:N). */
  master?: number;
  /** Nearest dominant peer group visible to the reader (propagate_from:N). */
  propagateFrom?: number;
  unbindable: boolean;
  fstype: string;
  source: string;
  superOptions: string;
  /** 1-based line number in the parsed text, for messages. */
  line: number;
}

const FIELD_NAMES = ['mount ID', 'parent ID', 'major:minor', 'root', 'mount point', 'mount options'] as const;

export interface ParseMountinfoOptions {
  /**
   * 'file' (default): a file a user passed in, where raw control bytes mean it is not mountinfo.
   * 'kernel': /proc/PID/mountinfo as read, where they are someone's mount source or path.
   */
  format?: 'file' | 'kernel';
}

export function parseMountinfo(text: string, origin = 'mountinfo', options: ParseMountinfoOptions = {}): MountInfo[] {
  const mounts: MountInfo[] = [];
  const seen = new Set<number>();
  const lines = text.split('\n');
  // Raw control bytes never appear in a saved text file of mountinfo made by hand or by tools: refuse it.
  // One scan of the whole text; the line is looked up only when there is something to report.
  // eslint-disable-next-line no-control-regex
  const binary = options.format === 'kernel' ? null : /[\x00-\x09\x0b-\x1f\x7f]/.exec(text);
  const badLine = binary ? text.slice(0, binary.index).split('\n').length : 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw === '' && i === lines.length - 1) break; // the final newline
    if (i + 1 === badLine) throw parseError(origin, badLine, 'contains control or binary bytes');
    const mount = parseLine(raw, i + 1, origin);
    if (seen.has(mount.mountId)) {
      throw parseError(origin, i + 1, `mount ID ${mount.mountId} appears twice`);
    }
    seen.add(mount.mountId);
    mounts.push(mount);
  }
  if (mounts.length === 0) throw parseError(origin, 1, 'no mounts (empty input)');
  return mounts;
}

function parseLine(raw: string, line: number, origin: string): MountInfo {
  const fields = raw.split(' ');
  const separator = fields.indexOf('-', 6);
  if (separator === -1) {
    throw parseError(origin, line, fields.length < 7 ? `truncated: only ${fields.length} fields` : 'no "-" separator before fstype');
  }
  if (fields.length !== separator + 4) {
    throw parseError(origin, line, `expected 3 fields after "-", found ${fields.length - separator - 1}`);
  }
  const [id, parent, dev, root, mountpoint, options] = fields as [string, string, string, string, string, string];
  const [fstype, source, superOptions] = fields.slice(separator + 1) as [string, string, string];
  const mountId = parseNumber(id, line, origin, FIELD_NAMES[0]);
  const parentId = parseNumber(parent, line, origin, FIELD_NAMES[1]);
  const colon = dev.indexOf(':');
  const major = decimal(dev.slice(0, colon));
  const minor = decimal(dev.slice(colon + 1));
  if (colon === -1 || major === undefined || minor === undefined) throw parseError(origin, line, `field 3 (major:minor) is "${clip(dev)}"`);
  if (options === '') throw parseError(origin, line, 'field 6 (mount options) is empty');
  if (fstype === '') throw parseError(origin, line, 'field 9 (fstype) is empty');
  const mount: MountInfo = {
    mountId,
    parentId,
    major,
    minor,
    // Not always a path: nsfs mounts have roots like "net:[4026532182]".
    root: unescapeNonEmpty(root, line, origin, 'root'),
    mountpoint: unescapePath(mountpoint, line, origin, 'mount point'),
    options: options.split(','),
    // Every record gets the same shape (V8 hidden class), set or not.
    shared: undefined,
    master: undefined,
    propagateFrom: undefined,
    unbindable: false,
    fstype: unescapeOctal(fstype),
    source: unescapeOctal(source),
    superOptions: unescapeOctal(superOptions),
    line,
  };
  for (let i = 6; i < separator; i++) parseOptionalField(mount, fields[i]!, line, origin);
  return mount;
}

function parseOptionalField(mount: MountInfo, tag: string, line: number, origin: string): void {
  const colon = tag.indexOf(':');
  const name = colon === -1 ? tag : tag.slice(0, colon);
  const value = colon === -1 ? undefined : tag.slice(colon + 1);
  switch (name) {
    case 'shared':
      mount.shared = parseNumber(value ?? '', line, origin, 'optional field shared:N');
      return;
    case 'master':
      mount.master = parseNumber(value ?? '', line, origin, 'optional field master:N');
      return;
    case 'propagate_from':
      mount.propagateFrom = parseNumber(value ?? '', line, origin, 'optional field propagate_from:N');
      return;
    case 'unbindable':
      mount.unbindable = true;
      return;
    case '':
      throw parseError(origin, line, 'empty optional field (double space?)');
    default:
      // proc(5): "Parsers should ignore all unrecognized optional fields."
      return;
  }
}

function parseNumber(text: string, line: number, origin: string, field: string): number {
  const value = decimal(text);
  if (value === undefined) throw parseError(origin, line, `${field} is "${clip(text)}", not a number`);
  return value;
}

/** 1 to 10 ASCII digits, else undefined (hot: runs several times per line). */
function decimal(text: string): number | undefined {
  if (text.length === 0 || text.length > 10) return undefined;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value;
}

function unescapeNonEmpty(text: string, line: number, origin: string, field: string): string {
  if (text === '') throw parseError(origin, line, `field ${field} is empty`);
  return unescapeOctal(text);
}

function unescapePath(text: string, line: number, origin: string, field: string): string {
  if (!text.startsWith('/')) throw parseError(origin, line, `${field} "${clip(text)}" is not an absolute path`);
  return unescapeOctal(text);
}

/** Undoes the kernel's \ooo escapes; anything else stays as written. */
export function unescapeOctal(text: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\([0-3][0-7]{2})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function parseError(origin: string, line: number, what: string): ExtmountError {
  return new ExtmountError('parse', `${origin}: line ${line}: ${what}`, {
    hint: 'pass the text of a /proc/PID/mountinfo file',
  });
}

export function isReadOnly(mount: MountInfo): boolean {
  return mount.options.includes('ro');
}

export function deviceOf(mount: MountInfo): string {
  return `${mount.major}:${mount.minor}`;
}

/** The device as one number, for map keys (minor numbers have 20 bits). */
export function deviceKey(mount: MountInfo): number {
  return mount.major * 0x100000 + mount.minor;
}
