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

// Every byte but newline, printable ASCII and non-ASCII: the raw control bytes the kernel never writes
// into a text it escaped, i.e. 0x00-0x09, 0x0b-0x1f and 0x7f.
// eslint-disable-next-line no-control-regex
const NOT_TEXT = /[^\x0a\x20-\x7e\x80-\uffff]/;

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
  // Raw control bytes never appear in a saved text file of mountinfo made by hand or by tools: refuse it.
  // One scan of the whole text (a negated class: faster than listing the bytes); the line is looked up
  // only when there is something to report.
  const binary = options.format === 'kernel' ? null : NOT_TEXT.exec(text);
  const badLine = binary ? text.slice(0, binary.index).split('\n').length : 0;
  // Lines are sliced one at a time rather than split up front: 10,000 mounts are one allocation fewer each.
  for (let start = 0, line = 1; start < text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (line === badLine) throw parseError(origin, badLine, 'contains control or binary bytes');
    const mount = parseLine(text.slice(start, end), line, origin);
    if (seen.has(mount.mountId)) {
      throw parseError(origin, line, `mount ID ${mount.mountId} appears twice`);
    }
    seen.add(mount.mountId);
    mounts.push(mount);
    start = end + 1;
  }
  if (mounts.length === 0) throw parseError(origin, 1, 'no mounts (empty input)');
  return mounts;
}

// A line is scanned, not split: only the fields a record keeps are sliced out (hot: 10,000 lines and
// a dozen fields each). Malformed lines are split after all, to say what is wrong with them.
// Exported for mountinfo-index.ts, which parses only the lines a question needs.
export function parseLine(raw: string, line: number, origin: string): MountInfo {
  const e0 = raw.indexOf(' ');
  const e1 = e0 === -1 ? -1 : raw.indexOf(' ', e0 + 1);
  const e2 = e1 === -1 ? -1 : raw.indexOf(' ', e1 + 1);
  const e3 = e2 === -1 ? -1 : raw.indexOf(' ', e2 + 1);
  const e4 = e3 === -1 ? -1 : raw.indexOf(' ', e3 + 1);
  const e5 = e4 === -1 ? -1 : raw.indexOf(' ', e4 + 1);
  if (e5 === -1) throw parseError(origin, line, shapeProblem(raw));
  // The optional fields run up to a lone "-".
  let separator = e5 + 1;
  for (;;) {
    const end = raw.indexOf(' ', separator);
    if (end === -1) throw parseError(origin, line, shapeProblem(raw));
    if (end === separator + 1 && raw.charCodeAt(separator) === 45 /* - */) break;
    separator = end + 1;
  }
  const e9 = raw.indexOf(' ', separator + 2);
  const e10 = e9 === -1 ? -1 : raw.indexOf(' ', e9 + 1);
  if (e10 === -1 || raw.indexOf(' ', e10 + 1) !== -1) throw parseError(origin, line, shapeProblem(raw));

  const mountId = numberAt(raw, 0, e0, line, origin, 'mount ID');
  const parentId = numberAt(raw, e0 + 1, e1, line, origin, 'parent ID');
  const colon = raw.indexOf(':', e1 + 1);
  const major = colon === -1 || colon > e2 ? undefined : decimalAt(raw, e1 + 1, colon);
  const minor = colon === -1 || colon > e2 ? undefined : decimalAt(raw, colon + 1, e2);
  if (major === undefined || minor === undefined)
    throw parseError(origin, line, `field 3 (major:minor) is "${clip(raw.slice(e1 + 1, e2))}"`);
  if (e5 === e4 + 1) throw parseError(origin, line, 'field 6 (mount options) is empty');
  if (e9 === separator + 2) throw parseError(origin, line, 'field 9 (fstype) is empty');
  const mount: MountInfo = {
    mountId,
    parentId,
    major,
    minor,
    // Not always a path: nsfs mounts have roots like "net:[4026532182]".
    root: unescapeNonEmpty(raw.slice(e2 + 1, e3), line, origin, 'root'),
    mountpoint: unescapePath(raw.slice(e3 + 1, e4), line, origin, 'mount point'),
    options: raw.slice(e4 + 1, e5).split(','),
    // Every record gets the same shape (V8 hidden class), set or not.
    shared: undefined,
    master: undefined,
    propagateFrom: undefined,
    unbindable: false,
    fstype: unescapeOctal(raw.slice(separator + 2, e9)),
    source: unescapeOctal(raw.slice(e9 + 1, e10)),
    superOptions: unescapeOctal(raw.slice(e10 + 1)),
    line,
  };
  for (let start = e5 + 1; start < separator;) {
    const end = raw.indexOf(' ', start);
    parseOptionalField(mount, raw, start, end, line, origin);
    start = end + 1;
  }
  return mount;
}

/** What is wrong with a line whose fields are not "6 fixed, optional ones, -, 3 more". */
function shapeProblem(raw: string): string {
  const fields = raw.split(' ');
  const separator = fields.indexOf('-', 6);
  if (separator === -1)
    return fields.length < 7 ? `truncated: only ${fields.length} fields` : 'no "-" separator before fstype';
  return `expected 3 fields after "-", found ${fields.length - separator - 1}`;
}

/** The optional field raw[start, end): tag[:value], read by its tag as the kernel writes it. */
function parseOptionalField(
  mount: MountInfo,
  raw: string,
  start: number,
  end: number,
  line: number,
  origin: string,
): void {
  const colon = raw.indexOf(':', start);
  const tagEnd = colon === -1 || colon > end ? end : colon;
  const valueStart = tagEnd === end ? end : tagEnd + 1;
  switch (raw.slice(start, tagEnd)) {
    case 'shared':
      mount.shared = numberAt(raw, valueStart, end, line, origin, 'optional field shared:N');
      return;
    case 'master':
      mount.master = numberAt(raw, valueStart, end, line, origin, 'optional field master:N');
      return;
    case 'propagate_from':
      mount.propagateFrom = numberAt(raw, valueStart, end, line, origin, 'optional field propagate_from:N');
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

function numberAt(raw: string, start: number, end: number, line: number, origin: string, field: string): number {
  const value = decimalAt(raw, start, end);
  if (value === undefined) throw parseError(origin, line, `${field} is "${clip(raw.slice(start, end))}", not a number`);
  return value;
}

/** raw[start, end) as 1 to 10 ASCII digits, else undefined (hot: runs several times per line). */
function decimalAt(raw: string, start: number, end: number): number | undefined {
  if (end <= start || end - start > 10) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = raw.charCodeAt(i) - 48;
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
  if (text.indexOf('\\') === -1) return text;
  return text.replace(/\\([0-3][0-7]{2})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

export function parseError(origin: string, line: number, what: string): ExtmountError {
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
