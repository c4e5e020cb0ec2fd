// Checks that the manifest and the CRIU images agree before a restore: every external key mapped.
import type { MountEntry } from '../images/criu-image.js';
import { ExtmountError } from '../errors.js';
import type { Manifest, ManifestMount } from './manifest.js';

export interface ImageCheckOptions {
  /**
   * The key a manifest mount has in the images: its own key by default. Through runc, config.json
   * binds are dumped under their destination (runc addCriuDumpMount: --ext-mount-map DEST:DEST).
   */
  imageKeyOf?: (mount: ManifestMount) => string;
  /** Image mounts someone else maps on restore and the manifest need not hold (runc's masked paths…). */
  mappedElsewhere?: (entry: MountEntry) => boolean;
}

/** Throws (exit 2, naming the key) when the images need a key the manifest lacks, or disagree on a mountpoint. */
export function checkManifestAgainstImages(
  manifest: Manifest,
  entries: readonly MountEntry[],
  origin: string,
  options: ImageCheckOptions = {},
): void {
  const keyOf = options.imageKeyOf ?? ((m: ManifestMount) => m.key);
  const byKey = new Map(manifest.mounts.map((m) => [keyOf(m), m]));
  const imageKeys = new Set<string>();
  for (const entry of entries) {
    const key = entry.externalKey;
    if (key === null) continue;
    imageKeys.add(key);
    const mount = byKey.get(key);
    if (!mount) {
      if (options.mappedElsewhere?.(entry)) continue;
      throw new ExtmountError(
        'refused',
        `${origin}: the images need external mount key ${key} (at ${entry.mountpoint}), which the manifest does not map`,
        {
          hint: 'the manifest does not belong to these images, or was edited; checkpoint again',
        },
      );
    }
    if (mount.mountpoint !== entry.mountpoint) {
      throw new ExtmountError(
        'refused',
        `${origin}: key ${key} is at ${entry.mountpoint} in the images but at ${mount.mountpoint} in the manifest`,
        {
          hint: 'the manifest does not belong to these images, or was edited; checkpoint again',
        },
      );
    }
  }
  for (const mount of manifest.mounts) {
    if (!imageKeys.has(keyOf(mount))) {
      throw new ExtmountError(
        'refused',
        `${origin}: the manifest maps key ${keyOf(mount)} (${mount.mountpoint}), which the images do not hold`,
        {
          hint: 'the manifest does not belong to these images, or was edited; checkpoint again',
        },
      );
    }
  }
}
