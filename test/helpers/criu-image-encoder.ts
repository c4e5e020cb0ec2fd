// A tiny protobuf and CRIU-framing encoder, independent of the decoder it tests (tests and bench).
import { IMG_COMMON_MAGIC, MNTS_MAGIC } from '../../src/core/images/criu-image.js';

export function varint(value: number | bigint): number[] {
  let rest = BigInt(value);
  const bytes: number[] = [];
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (rest !== 0n);
  return bytes;
}

export const varintField = (field: number, value: number | bigint | boolean): number[] => [
  ...varint((field << 3) | 0),
  ...varint(typeof value === 'boolean' ? Number(value) : value),
];
export const bytesField = (field: number, bytes: ArrayLike<number>): number[] => [
  ...varint((field << 3) | 2),
  ...varint(bytes.length),
  ...Array.from(bytes),
];
export const stringField = (field: number, text: string): number[] => bytesField(field, Buffer.from(text, 'utf8'));

export interface SyntheticMount {
  mntId: number;
  parentId: number;
  mountpoint: string;
  root?: string;
  fstype?: number;
  extKey?: string;
  extMount?: boolean;
  sharedId?: number;
  fsname?: string;
}

export function encodeMount(mount: SyntheticMount, extra: number[] = []): number[] {
  return [
    ...varintField(1, mount.fstype ?? 5),
    ...varintField(2, mount.mntId),
    ...varintField(3, (254 << 20) | 1),
    ...varintField(4, mount.parentId),
    ...varintField(5, 0x200000),
    ...stringField(6, mount.root ?? '/'),
    ...stringField(7, mount.mountpoint),
    ...stringField(8, 'none'),
    ...stringField(9, 'size=64k'),
    ...(mount.sharedId !== undefined ? varintField(10, mount.sharedId) : []),
    ...(mount.extMount !== undefined ? varintField(13, mount.extMount) : []),
    ...(mount.fsname !== undefined ? stringField(14, mount.fsname) : []),
    ...(mount.extKey !== undefined ? stringField(18, mount.extKey) : []),
    ...extra,
  ];
}

export function frameImage(magics: number[], payloads: number[][]): Uint8Array {
  const parts: number[] = [];
  const u32 = (value: number) => parts.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24);
  magics.forEach(u32);
  for (const payload of payloads) {
    u32(payload.length);
    parts.push(...payload);
  }
  return Uint8Array.from(parts);
}

export const mountpointsImage = (payloads: number[][]): Uint8Array =>
  frameImage([IMG_COMMON_MAGIC, MNTS_MAGIC], payloads);
