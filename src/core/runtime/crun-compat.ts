// What crun records differently from runc, made up for on restore (crun behind the wrapper, under dockerd).
import { join } from 'node:path';
import type { CriuOption } from '../mounts/render.js';
import type { RuncInvocation } from './runc-argv.js';

/**
 * crun (1.28) masks /sys/firmware and /proc/acpi with ROOT/.empty-directory, records it as the key
 * /run/crun/.empty-directory whatever --root is, and maps only its real path on restore: under dockerd
 * (--root …/runtime-runc/moby) CRIU then stops with "No mapping for …:(null) mountpoint". That one key
 * is mapped to that one folder of the root the restore runs with; nothing else of a runtime root is.
 */
export function crunEmptyDirectory(runtime: string, invocation: RuncInvocation, mounts: ReadonlyArray<{ externalKey: string | null }>): CriuOption[] {
  const key = '/run/crun/.empty-directory';
  const root = invocation.globalOptions.get('root');
  if (runtime.slice(runtime.lastIndexOf('/') + 1) !== 'crun' || !root?.startsWith('/') || join(root, '.empty-directory') === key) return [];
  return mounts.some((m) => m.externalKey === key) ? [['external', `mnt[${key}]:${join(root, '.empty-directory')}`]] : [];
}

