// Reads a mount table that other processes change meanwhile: parallel restores mount and unmount on the host.
//
// /proc/PID/mountinfo is a seq_file read a page at a time; when mounts change between two reads the text
// can hold an entry twice or miss one (seen here: "mount ID 78 appears twice" during 10 parallel restores).
// Two reads in a row that agree were not torn. The host's table, thousands of lines on a Kubernetes node,
// is read once where the kernel shows every lasting mount in one read (mountinfo-reads.ts).
import { release } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { readMountinfo, readOwnMountinfo, readOwnMountinfoSync } from './procfs.js';
import { parseMountinfo, type MountInfo } from '../../core/mounts/mountinfo.js';
import { indexMountinfo, type MountinfoIndex } from '../../core/mounts/mountinfo-index.js';
import { oneReadSuffices } from '../../core/mounts/mountinfo-reads.js';

const ATTEMPTS = 20;
/** Read from /proc: raw bytes in other mounts' sources are data, not damage (mountinfo.ts). */
const KERNEL = { format: 'kernel' } as const;

export async function stableMountinfo(read: () => Promise<string>, origin: string): Promise<MountInfo[]> {
  return parseMountinfo(await stableText(read), origin, KERNEL);
}

async function stableText(read: () => string | Promise<string>): Promise<string> {
  let previous = await read();
  for (let attempt = 1; attempt < ATTEMPTS; attempt++) {
    const current = await read();
    if (current === previous) return current;
    previous = current;
    await sleep(attempt * 5);
  }
  return previous;
}

export function hostMountTable(): Promise<MountInfo[]> {
  return stableMountinfo(readOwnMountinfo, '/proc/self/mountinfo');
}

/**
 * The host's table scanned, not parsed: the runtime's checkpoint parses only the lines its container
 * needs (mountinfo-index.ts). Read synchronously, before this returns (spawn what should run meanwhile
 * first); where one read does not suffice, the reads after the first as soon as the caller awaits anything.
 */
export async function hostMountIndex(): Promise<MountinfoIndex> {
  const origin = '/proc/self/mountinfo';
  if (oneReadSuffices(release())) {
    const index = indexMountinfo(readOwnMountinfoSync(), origin);
    if (!index.repeatsMountId) return index;
  }
  return indexMountinfo(await stableText(readOwnMountinfoSync), origin);
}

export function processMountTable(pid: number): Promise<MountInfo[]> {
  return stableMountinfo(() => readMountinfo(pid), `/proc/${pid}/mountinfo`);
}

/** The same with the text it was parsed from (a checkpoint prepared on pause keeps that text to compare). */
export async function processMountText(pid: number): Promise<{ text: string; mounts: MountInfo[] }> {
  const origin = `/proc/${pid}/mountinfo`;
  const text = await stableText(() => readMountinfo(pid));
  return { text, mounts: parseMountinfo(text, origin, KERNEL) };
}
