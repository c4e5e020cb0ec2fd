// Pure pieces of checkpoint/restore through the Docker API: names, the engine's error shapes, runtime checks.
import { normalizePath } from '../config.js';
import type { ContainerInfo } from '../mounts/container.js';
import type { ExternalMount, MountPlan } from '../mounts/plan.js';

/** Docker's rule for checkpoint names (daemon/checkpoint.go validCheckpointNamePattern). */
export function validateCheckpointName(name: string): string | undefined {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)
    ? undefined
    : 'must start with a letter or digit and hold only letters, digits, "_", "." and "-" (two characters at least)';
}

/** extmount-20261126T235400 (UTC). */
export function defaultCheckpointName(now: Date): string {
  return `extmount-${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')}`;
}

/**
 * The wrapper's own line inside the engine's error. Docker wraps it as "Cannot checkpoint container c:
 * /…/extmount-runc did not terminate successfully: exit status 1: extmount: … path= …/criu-dump.log:
 * unknown", or "OCI runtime restore failed: extmount: …: unknown".
 */
export function runtimeMessageFrom(engineMessage: string): string | undefined {
  const at = engineMessage.indexOf('extmount: ');
  if (at === -1) return undefined;
  return engineMessage
    .slice(at + 'extmount: '.length)
    .replace(/ path= \S*(: unknown)?\s*$/, '')
    .replace(/: unknown\s*$/, '')
    .trim();
}

/**
 * Right after a checkpoint, starting from it may fail once with "content sha256:… already exists"
 * while containerd still holds the checkpoint's content (seen here with dockerd 20.10, containerd 1.6).
 */
export function isTransientContentExists(message: string): boolean {
  return (
    /content sha256:[0-9a-f]+ already exists/.test(message) || /commit failed: content .* already exists/.test(message)
  );
}

/** True when the engine's runtime path is hooks/extmount-runc (by name; the CLI also compares real paths). */
export function looksLikeExtmountRuntime(path: string | undefined): boolean {
  return path !== undefined && /(^|\/)extmount-runc$/.test(path);
}

/**
 * External mounts runc cannot map by itself: not a bind in the container's config, not a runtime file
 * runc binds (/etc/hosts …), not a masked path. These need the extmount runtime to be checkpointed.
 */
export function mountsNeedingExtmount(
  plan: MountPlan,
  container: ContainerInfo,
  maskedPaths: readonly string[],
): ExternalMount[] {
  const runcMapped = new Set([
    ...container.mounts.map((m) => normalizePath(m.destination)),
    ...maskedPaths.map(normalizePath),
  ]);
  return plan.mounts.filter((m) => m.kind !== 'runtime' && !runcMapped.has(m.mountpoint));
}
