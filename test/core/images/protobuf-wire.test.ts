// Tests for the protobuf wire reader: values, bounds, skipping, and that bad bytes only ever give parse errors.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ExtmountError } from '../../../src/core/errors.js';
import { WireReader, WireType, toSafeNumber } from '../../../src/core/images/protobuf-wire.js';
import { varint } from '../../helpers/criu-image-encoder.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/images/seed/', import.meta.url));

function reader(bytes: number[], baseOffset = 0): WireReader {
  return new WireReader(Uint8Array.from(bytes), { baseOffset, describe: 'test' });
}

const varintBytes = (value: bigint): number[] => varint(value);

function assertParseError(action: () => unknown, message?: RegExp): void {
  assert.throws(action, (err: unknown) => {
    assert.ok(err instanceof ExtmountError, `expected ExtmountError, got ${String(err)}`);
    assert.equal(err.code, 'parse');
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Reads every field of a message generically, the way a decoder that knows no field would. */
function walkMessage(wire: WireReader): number {
  let fields = 0;
  while (!wire.atEnd()) {
    wire.skipField(wire.readTag());
    fields++;
  }
  return fields;
}

/** A deterministic PRNG (mulberry32) so fuzz failures reproduce. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('varints', () => {
  it('decodes the values protobuf.dev uses as examples', () => {
    assert.equal(reader([0x00]).readVarint32(), 0);
    assert.equal(reader([0x01]).readVarint32(), 1);
    assert.equal(reader([0x96, 0x01]).readVarint32(), 150);
    assert.equal(reader([0xac, 0x02]).readVarint32(), 300);
    assert.equal(reader([0x7f]).readUint64(), 127);
  });

  it('round-trips 64-bit values, as numbers while safe and bigints beyond', () => {
    const cases: [bigint, number | bigint][] = [
      [2n ** 32n - 1n, 4294967295],
      [2n ** 49n, 2 ** 49],
      [2n ** 53n - 1n, Number.MAX_SAFE_INTEGER],
      [2n ** 53n, 2n ** 53n],
      [2n ** 64n - 1n, 2n ** 64n - 1n],
    ];
    for (const [value, expected] of cases) {
      assert.equal(reader(varintBytes(value)).readUint64(), expected, `value ${value}`);
      assert.equal(reader(varintBytes(value)).readVarint64(), value);
    }
    assert.equal(toSafeNumber(5n), 5);
  });

  it('keeps the low 32 bits for uint32 fields, like protobuf (a negative int32 is 10 bytes)', () => {
    const minusOne = varintBytes(2n ** 64n - 1n);
    assert.equal(minusOne.length, 10);
    assert.equal(reader(minusOne).readVarint32(), 0xffffffff);
    assert.equal(reader(varintBytes(2n ** 32n + 7n)).readVarint32(), 7);
  });

  it('decodes booleans from any varint, including non-canonical long ones', () => {
    assert.equal(reader([0x00]).readBool(), false);
    assert.equal(reader([0x01]).readBool(), true);
    assert.equal(reader([0x80, 0x80, 0x00]).readBool(), false);
    assert.equal(reader([0x80, 0x80, 0x01]).readBool(), true);
  });

  it('refuses truncated, over-long and overflowing varints with the file offset', () => {
    assertParseError(() => reader([0x80, 0x80], 100).readVarint32(), /truncated varint \(at byte offset 100\)/);
    assertParseError(() => reader([]).readUint64(), /truncated varint/);
    const eleven = [...Array(10).fill(0x80), 0x01];
    assertParseError(() => reader(eleven).readVarint64(), /overflows|longer/);
    assertParseError(() => reader(eleven).readVarint32(), /overflows|longer/);
    assertParseError(() => reader(eleven).readBool(), /overflows|longer/);
    const tenthByteTooBig = [...Array(9).fill(0xff), 0x02];
    assertParseError(() => reader(tenthByteTooBig).readVarint64(), /overflows 64 bits/);
    assertParseError(() => reader(tenthByteTooBig).readUint64(), /overflows 64 bits/);
  });
});

describe('fixed and length-delimited values', () => {
  it('reads little-endian fixed32 and fixed64', () => {
    assert.equal(reader([0x78, 0x56, 0x34, 0x12]).readFixed32(), 0x12345678);
    assert.equal(reader([1, 0, 0, 0, 0, 0, 0, 0x80]).readFixed64(), 2n ** 63n + 1n);
  });

  it('refuses short fixed values', () => {
    assertParseError(() => reader([1, 2, 3]).readFixed32(), /needs 4 bytes, only 3 left/);
    assertParseError(() => reader([1, 2, 3, 4, 5, 6, 7]).readFixed64(), /needs 8 bytes/);
  });

  it('reads strings as UTF-8 and sub-messages with file offsets', () => {
    assert.equal(reader([0x05, ...Buffer.from('./bar')]).readString(), './bar');
    assert.equal(reader([0x02, 0xc3, 0xa9]).readString(), 'é');
    const outer = reader([0x1a, 0x01, 0x80], 40); // field 3, a 1-byte body holding a cut varint
    outer.readTag();
    const inner = outer.readMessage();
    assert.equal(inner.remaining, 1);
    assertParseError(() => inner.readVarint32(), /at byte offset 42/);
  });

  it('refuses lengths past the end, even absurd ones, without allocating', () => {
    assertParseError(() => reader([0x05, 0x61]).readLengthDelimited(), /length 5 runs past the end \(1 bytes left\)/);
    assertParseError(() => reader(varintBytes(2n ** 63n)).readString(), /runs past the end/);
  });
});

describe('tags and skipping', () => {
  it('splits a key into field number and wire type', () => {
    assert.deepEqual(reader([0x92, 0x01]).readTag(), {
      fieldNumber: 18,
      wireType: WireType.lengthDelimited,
      offset: 0,
    });
  });

  it('refuses field 0 and wire types 6 and 7', () => {
    assertParseError(() => reader([0x00]).readTag(), /field number 0/);
    assertParseError(() => reader([0x0e]).readTag(), /invalid wire type 6/);
    assertParseError(() => reader([0x0f]).readTag(), /invalid wire type 7/);
  });

  it('skips every wire type, including nested groups', () => {
    const message = [
      0x08,
      0x96,
      0x01, // 1: varint
      0x11,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // 2: fixed64
      0x1a,
      0x02,
      0x68,
      0x69, // 3: bytes
      0x23,
      0x2b,
      0x08,
      0x01,
      0x2c,
      0x24, // 4: group { 5: group { 1: varint } }
      0x35,
      1,
      2,
      3,
      4, // 6: fixed32
    ];
    assert.equal(walkMessage(reader(message)), 5);
  });

  it('refuses unbalanced groups and a stray end-group', () => {
    assertParseError(() => walkMessage(reader([0x23, 0x08, 0x01])), /group for field 4 is not closed/);
    assertParseError(() => walkMessage(reader([0x23, 0x2c])), /group 4 closed as 5/);
    assertParseError(() => walkMessage(reader([0x24])), /unexpected end of group/);
  });

  it('refuses deeply nested groups instead of overflowing the stack', () => {
    const deep = Array(100_000).fill(0x0b); // field 1, start group, over and over
    assertParseError(() => walkMessage(reader(deep)), /nested too deeply/);
  });

  it('names the field when a known field has the wrong wire type', () => {
    const wire = reader([0x32, 0x00]);
    const tag = wire.readTag();
    assertParseError(
      () => wire.expectWireType(tag, WireType.varint, 'root'),
      /field 6 \(root\) has wire type 2, expected 0/,
    );
  });
});

describe('hostile input', { timeout: 60_000 }, () => {
  it('gives only parse errors or success on random bytes', () => {
    const random = prng(1);
    for (let round = 0; round < 5000; round++) {
      const bytes = Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
      try {
        walkMessage(reader(bytes));
      } catch (err) {
        assert.ok(err instanceof ExtmountError && err.code === 'parse', `bytes ${bytes.join(',')}: ${String(err)}`);
      }
    }
  });

  it('walks the payloads of a real CRIU image and survives every truncation of them', async () => {
    const image = await readFile(`${fixtures}mountpoints-10.img`);
    const firstSize = image.readUInt32LE(8);
    const payload = image.subarray(12, 12 + firstSize);
    assert.ok(walkMessage(new WireReader(payload)) >= 9, 'mnt_entry has at least its 9 required fields');
    for (let end = 0; end < payload.length; end++) {
      try {
        walkMessage(new WireReader(payload.subarray(0, end)));
      } catch (err) {
        assert.ok(err instanceof ExtmountError && err.code === 'parse', `cut at ${end}: ${String(err)}`);
      }
    }
  });
});
