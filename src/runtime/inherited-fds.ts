// Which fds above 2 the wrapper's caller gave it, so that runc gets each one at the same number.
//
// hooks/extmount-runc lists them before it execs Node.js ($EXTMOUNT_INHERITED_FDS, comma-separated):
// by the time JS runs, Node has opened fds of its own and marked some inherited ones close-on-exec, so
// /proc/self/fd alone cannot tell them apart. Without the list (the handler started by hand), the fds
// without O_CLOEXEC are taken: Node opens everything close-on-exec.
import { readdirSync, readFileSync } from 'node:fs';

export const INHERITED_FDS_ENV = 'EXTMOUNT_INHERITED_FDS';

/** Parses the shim's list; undefined when absent or malformed. */
export function parseFdList(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  if (text === '') return [];
  const fds = text.split(',').map((s) => (/^\d{1,7}$/.test(s) ? Number(s) : Number.NaN));
  return fds.every((fd) => Number.isInteger(fd) && fd > 2) ? [...new Set(fds)].sort((a, b) => a - b) : undefined;
}

// O_CLOEXEC in the octal "flags" field of /proc/PID/fdinfo/FD (proc(5)).
const O_CLOEXEC = 0o2000000;

export function inheritedFds(env: NodeJS.ProcessEnv): number[] {
  const listed = parseFdList(env[INHERITED_FDS_ENV]);
  if (listed) return listed;
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    try {
      const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (Number.parseInt(flags, 8) & O_CLOEXEC) === 0) fds.push(fd);
    } catch {
      // closed meanwhile (the directory listing's own fd)
    }
  }
  return fds.sort((a, b) => a - b);
}
