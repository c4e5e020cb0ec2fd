// Podman's checkpoint archives (`podman container checkpoint --export`), for `extmount restore --import`:
// what the archive holds, what of it is checked, and how its binds are remapped, since Podman's own
// `--import` keeps every bind source as the exporting host had it.
//
// Podman restores from spec.dump, the OCI spec at checkpoint time: it replaces config.dump's spec with it
// and drops only its own files from it (hosts, hostname, resolv.conf, /dev/shm, .containerenv, secrets),
// making them anew (libpod/runtime_ctr.go initContainerVariables and setupContainer, v4.3–v5.8). So every
// other mount of spec.dump is what the runtime mounts on this host, and every one is checked here: a bind
// is planned and checked like migrate's binds, a local named volume moves to this host's volume path,
// anything else is refused. config.dump gets the same sources (for `podman inspect`). Everything else in
// the archive (CRIU images with extmount.yaml, rootfs diff, volume contents) is passed on byte for byte.
import { ExtmountError } from '../errors.js';
import type { BindTarget, SourceBind } from '../migrate/migrate-plan.js';
import { isAbsolutePath, normalizePath } from '../config.js';
import { field, isRawObject, parseRawJson, setField, stringifyRawJson, type RawValue } from './raw-json.js';

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

type RawObject = { [key: string]: RawValue };

/** Removed from spec.dump by every Podman from v4.3 on and made anew on this host. */
const PODMAN_OWN = new Set([
  '/dev/shm',
  '/etc/resolv.conf',
  '/etc/hostname',
  '/etc/hosts',
  '/run/.containerenv',
  '/run/secrets',
]);
/** Filesystems Podman mounts for a container that hold nothing of the host's. */
const KERNEL_TYPES = new Set(['proc', 'sysfs', 'tmpfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2', 'ramfs']);
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const RUNTIME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function bad(origin: string, what: string): ExtmountError {
  return new ExtmountError('bad-input', `${origin}: ${what}`, { hint: 'the archive is not one Podman wrote' });
}

function refused(what: string): ExtmountError {
  return new ExtmountError('refused', `the archive's spec.dump ${what}`, {
    hint: 'extmount imports only binds it can check, local volumes and kernel filesystems',
  });
}

function mountsOf(object: RawObject, origin: string): RawObject[] {
  const value = field(object, 'mounts');
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isRawObject)) throw bad(origin, '"mounts" is not a list of mounts');
  return value as RawObject[];
}

function optionsOf(mount: RawObject): string[] {
  const options = field(mount, 'options');
  return Array.isArray(options) ? options.filter((o): o is string => typeof o === 'string') : [];
}

function isBind(mount: RawObject): boolean {
  const options = optionsOf(mount);
  return field(mount, 'type') === 'bind' || options.includes('bind') || options.includes('rbind');
}

function cleanPath(value: RawValue | undefined): string | undefined {
  return isAbsolutePath(value) && !/[\0\n\r]/.test(value) && !value.split('/').includes('..')
    ? normalizePath(value)
    : undefined;
}

export interface ArchiveDumps {
  config: RawObject;
  spec: RawObject;
}

export interface ArchiveVolume {
  name: string;
  destination: string;
}

/** What spec.dump mounts, sorted by what extmount does with it. */
export interface ArchiveMounts {
  /** The container's binds: planned (--map, remap rules) and checked on this host. */
  binds: SourceBind[];
  /** Local named volumes: Podman creates them here and fills them from the archive. */
  volumes: ArchiveVolume[];
}

export function parseDumps(config: Buffer, spec: Buffer): ArchiveDumps {
  const parsed = {
    config: parseRawJson(config.toString('utf8'), CONFIG_DUMP),
    spec: parseRawJson(spec.toString('utf8'), SPEC_DUMP),
  };
  if (!isRawObject(parsed.config) || !isRawObject(field(parsed.config, 'spec')))
    throw bad(CONFIG_DUMP, 'no container spec');
  if (!isRawObject(parsed.spec)) throw bad(SPEC_DUMP, 'not an OCI spec');
  return { config: parsed.config, spec: parsed.spec };
}

/**
 * Every mount of spec.dump accounted for, or refused (exit 2): Podman's own files, binds, local named
 * volumes (config.dump's namedVolumes, at <volume path>/NAME/_data), kernel filesystems. Also refuses
 * OCI hooks (runc runs prestart hooks on restore: commands from another host) and a runtime given as a
 * path (Podman's CLI runs the archive's runtime: cmd/podman/root.go).
 */
export function archiveMounts(dumps: ArchiveDumps): ArchiveMounts {
  const namedVolumes = field(dumps.config, 'namedVolumes') ?? [];
  if (!Array.isArray(namedVolumes) || !namedVolumes.every(isRawObject))
    throw bad(CONFIG_DUMP, '"namedVolumes" is not a list');
  const volumeAt = new Map<string, string>();
  for (const v of namedVolumes as RawObject[]) {
    const name = field(v, 'volumeName');
    const destination = cleanPath(field(v, 'dest'));
    if (typeof name !== 'string' || !VOLUME_NAME.test(name) || destination === undefined) {
      throw bad(CONFIG_DUMP, `a named volume Podman would not write: ${stringifyRawJson(v)}`);
    }
    volumeAt.set(destination, name);
  }
  const runtime = field(dumps.config, 'runtime');
  if (
    runtime !== undefined &&
    runtime !== null &&
    runtime !== '' &&
    (typeof runtime !== 'string' || !RUNTIME_NAME.test(runtime))
  ) {
    throw new ExtmountError(
      'refused',
      `the archive names its OCI runtime ${stringifyRawJson(runtime)}, not a runtime name`,
      {
        hint: 'Podman would run that path as root; extmount imports only archives naming a runtime configured by name',
      },
    );
  }
  const hooks = field(dumps.spec, 'hooks');
  if (
    hooks !== undefined &&
    hooks !== null &&
    !(isRawObject(hooks) && Object.values(hooks).every((h) => h === null || (Array.isArray(h) && h.length === 0)))
  ) {
    throw refused('has OCI hooks: the runtime would run those commands of another host here');
  }

  const binds: SourceBind[] = [];
  const volumes: ArchiveVolume[] = [];
  const seen = new Set<string>();
  for (const mount of mountsOf(dumps.spec, SPEC_DUMP)) {
    const destination = cleanPath(field(mount, 'destination'));
    if (destination === undefined)
      throw bad(SPEC_DUMP, `a mount without a clean absolute destination: ${stringifyRawJson(mount)}`);
    if (PODMAN_OWN.has(destination)) continue;
    if (seen.has(destination)) throw refused(`mounts ${destination} twice`);
    seen.add(destination);
    if (!isBind(mount)) {
      const type = field(mount, 'type');
      if (typeof type === 'string' && KERNEL_TYPES.has(type)) continue;
      throw refused(`mounts ${destination} as ${stringifyRawJson(type ?? null)}`);
    }
    const source = cleanPath(field(mount, 'source'));
    if (source === undefined) throw bad(SPEC_DUMP, `a bind at ${destination} without a clean absolute source`);
    const volume = volumeAt.get(destination);
    if (volume !== undefined) {
      if (!source.endsWith(`/${volume}/_data`))
        throw refused(`binds volume ${volume} from ${source}, not a local volume's folder`);
      volumes.push({ name: volume, destination });
      continue;
    }
    const options = optionsOf(mount);
    binds.push({
      source,
      destination,
      readOnly: options.includes('ro'),
      propagation: options.find((o) => /^r?(private|slave|shared|unbindable)$/.test(o)) ?? '',
    });
  }
  return { binds, volumes };
}

/** Where a local named volume's content lives under a Podman volume path. */
export function localVolumeSource(volumePath: string, name: string): string {
  return `${normalizePath(volumePath)}/${name}/_data`;
}

/**
 * config.dump and spec.dump with each bind's source replaced by its target and each local named volume
 * at `volumePath` (this host's). The conmon and container pid files are left for Podman to place: it
 * forgets them only under its own run root (libpod/runtime_ctr.go RestoreContainer), so from a host
 * with another one conmon failed to write the exporting host's path. Every other value is kept as
 * written. Edits `dumps`.
 */
export function rewriteDumps(
  dumps: ArchiveDumps,
  targets: readonly BindTarget[],
  volumes: readonly ArchiveVolume[],
  volumePath: string | undefined,
): { config: Buffer; spec: Buffer } {
  const sourceAt = new Map<string, string>(targets.map((t) => [t.destination, t.target]));
  if (volumePath !== undefined)
    for (const v of volumes) sourceAt.set(v.destination, localVolumeSource(volumePath, v.name));
  const rewrite = (mounts: RawObject[]) => {
    for (const mount of mounts) {
      const destination = cleanPath(field(mount, 'destination'));
      const source = destination === undefined ? undefined : sourceAt.get(destination);
      if (source !== undefined && isBind(mount)) setField(mount, 'source', source);
    }
  };
  rewrite(mountsOf(dumps.spec, SPEC_DUMP));
  rewrite(mountsOf(field(dumps.config, 'spec') as RawObject, CONFIG_DUMP));
  for (const name of ['conmonPidFile', 'pid_file'])
    if (field(dumps.config, name) !== undefined) setField(dumps.config, name, '');
  return { config: Buffer.from(stringifyRawJson(dumps.config)), spec: Buffer.from(stringifyRawJson(dumps.spec)) };
}
