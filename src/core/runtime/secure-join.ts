// Where a path inside a container's rootfs really leads, as runc resolves it: symlinks are followed with
// the rootfs as "/", and never out of it.
//
// runc mounts a config.json bind at SecureJoin(rootfs, destination) and keys it so for CRIU
// (libcontainer rootfs_linux.go mountToRootfs, container_linux.go addCriuDumpMount/addCriuRestoreMount).
// This is filepath-securejoin v0.2.3's SecureJoinVFS (vendored by runc 1.1) over a lookup of the rootfs,
// so that extmount sees a bind at /conf -> /real/conf where runc put it, and never maps it a second time.

/** Is `path` (absolute, inside the rootfs) a symlink? Its target if so, else undefined (also when missing). */
export type RootfsReadlink = (path: string) => string | undefined;

/** filepath-securejoin stops after this many links (ELOOP). */
const MAX_LINKS = 255;

/**
 * The path `unsafePath` leads to inside the rootfs, absolute and clean; undefined when it goes through
 * more than 255 symlinks (runc then keeps the destination as written). Missing components count as
 * plain folders, as in securejoin.
 */
export function secureJoin(unsafePath: string, readlink: RootfsReadlink): string | undefined {
  let resolved = '';
  let rest = unsafePath;
  let links = 0;
  while (rest !== '') {
    if (links > MAX_LINKS) return undefined;
    const cut = rest.indexOf('/');
    const part = cut === -1 ? rest : rest.slice(0, cut);
    rest = cut === -1 ? '' : rest.slice(cut + 1);
    // Lexically scoped: "/.." stays "/", so a link or a ".." never climbs out of the rootfs.
    const scoped = cleanPath(`/${resolved}${part}`);
    if (scoped === '/') {
      resolved = '';
      continue;
    }
    const target = readlink(scoped);
    if (target === undefined) {
      resolved += `${part}/`;
      continue;
    }
    links++;
    // An absolute link starts again from the rootfs; a relative one from the folder it is in.
    if (target.startsWith('/')) resolved = '';
    rest = `${target}/${rest}`;
  }
  return cleanPath(`/${resolved}`);
}

/** Go's filepath.Clean for absolute paths: no "." or empty components, ".." applied, "/.." is "/". */
export function cleanPath(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}
