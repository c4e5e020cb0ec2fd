// Where runc's restore will write, decided before it runs: every config.json mount resolved in the rootfs
// as runc resolves it (secure-join.ts), and refused where that walk leaves the place the spec gave it.
//
// runc 1.1's prepareCriuRestoreMounts makes a mountpoint for every mount (mkdir, or an empty file for a file
// bind) at SecureJoin(rootfs, destination), and bind-mounts each bind there first, so that nested
// mountpoints can be made. A container that turned a bind's destination into a symlink (`umount /dest;
// rmdir /dest; ln -s / /dest`, with CAP_SYS_ADMIN) moves that bind to "/" of the rootfs: every mountpoint
// made after it — etc/hosts, etc/resolv.conf, etc/hostname, proc — is then made in the host's bind source
// (issue 27; plain runc does the same). A symlink in another mount's path can lead it into a bind in the
// same way. What stays inside the container (a bind moved onto another container path) is the
// container's own business, unless the checkpoint's images show it elsewhere (CRIU would fail on it).

export interface WalkMount {
  /** The destination as config.json writes it (normalized). */
  specDestination: string;
  /** Where runc will mount it: SecureJoin in the rootfs. */
  destination: string;
  /** A bind (MS_BIND): what is made below it is made in its host source. */
  bind: boolean;
}

export interface WalkProblem {
  /** The config.json destination at fault. */
  destination: string;
  why: string;
}

const under = (path: string, dir: string) => (dir === '/' ? path !== '/' : path.startsWith(`${dir}/`));

/**
 * The first mount whose restore would write outside the rootfs, or land where the checkpoint did not
 * have it; undefined when runc's walk stays where the spec and the images say. `checkpointed`: the
 * mountpoints in the checkpoint's images, when read.
 */
export function restoreWalkProblem(
  mounts: readonly WalkMount[],
  checkpointed?: ReadonlySet<string>,
): WalkProblem | undefined {
  for (const m of mounts) {
    if (m.bind && m.destination === '/') {
      return {
        destination: m.specDestination,
        why: `leads to the container's root ("/") through a symlink in the rootfs: runc would mount the host's bind source over it and make every later mountpoint in that source`,
      };
    }
  }
  for (const bind of mounts) {
    if (!bind.bind) continue;
    for (const other of mounts) {
      if (
        other === bind ||
        !under(other.destination, bind.destination) ||
        under(other.specDestination, bind.specDestination)
      )
        continue;
      const moved = other.destination !== other.specDestination ? other : bind;
      return {
        destination: moved.specDestination,
        why: `leads to ${moved.destination} through a symlink in the rootfs: runc would make the mountpoint ${other.specDestination} inside the host's source of the bind ${bind.specDestination}`,
      };
    }
  }
  if (checkpointed) {
    for (const m of mounts) {
      if (
        m.destination === m.specDestination ||
        !checkpointed.has(m.specDestination) ||
        checkpointed.has(m.destination)
      )
        continue;
      return {
        destination: m.specDestination,
        why: `leads to ${m.destination} through a symlink in the rootfs, where the checkpoint has no mount (it was checkpointed at ${m.specDestination})`,
      };
    }
  }
  return undefined;
}
