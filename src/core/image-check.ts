// Checks that the manifest and the CRIU images agree before a restore: every external key mapped.
import type { MountEntry } from './criu-image.js';
import { ExtmountError } from './errors.js';
import type { Manifest } from './manifest.js';

export interface ImageCheckOptions {
  /** Keys someone else maps on restore (runc maps config.json binds by their destination). */
  mappedElsewhere?: ReadonlySet<string>;
}

/** Throws (exit 2, naming the key) when the images need a key the manifest lacks, or disagree on a mountpoint. */
export function checkManifestAgainstImages(manifest: Manifest, entries: readonly MountEntry[], origin: string, options: ImageCheckOptions = {}): void {
  const byKey = new Map(manifest.mounts.map((m) => [m.key, m]));
  const imageKeys = new Set<string>();
  for (const entry of entries) {
    const key = entry.externalKey;
    if (key === null) continue;
    imageKeys.add(key);
    const mount = byKey.get(key);
    if (!mount) {
      if (options.mappedElsewhere?.has(key)) continue;
      throw new ExtmountError('refused', `${origin}: the images need external mount key ${key} (at ${entry.mountpoint}), which the manifest does not map`, {
        hint: 'the manifest does not belong to these images, or was edited; checkpoint again',
      });
    }
    if (mount.mountpoint !== entry.mountpoint) {
      throw new ExtmountError('refused', `${origin}: key ${key} is at ${entry.mountpoint} in the images but at ${mount.mountpoint} in the manifest`, {
        hint: 'the manifest does not belong to these images, or was edited; checkpoint again',
      });
    }
  }
  for (const mount of manifest.mounts) {
    if (!imageKeys.has(mount.key)) {
      throw new ExtmountError('refused', `${origin}: the manifest maps key ${mount.key} (${mount.mountpoint}), which the images do not hold`, {
        hint: 'the manifest does not belong to these images, or was edited; checkpoint again',
      });
    }
  }
}
