// Tar headers (ustar, GNU, pax) read and written as data, and the policy that judges entries from another engine.
// Docker's archive endpoints speak Go's archive/tar: ustar when it fits, pax records for long names
// and xattrs, base-256 numbers for huge values. Only what those produce is accepted.
import { ExtmountError } from '../errors.js';

export const BLOCK = 512;
/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
/** pax and GNU long-name payloads are tiny; a larger one is not something Docker writes. */
export const MAX_META_SIZE = 1 << 20;

export type TarType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'char'
  | 'block'
  | 'dir'
  | 'fifo'
  | 'pax'
  | 'pax-global'
  | 'gnu-longname'
  | 'gnu-longlink';

const TYPES: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
  x: 'pax',
  g: 'pax-global',
  L: 'gnu-longname',
  K: 'gnu-longlink',
};
const FLAGS: Partial<Record<TarType, string>> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
  pax: 'x',
};

export interface TarHeader {
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

export class TarFormatError extends ExtmountError {
  constructor(message: string) {
    super('refused', `archive: ${message}`, { hint: 'the archive from the source engine is not one extmount accepts' });
  }
}

/** One 512-byte header block; null for a zero block (end of archive). */
export function decodeHeader(block: Buffer): TarHeader | null {
  if (block.length !== BLOCK) throw new TarFormatError(`short header (${block.length} bytes)`);
  if (block.every((b) => b === 0)) return null;
  const stored = readNumber(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (stored !== sum) throw new TarFormatError('header checksum mismatch');
  const flag = String.fromCharCode(block[156]!);
  const type = TYPES[flag];
  if (!type) throw new TarFormatError(`unsupported entry type "${flag.replace(/[^\x20-\x7e]/g, '?')}"`);
  const magic = block.subarray(257, 263).toString('latin1');
  let name = readString(block, 0, 100);
  // POSIX ustar splits long names into prefix + name; GNU uses those bytes for times instead.
  if (magic === 'ustar\0') {
    const prefix = readString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  return {
    name,
    type,
    mode: readNumber(block, 100, 8) & 0o7777,
    uid: readNumber(block, 108, 8),
    gid: readNumber(block, 116, 8),
    size: readNumber(block, 124, 12),
    mtime: readNumber(block, 136, 12),
    linkname: readString(block, 157, 100),
    devmajor: readNumber(block, 329, 8),
    devminor: readNumber(block, 337, 8),
  };
}

/** pax extended header records: "LEN key=value\n" … */
export function parsePaxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    const length = space > at ? Number(data.subarray(at, space).toString('latin1')) : NaN;
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length || data[at + length - 1] !== 0x0a) {
      throw new TarFormatError('malformed pax record');
    }
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarFormatError('malformed pax record');
    records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

/** The regular files of a small archive held in memory (what a TarFilter kept), by normalised path. */
export function tarFiles(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let pending: { path?: string; size?: number } = {};
  for (let at = 0; ;) {
    if (at + BLOCK > archive.length) throw new TarFormatError('the archive ends in the middle of an entry');
    const header = decodeHeader(archive.subarray(at, at + BLOCK));
    if (header === null) break;
    at += BLOCK;
    const meta =
      header.type === 'pax' ||
      header.type === 'pax-global' ||
      header.type === 'gnu-longname' ||
      header.type === 'gnu-longlink';
    // Only regular files and the metadata entries carry content (Go writes size 0 for every other type).
    const size = meta ? header.size : header.type === 'file' ? (pending.size ?? header.size) : 0;
    if (at + size > archive.length) throw new TarFormatError('the archive ends in the middle of an entry');
    const data = archive.subarray(at, at + size);
    at += paddedSize(size);
    if (header.type === 'pax') {
      const records = parsePaxRecords(data);
      const paxSize = records.has('size') ? Number(records.get('size')) : undefined;
      if (paxSize !== undefined && (!Number.isSafeInteger(paxSize) || paxSize < 0))
        throw new TarFormatError('bad pax size record');
      pending = { path: records.get('path') ?? pending.path, size: paxSize ?? pending.size };
    } else if (header.type === 'gnu-longname') {
      const end = data.indexOf(0);
      pending = { ...pending, path: data.subarray(0, end === -1 ? data.length : end).toString('utf8') };
    } else if (!meta) {
      const path = entryPath(pending.path ?? header.name);
      pending = {};
      if (header.type === 'file' && typeof path === 'string') files.set(path, data);
    }
  }
  return files;
}

/** Header blocks for one entry without content (directories, devices, whiteouts); pax when the name is long. */
export function encodeEntry(header: Omit<TarHeader, 'size' | 'linkname'> & { linkname?: string }): Buffer {
  const nameBytes = Buffer.byteLength(header.name);
  const blocks: Buffer[] = [];
  let name = header.name;
  if (nameBytes > 100 || /[^\x20-\x7e]/.test(name)) {
    const record = paxRecord('path', header.name);
    blocks.push(
      headerBlock({ ...header, name: 'PaxHeader', type: 'pax', size: record.length, linkname: '' }),
      pad(record),
    );
    name = Buffer.from(header.name).subarray(0, 99).toString('latin1');
  }
  blocks.push(headerBlock({ ...header, name, size: 0, linkname: header.linkname ?? '' }));
  return Buffer.concat(blocks);
}

/** One regular file with its content (a short ASCII name). */
export function encodeFileEntry(
  header: Omit<TarHeader, 'size' | 'linkname' | 'type' | 'devmajor' | 'devminor'>,
  data: Buffer,
): Buffer {
  return Buffer.concat([
    headerBlock({ ...header, type: 'file', size: data.length, linkname: '', devmajor: 0, devminor: 0 }),
    pad(data),
  ]);
}

/** The header of one regular file of `size` bytes whose content the caller streams after it (then pads); pax for 8 GiB and more. */
export function encodeFileHeader(
  header: Omit<TarHeader, 'size' | 'linkname' | 'type' | 'devmajor' | 'devminor'>,
  size: number,
): Buffer {
  const plain = { ...header, type: 'file' as const, linkname: '', devmajor: 0, devminor: 0 };
  if (size < 8 ** 11) return headerBlock({ ...plain, size });
  const record = paxRecord('size', String(size));
  return Buffer.concat([
    headerBlock({ ...plain, name: 'PaxHeader', type: 'pax', size: record.length }),
    pad(record),
    headerBlock({ ...plain, size: 0 }),
  ]);
}

function headerBlock(h: TarHeader): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(h.name, 0, 100, 'latin1');
  writeOctal(block, 100, 8, h.mode);
  writeOctal(block, 108, 8, h.uid);
  writeOctal(block, 116, 8, h.gid);
  writeOctal(block, 124, 12, h.size);
  writeOctal(block, 136, 12, h.mtime);
  block.write(FLAGS[h.type] ?? '0', 156, 1, 'latin1');
  block.write(h.linkname, 157, 100, 'latin1');
  block.write('ustar\0', 257, 6, 'latin1');
  block.write('00', 263, 2, 'latin1');
  writeOctal(block, 329, 8, h.devmajor);
  writeOctal(block, 337, 8, h.devminor);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length)
    length = String(length).length + Buffer.byteLength(body);
  return Buffer.from(`${length}${body}`);
}

export function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

/** Octal text, or GNU base-256 when the first byte has its high bit set (Go writes it for huge values). */
function readNumber(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (field[0]! & 0x80) {
    if (field[0] === 0xff) throw new TarFormatError('negative number in header');
    let value = field[0]! & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + field[i]!;
    if (!Number.isSafeInteger(value)) throw new TarFormatError('number in header too large');
    return value;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError('malformed number in header');
  return parseInt(text, 8);
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'latin1');
}

// ── what an archive from the source may contain ────────────────────────────────────────────

export interface EntryPolicy {
  /** Every entry must be this name or below it (the basename Docker gives the archived path); '' for any name (Podman's archives have no top folder). */
  root: string;
  /** Symlinks and hard links (a container's files); never in a checkpoint. */
  allowLinks: boolean;
  /** Device nodes and fifos (a container's files); never in a checkpoint. */
  allowDevices: boolean;
}

export interface ArchiveEntry {
  /** The entry's path as written, without a trailing slash. */
  path: string;
  type: TarType;
  linkname: string;
}

/** Normalises an entry name ("./a/b/" → "a/b"), or says why it is refused: the archive is data, not a path on this host. */
export function entryPath(name: string): string | { refusal: string } {
  if (name.includes('\0') || /[\n\r]/.test(name)) return { refusal: 'a name with NUL or newline' };
  if (name.startsWith('/')) return { refusal: `an absolute name ${JSON.stringify(name)}` };
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { refusal: `a name with ".." ${JSON.stringify(name)}` };
  if (parts.length === 0) return { refusal: 'an empty name' };
  return parts.join('/');
}

function isInRoot(path: string, root: string): boolean {
  return root === '' || path === root || path.startsWith(`${root}/`);
}

/** Why an entry is refused, or undefined. `symlinks` collects the archive's symlinks: nothing may be written through one. */
export function entryRefusal(entry: ArchiveEntry, policy: EntryPolicy, symlinks: Set<string>): string | undefined {
  const { path, type } = entry;
  if (!isInRoot(path, policy.root)) return `${JSON.stringify(path)} outside ${JSON.stringify(policy.root)}`;
  for (let at = path.indexOf('/'); at !== -1; at = path.indexOf('/', at + 1)) {
    if (symlinks.has(path.slice(0, at)))
      return `${JSON.stringify(path)} below the symlink ${JSON.stringify(path.slice(0, at))}`;
  }
  switch (type) {
    case 'file':
    case 'dir':
      return undefined;
    case 'symlink':
      if (!policy.allowLinks) return `a symlink ${JSON.stringify(path)}`;
      symlinks.add(path);
      return undefined;
    case 'hardlink': {
      if (!policy.allowLinks) return `a hard link ${JSON.stringify(path)}`;
      const target = entryPath(entry.linkname);
      if (typeof target !== 'string') return `a hard link ${JSON.stringify(path)} to ${target.refusal}`;
      if (!isInRoot(target, policy.root))
        return `a hard link ${JSON.stringify(path)} to ${JSON.stringify(target)} outside the archive`;
      return undefined;
    }
    case 'char':
    case 'block':
    case 'fifo':
      return policy.allowDevices ? undefined : `a device or fifo ${JSON.stringify(path)}`;
    default:
      return `an entry of type ${type}`;
  }
}
