// A minimal, bounds-checked protobuf wire-format reader: fields, varints, fixed and length-delimited values.
// Spec: https://protobuf.dev/programming-guides/encoding/ — only what decoding CRIU images needs.

import { ExtmountError } from '../errors.js';

export const WireType = {
  varint: 0,
  fixed64: 1,
  lengthDelimited: 2,
  startGroup: 3,
  endGroup: 4,
  fixed32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

export interface FieldTag {
  fieldNumber: number;
  wireType: WireType;
  /** Offset of the tag within the reader's bytes. */
  offset: number;
}

/** Where a reader's bytes sit in the enclosing file, so errors can name a file offset. */
export interface WireContext {
  /** Offset of byte 0 of this reader within the file. */
  baseOffset: number;
  /** Prefix for messages, e.g. `mountpoints-10.img: entry 3`. */
  describe: string;
  /** What to do about a parse error, passed on to ExtmountError. */
  hint?: string;
}

const maxVarintBytes = 10;
// Deprecated proto2 groups nest; a cap keeps hostile input from exhausting the stack.
const maxGroupDepth = 64;
const utf8 = new TextDecoder('utf-8', { fatal: false });

export class WireReader {
  private position = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly context: WireContext = { baseOffset: 0, describe: 'protobuf message' },
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.position;
  }

  atEnd(): boolean {
    return this.position >= this.bytes.length;
  }

  /** A parse error naming the file offset of `at` (an offset within this reader). */
  fail(message: string, at: number = this.position): ExtmountError {
    const fileOffset = this.context.baseOffset + at;
    const hint = this.context.hint;
    return new ExtmountError(
      'parse',
      `${this.context.describe}: ${message} (at byte offset ${fileOffset})`,
      hint ? { hint } : {},
    );
  }

  readTag(): FieldTag {
    const offset = this.position;
    const key = this.readVarint32();
    const wireType = key & 7;
    const fieldNumber = key >>> 3;
    if (fieldNumber === 0) throw this.fail('field number 0 is invalid', offset);
    if (wireType > WireType.fixed32) throw this.fail(`invalid wire type ${wireType} for field ${fieldNumber}`, offset);
    return { fieldNumber, wireType: wireType as WireType, offset };
  }

  /** Throws unless the field just read has the wire type its schema declares. */
  expectWireType(tag: FieldTag, expected: WireType, fieldName: string): void {
    if (tag.wireType !== expected) {
      throw this.fail(
        `field ${tag.fieldNumber} (${fieldName}) has wire type ${tag.wireType}, expected ${expected}`,
        tag.offset,
      );
    }
  }

  /** A varint as an unsigned 64-bit bigint. */
  readVarint64(): bigint {
    const start = this.position;
    let result = 0n;
    for (let index = 0; index < maxVarintBytes; index++) {
      const byte = this.readByte(start);
      if (index === maxVarintBytes - 1 && byte > 1) throw this.fail('varint overflows 64 bits', start);
      result |= BigInt(byte & 0x7f) << BigInt(7 * index);
      if ((byte & 0x80) === 0) return result;
    }
    throw this.fail('varint longer than 10 bytes', start);
  }

  /** A varint truncated to its low 32 bits, unsigned, as protobuf does for uint32 and enum fields. */
  readVarint32(): number {
    const start = this.position;
    let result = 0;
    for (let index = 0; index < maxVarintBytes; index++) {
      const byte = this.readByte(start);
      if (index === maxVarintBytes - 1 && byte > 1) throw this.fail('varint overflows 64 bits', start);
      // Bits past the 32nd are dropped; 7*4 = 28 bits fit, the fifth byte contributes its low 4.
      if (index < 5) result = (result | ((byte & 0x7f) << (7 * index))) >>> 0;
      if ((byte & 0x80) === 0) return result;
    }
    throw this.fail('varint longer than 10 bytes', start);
  }

  /** A uint64 varint as a number when it is safe, else as a bigint. */
  readUint64(): number | bigint {
    const start = this.position;
    // Fast path without bigint: up to 7 bytes hold 49 bits, exact in a double.
    let value = 0;
    for (let index = 0; index < 7; index++) {
      const byte = this.readByte(start);
      value += (byte & 0x7f) * 2 ** (7 * index);
      if ((byte & 0x80) === 0) return value;
    }
    this.position = start;
    return toSafeNumber(this.readVarint64());
  }

  readBool(): boolean {
    return this.scanVarint();
  }

  readFixed32(): number {
    const start = this.need(4);
    return this.view.getUint32(start, true);
  }

  readFixed64(): bigint {
    const start = this.need(8);
    return this.view.getBigUint64(start, true);
  }

  /** The bytes of a length-delimited field, as a view (not a copy). */
  readLengthDelimited(): Uint8Array {
    const lengthOffset = this.position;
    const length = this.readUint64();
    if (typeof length === 'bigint' || length > this.remaining) {
      throw this.fail(`length ${length} runs past the end (${this.remaining} bytes left)`, lengthOffset);
    }
    const start = this.need(length);
    return this.bytes.subarray(start, this.position);
  }

  readString(): string {
    return utf8.decode(this.readLengthDelimited());
  }

  /** A reader over a nested message; its errors still name offsets in the file. */
  readMessage(): WireReader {
    const body = this.readLengthDelimited();
    const bodyStart = this.position - body.length;
    return new WireReader(body, { ...this.context, baseOffset: this.context.baseOffset + bodyStart });
  }

  /** Skips the value of a field whose tag was just read (unknown fields are not an error). */
  skipField(tag: FieldTag, depth = 0): void {
    switch (tag.wireType) {
      case WireType.varint:
        this.scanVarint();
        return;
      case WireType.fixed64:
        this.need(8);
        return;
      case WireType.lengthDelimited:
        this.readLengthDelimited();
        return;
      case WireType.fixed32:
        this.need(4);
        return;
      case WireType.startGroup:
        this.skipGroup(tag, depth);
        return;
      case WireType.endGroup:
        throw this.fail(`unexpected end of group for field ${tag.fieldNumber}`, tag.offset);
    }
  }

  private skipGroup(start: FieldTag, depth: number): void {
    if (depth >= maxGroupDepth) throw this.fail('groups nested too deeply', start.offset);
    for (;;) {
      if (this.atEnd()) throw this.fail(`group for field ${start.fieldNumber} is not closed`, start.offset);
      const tag = this.readTag();
      if (tag.wireType === WireType.endGroup) {
        if (tag.fieldNumber !== start.fieldNumber) {
          throw this.fail(`group ${start.fieldNumber} closed as ${tag.fieldNumber}`, tag.offset);
        }
        return;
      }
      this.skipField(tag, depth + 1);
    }
  }

  /** Steps over a varint, validating it like readVarint64; says whether it is non-zero. */
  private scanVarint(): boolean {
    const start = this.position;
    let nonZero = 0;
    for (let index = 0; index < maxVarintBytes; index++) {
      const byte = this.readByte(start);
      if (index === maxVarintBytes - 1 && byte > 1) throw this.fail('varint overflows 64 bits', start);
      nonZero |= byte & 0x7f;
      if ((byte & 0x80) === 0) return nonZero !== 0;
    }
    throw this.fail('varint longer than 10 bytes', start);
  }

  private readByte(valueStart: number): number {
    if (this.position >= this.bytes.length) throw this.fail('truncated varint', valueStart);
    return this.bytes[this.position++] as number;
  }

  /** Claims `count` bytes and returns where they start; throws if fewer remain. */
  private need(count: number): number {
    if (count > this.remaining) {
      throw this.fail(`needs ${count} bytes, only ${this.remaining} left`);
    }
    const start = this.position;
    this.position += count;
    return start;
  }
}

/** A number when the value is exactly representable, else the bigint itself. */
export function toSafeNumber(value: bigint): number | bigint {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}
