// How many reads of /proc/PID/mountinfo a caller needs when other processes mount and unmount meanwhile.
// Pure, no I/O.
//
// The table is a seq_file read a page at a time. Before Linux 5.8 the next page started at the Nth mount
// of the namespace's list, so a mount removed between two pages made the read skip one that stayed: only
// two reads that agree could be trusted. Linux 5.8 ("proc/mounts: add cursor") keeps the read's place in
// the list itself, and 6.8 by the mount's unique ID: a mount that exists for the whole read is never
// skipped. One read can still show a mount that came or went meanwhile, and so (the kernel reuses mount
// IDs) two lines with one ID; and from 6.8 until "namespace: fix proc mount iteration" (2026) a page could
// start again at a mount already shown, which is then there twice with its own ID. Either way a line
// repeats an ID, and such a read is taken again, until two agree.

/** Whether one read of the table that shows no mount ID twice holds every mount that lasted through it, once. */
export function oneReadSuffices(kernelRelease: string): boolean {
  const match = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 5 || (major === 5 && minor >= 8);
}
