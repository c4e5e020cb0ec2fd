// A streaming tar filter: checks every entry of an archive from the source engine, keeps or drops it, and can stop early.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Digests } from './digests.js';
import {
  BLOCK,
  END_OF_ARCHIVE,
  MAX_META_SIZE,
  TarFormatError,
  decodeHeader,
  entryPath,
  entryRefusal,
  paddedSize,
  parsePaxRecords,
  type ArchiveEntry,
  type EntryPolicy,
  type TarHeader,
} from './migrate-tar.js';

/** keep: pass the entry on; skip: drop it; keep-last: pass it on and end the archive after it. */
export type Decision = 'keep' | 'skip' | 'keep-last';
export type Decide = (entry: ArchiveEntry & { header: TarHeader; index: number }) => Decision;

type State = 'header' | 'meta' | 'data' | 'ended' | 'done';

/**
 * Bytes in, the same bytes out for the entries kept (headers and content untouched), two zero blocks
 * at the end. An entry the policy refuses fails the stream, so a putArchive fed by it fails too.
 */
export class TarFilter extends Transform {
  /** Bytes passed on (what the target receives). */
  bytes = 0;
  entries = 0;
  private state: State = 'header';
  private header = Buffer.alloc(0);
  private remaining = 0;
  private emitting = false;
  private last = false;
  private metaHeader: TarHeader | undefined;
  private metaChunks: Buffer[] = [];
  private metaNeed = 0;
  /** Raw pax / GNU long-name blocks waiting for the entry they describe. */
  private preamble: Buffer[] = [];
  private pending: { path?: string; linkpath?: string; size?: number } = {};
  private readonly symlinks = new Set<string>();
  private index = 0;
  /** sha256 and size of each regular file passed on whose path `digestKey` names (a hard link gets its target's). */
  readonly digests: Digests = new Map();
  private hash: { key: string; hash: Hash; left: number; size: number } | undefined;
  /** Entries (header and padded content) written after the archive's own, before its end. */
  trailer: Buffer[] = [];
  /** Refuse an archive that stops at an entry boundary without its end blocks (a file cut short there). */
  requireEnd = false;

  constructor(
    private readonly policy: EntryPolicy,
    private readonly decide: Decide = () => 'keep',
    /** Called once the archive is complete early (keep-last): the caller stops reading the source. */
    private readonly onEarlyEnd: () => void = () => undefined,
    /** Bytes passed on, with the entry they belong to (for accounting by kind). */
    private readonly onOut: (path: string | undefined, bytes: number) => void = () => undefined,
    /** Which entries to digest, and under what name; undefined: not digested. */
    private readonly digestKey: (path: string) => string | undefined = () => undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state === 'done') return callback();
    if (this.state !== 'ended' && !(this.state === 'header' && this.header.length === 0)) {
      return callback(new TarFormatError('the archive ends in the middle of an entry'));
    }
    if (this.state !== 'ended' && this.requireEnd)
      return callback(new TarFormatError('the archive ends without its two end blocks (cut short?)'));
    try {
      for (const entry of this.trailer) this.out(entry);
      this.out(END_OF_ARCHIVE);
    } catch (err) {
      return callback(err as Error);
    }
    this.state = 'done';
    callback();
  }

  private current: string | undefined;

  private out(data: Buffer): void {
    this.bytes += data.length;
    this.onOut(this.current, data.length);
    this.push(data);
  }

  private consume(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case 'ended':
        case 'done':
          return;
        case 'header': {
          const take = Math.min(BLOCK - this.header.length, chunk.length - at);
          this.header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
          at += take;
          if (this.header.length === BLOCK) {
            const block = this.header;
            this.header = Buffer.alloc(0);
            this.onHeader(block);
          }
          break;
        }
        case 'meta': {
          const take = Math.min(this.metaNeed, chunk.length - at);
          this.metaChunks.push(chunk.subarray(at, at + take));
          this.metaNeed -= take;
          at += take;
          if (this.metaNeed === 0) this.onMeta();
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, chunk.length - at);
          if (this.emitting) this.out(chunk.subarray(at, at + take));
          if (this.hash && this.hash.left > 0) {
            const content = Math.min(take, this.hash.left);
            this.hash.hash.update(chunk.subarray(at, at + content));
            this.hash.left -= content;
          }
          this.remaining -= take;
          at += take;
          if (this.remaining === 0) this.endEntry();
          break;
        }
      }
    }
  }

  private onHeader(block: Buffer): void {
    const header = decodeHeader(block);
    if (header === null) {
      this.state = 'ended';
      return;
    }
    if (
      header.type === 'pax' ||
      header.type === 'pax-global' ||
      header.type === 'gnu-longname' ||
      header.type === 'gnu-longlink'
    ) {
      if (header.size > MAX_META_SIZE) throw new TarFormatError(`a ${header.type} header of ${header.size} bytes`);
      this.metaHeader = header;
      this.metaChunks = [];
      this.metaNeed = paddedSize(header.size);
      // A global pax header applies to every later entry: nothing Docker writes, so it is dropped.
      if (header.type !== 'pax-global') this.preamble.push(block);
      this.state = this.metaNeed > 0 ? 'meta' : 'header';
      if (this.metaNeed === 0) this.onMeta();
      return;
    }
    const name = this.pending.path ?? header.name;
    const path = entryPath(name);
    if (typeof path !== 'string') throw new TarFormatError(`refused ${path.refusal}`);
    const entry: ArchiveEntry = { path, type: header.type, linkname: this.pending.linkpath ?? header.linkname };
    const refusal = entryRefusal(entry, this.policy, this.symlinks);
    if (refusal) throw new TarFormatError(`refused ${refusal}`);
    const size = this.pending.size ?? header.size;
    const decision = this.decide({ ...entry, header: { ...header, name, size }, index: this.index++ });
    this.emitting = decision !== 'skip';
    this.last = decision === 'keep-last';
    this.current = path;
    if (this.emitting) {
      for (const raw of this.preamble) this.out(raw);
      this.out(block);
      this.entries++;
    }
    this.preamble = [];
    this.pending = {};
    const key = this.emitting ? this.digestKey(path) : undefined;
    if (key !== undefined && header.type === 'file') this.hash = { key, hash: createHash('sha256'), left: size, size };
    if (key !== undefined && header.type === 'hardlink') {
      const linked = entryPath(entry.linkname);
      const target = typeof linked === 'string' ? this.digestKey(linked) : undefined;
      const digest = target === undefined ? undefined : this.digests.get(target);
      if (digest) this.digests.set(key, digest);
    }
    // Only regular files carry content; Go's writer gives every other type size 0.
    this.remaining = header.type === 'file' ? paddedSize(size) : 0;
    this.state = 'data';
    if (this.remaining === 0) this.endEntry();
  }

  private onMeta(): void {
    const header = this.metaHeader!;
    const padded = Buffer.concat(this.metaChunks);
    const data = padded.subarray(0, header.size);
    if (header.type !== 'pax-global') this.preamble.push(padded);
    if (header.type === 'pax') {
      const records = parsePaxRecords(data);
      if (records.has('path')) this.pending.path = records.get('path')!;
      if (records.has('linkpath')) this.pending.linkpath = records.get('linkpath')!;
      if (records.has('size')) {
        const size = Number(records.get('size'));
        if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError('bad pax size record');
        this.pending.size = size;
      }
    } else if (header.type === 'gnu-longname' || header.type === 'gnu-longlink') {
      const end = data.indexOf(0);
      const text = data.subarray(0, end === -1 ? data.length : end).toString('utf8');
      if (header.type === 'gnu-longname') this.pending.path = text;
      else this.pending.linkpath = text;
    }
    this.state = 'header';
  }

  private endEntry(): void {
    if (this.hash) {
      this.digests.set(this.hash.key, { sha256: this.hash.hash.digest('hex'), size: this.hash.size });
      this.hash = undefined;
    }
    this.state = 'header';
    if (this.last) {
      this.out(END_OF_ARCHIVE);
      this.state = 'done';
      this.onEarlyEnd();
    }
  }
}
