// Podman's checkpoint archives (`podman container checkpoint --export`), for `extmount restore --import`:
// what the archive holds and how its binds are remapped, since Podman's own `--import` keeps every bind
// source as the exporting host had it.
//
// Podman imports config.dump (libpod's container config; its `spec.mounts` are the binds the user gave)
// but restores from spec.dump, the OCI spec at checkpoint time, which replaces config.dump's spec
// (libpod/runtime_ctr.go initContainerVariables, v4.3–v5.8): the binds are found in config.dump and
// rewritten in both. Everything else in the archive (CRIU images with extmount.yaml, rootfs diff,
// volumes) is passed on byte for byte.
import { ExtmountError } from '../errors.js';
import type { BindTarget, SourceBind } from '../migrate/migrate-plan.js';
import { isAbsolutePath, normalizePath } from '../config.js';
import { isRawObject, parseRawJson, stringifyRawJson, type RawValue } from './raw-json.js';

export const CONFIG_DUMP = 'config.dump';
export const SPEC_DUMP = 'spec.dump';
/** Podman's dumps are tens of KiB; a larger one is not Podman's. */
export const MAX_DUMP_SIZE = 8 << 20;

export type Compression = 'zstd' | 'gzip' | 'none';

/** From the archive's first bytes, as Podman's --import detects them; undefined: not an archive Podman writes. */
export function compressionOf(head: Buffer): Compression | undefined {
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 263 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'none';
  return undefined;
}

function mountsOf(value: RawValue | undefined, origin: string): { [key: string]: RawValue }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isRawObject)) throw bad(origin, '"mounts" is not a list of mounts');
  return value as { [key: string]: RawValue }[];
}

function bad(origin: string, what: string): ExtmountError {
  return new ExtmountError('bad-input', `${origin}: ${what}`, { hint: 'the archive is not one Podman wrote' });
}

function isBind(mount: { [key: string]: RawValue }): boolean {
  const options = Array.isArray(mount.options) ? mount.options : [];
  return mount.type === 'bind' || options.includes('bind') || options.includes('rbind');
}

export interface ArchiveDumps {
  config: RawValue;
  spec: RawValue;
}

export function parseDumps(config: Buffer, spec: Buffer): ArchiveDumps {
  const parsed = { config: parseRawJson(config.toString('utf8'), CONFIG_DUMP), spec: parseRawJson(spec.toString('utf8'), SPEC_DUMP) };
  if (!isRawObject(parsed.config) || !isRawObject(parsed.config.spec)) throw bad(CONFIG_DUMP, 'no container spec');
  if (!isRawObject(parsed.spec)) throw bad(SPEC_DUMP, 'not an OCI spec');
  return parsed;
}

/** The container's own binds (what `podman run -v`/`--mount` gave it), as config.dump records them. */
export function archiveBinds(dumps: ArchiveDumps): SourceBind[] {
  const spec = (dumps.config as { [key: string]: RawValue }).spec as { [key: string]: RawValue };
  return mountsOf(spec.mounts, CONFIG_DUMP).filter(isBind).map((mount): SourceBind => {
    const { source, destination } = mount;
    if (!isAbsolutePath(source) || !isAbsolutePath(destination) || /[\0\n\r]/.test(source + destination)) {
      throw bad(CONFIG_DUMP, `a bind with a source or destination that is not a clean absolute path: ${JSON.stringify({ source, destination })}`);
    }
    const options = (Array.isArray(mount.options) ? mount.options : []).filter((o): o is string => typeof o === 'string');
    return {
      source: normalizePath(source),
      destination: normalizePath(destination),
      readOnly: options.includes('ro'),
      propagation: options.find((o) => /^r?(private|slave|shared|unbindable)$/.test(o)) ?? '',
    };
  });
}

export interface ArchiveVolume {
  name: string;
  destination: string;
}

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The named volumes config.dump records (Podman creates them on import and fills them from the archive). */
export function archiveVolumes(dumps: ArchiveDumps): ArchiveVolume[] {
  const config = dumps.config as { [key: string]: RawValue };
  const list = config.namedVolumes ?? [];
  if (!Array.isArray(list) || !list.every(isRawObject)) throw bad(CONFIG_DUMP, '"namedVolumes" is not a list');
  return (list as { [key: string]: RawValue }[]).map((v) => {
    if (typeof v.volumeName !== 'string' || !VOLUME_NAME.test(v.volumeName) || !isAbsolutePath(v.dest)) {
      throw bad(CONFIG_DUMP, `a named volume Podman would not write: ${JSON.stringify({ volumeName: v.volumeName, dest: v.dest })}`);
    }
    return { name: v.volumeName, destination: normalizePath(v.dest) };
  });
}

/**
 * config.dump and spec.dump with each bind's source replaced by its target, each local named volume at
 * `volumePath` (this host's), and the exporting host's own pid file paths left for Podman to choose; every
 * other value kept as written. Edits `dumps`.
 */
export function rewriteDumps(dumps: ArchiveDumps, targets: readonly BindTarget[], volumePath?: string): { config: Buffer; spec: Buffer } {
  const byDestination = new Map(targets.map((t) => [t.destination, t]));
  const rewrite = (mounts: { [key: string]: RawValue }[]) => {
    for (const mount of mounts) {
      if (!isBind(mount) || typeof mount.destination !== 'string' || typeof mount.source !== 'string') continue;
      const target = byDestination.get(normalizePath(mount.destination));
      // spec.dump also holds Podman's own binds (hosts, shm, volumes): only the container's binds move.
      if (target && normalizePath(mount.source) === target.source) mount.source = target.target;
    }
  };
  const config = dumps.config as { [key: string]: RawValue };
  // Podman forgets these two on import only when they lie under its own RunRoot (libpod/runtime_ctr.go
  // RestoreContainer, v4.3–v5.8); from a host with another runroot, conmon then fails to write the
  // exporting host's path. Those inside the exported container's own folder were Podman's defaults: reset.
  for (const field of ['conmonPidFile', 'pid_file']) {
    const value = config[field];
    if (typeof config.id === 'string' && typeof value === 'string' && value.includes(`/${config.id}/userdata/`)) config[field] = '';
  }
  rewrite(mountsOf((config.spec as { [key: string]: RawValue }).mounts, CONFIG_DUMP));
  rewrite(mountsOf((dumps.spec as { [key: string]: RawValue }).mounts, SPEC_DUMP));
  // Podman restores from spec.dump and replaces only its own files there (hosts, hostname, resolv.conf, shm,
  // .containerenv: libpod/container_internal_common.go restore): a named volume keeps the exporting host's
  // path, which is this host's only when both use the same volume path. A local volume is <volumePath>/NAME/_data.
  if (volumePath !== undefined) {
    const volumes = new Map(archiveVolumes(dumps).map((v) => [v.destination, v.name]));
    for (const mount of mountsOf((dumps.spec as { [key: string]: RawValue }).mounts, SPEC_DUMP)) {
      const name = typeof mount.destination === 'string' ? volumes.get(normalizePath(mount.destination)) : undefined;
      if (name !== undefined && isBind(mount) && typeof mount.source === 'string' && mount.source.endsWith(`/${name}/_data`)) {
        mount.source = `${normalizePath(volumePath)}/${name}/_data`;
      }
    }
  }
  return { config: Buffer.from(stringifyRawJson(dumps.config)), spec: Buffer.from(stringifyRawJson(dumps.spec)) };
}
