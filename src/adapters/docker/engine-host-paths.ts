// Looks at a host path on an engine's host through its API only: exists, file or directory, no symlink on the way.
import { ExtmountError } from '../../core/errors.js';
import { components } from '../../core/migrate/migrate-plan.js';
import type { Engine } from './docker.js';
import { isDirectoryMode, isSymlinkMode, statPath, withHelper } from './migrate-engine.js';

export type HostPathState =
  | { kind: 'directory' | 'file' }
  | { kind: 'missing'; /** the first component that does not exist */ at: string }
  | { kind: 'symlink'; at: string; linkTarget: string };

/**
 * Walks the path from "/" one component at a time: a helper binds the parent read-only and
 * non-recursively, and the engine stats the child there. A symlink anywhere would let the mount
 * land outside the allowlist, so the walk stops at the first one. (A mountpoint cannot be a
 * symlink, so the non-recursive view of the parent shows the truth for the child.)
 */
export async function inspectHostPath(
  engine: Engine,
  image: string,
  sourceId: string,
  path: string,
): Promise<HostPathState> {
  const parts = components(path);
  let parent = '/';
  for (let i = 0; i < parts.length; i++) {
    const child = parent === '/' ? `/${parts[i]}` : `${parent}/${parts[i]}`;
    const stat = await withHelper(
      engine,
      {
        image,
        sourceId,
        mounts: [{ type: 'bind', source: parent, target: '/extmount/parent', readOnly: true, nonRecursive: true }],
      },
      (helper) => statPath(engine, helper, `/extmount/parent/${parts[i]}`),
    );
    if (!stat) return { kind: 'missing', at: child };
    if (isSymlinkMode(stat.mode)) return { kind: 'symlink', at: child, linkTarget: stat.linkTarget };
    if (i === parts.length - 1) return { kind: isDirectoryMode(stat.mode) ? 'directory' : 'file' };
    if (!isDirectoryMode(stat.mode)) return { kind: 'missing', at: `${child}/${parts[i + 1]}` };
    parent = child;
  }
  return { kind: 'directory' };
}

export function describeHostPathState(state: HostPathState): string {
  switch (state.kind) {
    case 'missing':
      return `does not exist (no ${state.at})`;
    case 'symlink':
      return `goes through the symlink ${state.at}`;
    default:
      return `is a ${state.kind}`;
  }
}

export function hostPathRefused(what: string, path: string, state: HostPathState, hint: string): ExtmountError {
  return new ExtmountError('refused', `${what}: ${path} ${describeHostPathState(state)}`, { hint });
}
