// Benchmark: decoding a synthetic 10,000-entry mountpoints image in-process (median of several runs).

import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { IMG_COMMON_MAGIC, MNTS_MAGIC, decodeCriuImage } from '../src/core/criu-image.js';

const entryCount = 10_000;
const warmupRuns = 3;
const measuredRuns = 15;

function varint(value: number): number[] {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
  return bytes;
}

function stringField(field: number, text: string): number[] {
  const bytes = Buffer.from(text, 'utf8');
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

/** One mnt_entry shaped like a container's bind mount, external every 50th entry. */
function encodeMount(index: number): number[] {
  return [
    0x08, 0, // fstype UNSUPPORTED, as CRIU records ext4 binds
    0x10, ...varint(1000 + index),
    0x18, ...varint((254 << 20) | 0),
    0x20, ...varint(index === 0 ? 1 : 1000 + Math.floor((index - 1) / 8)),
    0x28, ...varint(0x200000),
    ...stringField(6, `/srv/volumes/${index}/_data`),
    ...stringField(7, index === 0 ? './' : `./data/${index}`),
    ...stringField(8, '/dev/vda'),
    ...stringField(9, 'discard,resv_strict'),
    0x50, ...varint(index % 3 === 0 ? index : 0),
    0x58, 0,
    0x88, 0x01, 0,
    ...(index % 50 === 0 ? stringField(18, `vol-${index}`) : []),
  ];
}

export function syntheticMountpointsImage(count = entryCount): Uint8Array {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(IMG_COMMON_MAGIC, 0);
  header.writeUInt32LE(MNTS_MAGIC, 4);
  const parts: Buffer[] = [header];
  for (let index = 0; index < count; index++) {
    const payload = Buffer.from(encodeMount(index));
    const size = Buffer.alloc(4);
    size.writeUInt32LE(payload.length, 0);
    parts.push(size, payload);
  }
  return new Uint8Array(Buffer.concat(parts));
}

export async function benchDecodeImages(): Promise<{ name: string; medianMs: number }> {
  const image = syntheticMountpointsImage();
  const timings: number[] = [];
  for (let run = 0; run < warmupRuns + measuredRuns; run++) {
    const start = performance.now();
    const decoded = decodeCriuImage(image, 'synthetic-mountpoints.img');
    const elapsed = performance.now() - start;
    if (decoded.entries.length !== entryCount) throw new Error(`decoded ${decoded.entries.length} of ${entryCount} entries`);
    if (run >= warmupRuns) timings.push(elapsed);
  }
  timings.sort((a, b) => a - b);
  const middle = Math.floor(timings.length / 2);
  const medianMs = timings.length % 2 === 1 ? (timings[middle] ?? 0) : ((timings[middle - 1] ?? 0) + (timings[middle] ?? 0)) / 2;
  return { name: `decode ${entryCount.toLocaleString('en')}-entry mountpoints image (${image.length} bytes)`, medianMs };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, medianMs } = await benchDecodeImages();
  console.log(`${name}: median ${medianMs.toFixed(2)} ms over ${measuredRuns} runs`);
}
