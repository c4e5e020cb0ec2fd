// The migrated container's configuration on the target, derived from the source's inspect data, and the labels that tie the two.
import { ExtmountError } from '../errors.js';
import type { BindTarget } from './migrate-plan.js';

/** On everything migrate creates on the target (container, volumes): the source container's id. */
export const LABEL_FROM = 'extmount.migrate.from';
/** On short-lived helper containers (never started) on either engine: the source container's id. */
export const LABEL_HELPER = 'extmount.migrate.helper';
/** On the journal (a never-started container on the source) that records an ongoing migration. */
export const LABEL_JOURNAL = 'extmount.migrate.journal';
export const LABEL_CHECKPOINT = 'extmount.migrate.checkpoint';
export const LABEL_RESTART_POLICY = 'extmount.migrate.restart-policy';
export const LABEL_TO = 'extmount.migrate.to';

export const CHECKPOINT_PREFIX = 'extmount-migrate-';

export interface RestartPolicy {
  Name: string;
  MaximumRetryCount?: number;
}

/** The part of GET /containers/{id}/json that migration reads. */
export interface SourceInspect {
  Id: string;
  Name: string;
  Image: string;
  State: {
    Running: boolean;
    Paused?: boolean;
    Pid: number;
    Status?: string;
    Restarting?: boolean;
    RestartCount?: number;
  };
  RestartCount?: number;
  Config: {
    Image: string;
    Cmd?: string[] | null;
    Entrypoint?: string[] | string | null;
    Env?: string[] | null;
    User?: string;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    Tty?: boolean;
    OpenStdin?: boolean;
    StdinOnce?: boolean;
    AttachStdin?: boolean;
    AttachStdout?: boolean;
    AttachStderr?: boolean;
    Hostname?: string;
    Domainname?: string;
    ExposedPorts?: Record<string, object> | null;
    StopSignal?: string;
    StopTimeout?: number;
    Healthcheck?: object;
    Shell?: string[] | null;
    NetworkDisabled?: boolean;
  };
  HostConfig: Record<string, unknown> & {
    NetworkMode?: string;
    Runtime?: string;
    RestartPolicy?: RestartPolicy;
    AutoRemove?: boolean;
    IpcMode?: string;
    PidMode?: string;
    VolumesFrom?: string[] | null;
    Links?: string[] | null;
    Mounts?: Array<{ Type: string; Target: string }> | null;
  };
  Mounts?: Array<{
    Type?: string;
    Name?: string;
    Source: string;
    Destination: string;
    RW: boolean;
    Propagation?: string;
    Driver?: string;
  }>;
  GraphDriver?: { Name: string; Data?: Record<string, string> | null };
}

/** Why this container cannot be moved by recreating it elsewhere, or undefined. */
export function migrationRefusal(c: SourceInspect): string | undefined {
  const h = c.HostConfig;
  // --rm: the checkpoint's exit would make the engine delete the container, and its checkpoint with it.
  if (h.AutoRemove) return 'it was started with --rm (AutoRemove): stopping it for the checkpoint would delete it';
  const ipc = h.IpcMode ?? '';
  if (ipc === 'host' || ipc === 'shareable' || ipc.startsWith('container:')) {
    return `its IPC mode is "${ipc}": /dev/shm is then a host folder that is shared, which a checkpoint does not carry (only the default private mode is migrated)`;
  }
  const pid = h.PidMode ?? '';
  if (pid === 'host' || pid.startsWith('container:')) return `its PID mode is "${pid}"`;
  const net = h.NetworkMode ?? '';
  if (net === 'host' || net.startsWith('container:')) return `its network mode is "${net}"`;
  if ((h.VolumesFrom ?? []).length > 0) return 'it uses --volumes-from';
  if ((h.Links ?? []).length > 0) return 'it uses --link';
  for (const m of c.Mounts ?? []) {
    const type = m.Type ?? 'bind';
    if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs')
      return `its mount ${m.Destination} is of type ${type}`;
  }
  return undefined;
}

/** The files dockerd binds into a --network none container and not into a NetworkDisabled one (migrate/network-files.ts). */
export const NETWORK_FILES = ['hosts', 'hostname', 'resolv.conf'] as const;

/** The volume that holds a NetworkDisabled copy's network files, named after the container it was copied from. */
export const networkFilesVolume = (sourceId: string) => `extmount-netfiles-${sourceId.slice(0, 12)}`;

/** A bind migrate made for such a copy: a network file from one of those volumes, at its /etc path. Each hop makes its own. */
export function isNetworkFilesBind(m: { Type?: string; Source: string; Destination: string }): boolean {
  const match = /\/volumes\/extmount-netfiles-[0-9a-f]{12}\/_data\/([a-z.]+)$/.exec(m.Source);
  return (
    (m.Type ?? 'bind') === 'bind' &&
    match !== null &&
    (NETWORK_FILES as readonly string[]).includes(match[1]!) &&
    m.Destination === `/etc/${match[1]}`
  );
}

/** Where the container has mounts: the writable layer's changes under them are not the layer's. */
export function mountpointsOf(container: SourceInspect): string[] {
  return [
    ...(container.Mounts ?? []).map((m) => m.Destination),
    ...(container.HostConfig.Mounts ?? []).map((m) => m.Target),
    ...Object.keys((container.HostConfig.Tmpfs as Record<string, string> | undefined) ?? {}),
  ];
}

export interface TargetSpec {
  name: string;
  image: string;
  sourceId: string;
  binds: readonly BindTarget[];
  /** Created with NetworkDisabled, for an engine that cannot restore the container's --network none (containerd#12141). */
  networkDisabled?: boolean;
  /** More Mounts entries (the network files such a copy needs, migrate/network-files.ts). */
  extraMounts?: ReadonlyArray<Record<string, unknown>>;
}

/**
 * The create body for the target: the source's own settings (the engine accepts its inspect output),
 * binds remapped and given as Mounts (a missing source then fails instead of being created empty),
 * volumes by name without copy-up (migrate copies their content), no restart policy until the
 * restored process is verified (the engine would otherwise start it fresh after a daemon restart).
 */
export function targetCreateOptions(source: SourceInspect, spec: TargetSpec): Record<string, unknown> {
  const c = source.Config;
  const hostConfig: Record<string, unknown> = { ...source.HostConfig };
  for (const key of ['Binds', 'Mounts', 'VolumesFrom', 'Links', 'ContainerIDFile', 'AutoRemove', 'RestartPolicy'])
    delete hostConfig[key];
  const mounts: Record<string, unknown>[] = [];
  for (const m of source.Mounts ?? []) {
    const type = m.Type ?? 'bind';
    if (isNetworkFilesBind(m)) continue; // made again for this copy (extraMounts)
    if (type === 'bind') {
      const bind = spec.binds.find((b) => b.destination === m.Destination);
      if (!bind) throw new ExtmountError('bad-input', `bind ${m.Destination} has no planned target`);
      mounts.push({
        Type: 'bind',
        Source: bind.target,
        Target: m.Destination,
        ReadOnly: !m.RW,
        ...(m.Propagation ? { BindOptions: { Propagation: m.Propagation } } : {}),
      });
    } else if (type === 'volume') {
      mounts.push({
        Type: 'volume',
        Source: m.Name,
        Target: m.Destination,
        ReadOnly: !m.RW,
        VolumeOptions: { NoCopy: true },
      });
    }
  }
  // tmpfs mounts keep their options from the source's HostConfig.Mounts (CRIU restores their content).
  for (const m of source.HostConfig.Mounts ?? []) if (m.Type === 'tmpfs') mounts.push({ ...m });
  for (const m of spec.extraMounts ?? []) mounts.push({ ...m });
  hostConfig.Mounts = mounts;
  hostConfig.RestartPolicy = { Name: 'no' };
  const optional = <K extends keyof SourceInspect['Config']>(key: K) =>
    c[key] !== undefined && c[key] !== null ? { [key]: c[key] } : {};
  return {
    name: spec.name,
    Image: spec.image,
    ...optional('Cmd'),
    ...optional('Entrypoint'),
    ...optional('Env'),
    ...optional('User'),
    ...optional('WorkingDir'),
    ...optional('Tty'),
    ...optional('OpenStdin'),
    ...optional('StdinOnce'),
    ...optional('AttachStdin'),
    ...optional('AttachStdout'),
    ...optional('AttachStderr'),
    ...optional('Hostname'),
    ...optional('Domainname'),
    ...optional('ExposedPorts'),
    ...optional('StopSignal'),
    ...optional('StopTimeout'),
    ...optional('Healthcheck'),
    ...optional('Shell'),
    ...(spec.networkDisabled ? { NetworkDisabled: true } : optional('NetworkDisabled')),
    Labels: { ...(c.Labels ?? {}), [LABEL_FROM]: spec.sourceId },
    HostConfig: hostConfig,
  };
}

export function encodeRestartPolicy(policy: RestartPolicy | undefined): string {
  return JSON.stringify({
    Name: policy?.Name || 'no',
    ...(policy?.MaximumRetryCount ? { MaximumRetryCount: policy.MaximumRetryCount } : {}),
  });
}

export function decodeRestartPolicy(text: string | undefined): RestartPolicy {
  try {
    const value = JSON.parse(text ?? '') as RestartPolicy;
    if (typeof value.Name === 'string' && ['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(value.Name)) {
      return {
        Name: value.Name || 'no',
        ...(typeof value.MaximumRetryCount === 'number' && value.MaximumRetryCount > 0
          ? { MaximumRetryCount: value.MaximumRetryCount }
          : {}),
      };
    }
  } catch {
    // fall through: an unreadable record means no policy
  }
  return { Name: 'no' };
}

/**
 * Checkpoint names are [a-zA-Z0-9][a-zA-Z0-9_.-]+ for the engine; this one also sorts by time, and `run`
 * (8 hex digits drawn per run) keeps two runs in one second apart (issue 27: both got the same name).
 */
export function checkpointName(now: Date, run: string): string {
  if (!/^[0-9a-f]{8}$/.test(run)) throw new Error(`checkpointName: run "${run}" is not 8 hex digits`);
  return `${CHECKPOINT_PREFIX}${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'z')
    .toLowerCase()}-${run}`;
}

/** A checkpoint name migrate makes (checkpointName), or made before runs were told apart (no suffix). */
export function isMigrateCheckpointName(name: string): boolean {
  return /^extmount-migrate-\d{8}t\d{6}z(?:-[0-9a-f]{8})?$/.test(name);
}
