// What a failed `runc restore` can leave on the host: its criu-root mount (runc 1.1 bind-mounts the rootfs
// at <runc root>/<id>/criu-root for CRIU, libcontainer container_linux.go Restore, and detaches it once),
// which then keeps runc from removing <runc root>/<id>, so that the next restore is told the container
// "already exists" (issue 27, runc 1.1.5 with an overlay rootfs).
import type { MountInfo } from '../mounts/mountinfo.js';

export const CRIU_ROOT = 'criu-root';

/** The mountpoints at or below <runcRoot>/<id>/criu-root (runcRoot real), deepest and latest first. */
export function criuRootLeftovers(table: readonly MountInfo[], runcRoot: string, id: string): string[] {
  const dir = `${runcRoot.replace(/\/+$/, '')}/${id}/${CRIU_ROOT}`;
  return table
    .map((m, order) => ({ path: m.mountpoint, order }))
    .filter(({ path }) => path === dir || path.startsWith(`${dir}/`))
    .sort((a, b) => b.path.length - a.path.length || b.order - a.order)
    .map(({ path }) => path);
}
