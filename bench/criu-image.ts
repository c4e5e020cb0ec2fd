// Benchmark: decoding a synthetic 10,000-entry mountpoints image in-process.
import { decodeCriuImage } from '../src/core/images/criu-image.js';
import { encodeMount, mountpointsImage } from '../test/helpers/criu-image-encoder.js';
import { measure, type Measurement } from './measure.js';

const ENTRIES = 10_000;

export async function benchDecodeImage(): Promise<Measurement & { name: string }> {
  const image = mountpointsImage(
    Array.from({ length: ENTRIES }, (_, i) =>
      encodeMount({
        mntId: 1000 + i,
        parentId: i === 0 ? 1 : 1000,
        mountpoint: i === 0 ? './' : `./data/${i}`,
        root: `/srv/volumes/${i}/_data`,
        ...(i % 50 === 0 ? { extKey: `vol-${i}` } : {}),
      }),
    ),
  );
  const result = await measure(() => {
    const decoded = decodeCriuImage(image, 'synthetic-mountpoints.img');
    if (decoded.entries.length !== ENTRIES) throw new Error(`decoded ${decoded.entries.length} of ${ENTRIES} entries`);
  });
  return {
    name: `decode a ${ENTRIES.toLocaleString('en')}-entry mountpoints image (${image.length} bytes)`,
    ...result,
  };
}
