// Reads symlinks inside a container's rootfs for secureJoin (core/runtime/secure-join.ts), never following one.
import { lstatSync, readlinkSync } from 'node:fs';
import type { RootfsReadlink } from '../../core/runtime/secure-join.js';

/**
 * A lookup of `rootfs`: lstat of rootfs + path, whose folders secureJoin has already found to be no
 * symlinks. Missing paths (ENOENT, ENOTDIR) are no symlinks, as in securejoin; other errors are thrown.
 */
export function rootfsReadlink(rootfs: string): RootfsReadlink {
  const base = rootfs.replace(/\/+$/, '');
  return (path) => {
    const full = `${base}${path}`;
    try {
      return lstatSync(full).isSymbolicLink() ? readlinkSync(full) : undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
  };
}
