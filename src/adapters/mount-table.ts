// Reads a mount table that other processes change meanwhile: parallel restores mount and unmount on the host.
//
// /proc/PID/mountinfo is a seq_file read a page at a time; when mounts change between two reads the text
// can hold an entry twice or miss one (seen here: "mount ID 78 appears twice" during 10 parallel restores).
// Two reads in a row that agree were not torn.
import { setTimeout as sleep } from 'node:timers/promises';
import { readMountinfo, readOwnMountinfo } from './procfs.js';
import { parseMountinfo, type MountInfo } from '../core/mounts/mountinfo.js';

const ATTEMPTS = 20;
/** Read from /proc: raw bytes in other mounts' sources are data, not damage (mountinfo.ts). */
const KERNEL = { format: 'kernel' } as const;

export async function stableMountinfo(read: () => Promise<string>, origin: string): Promise<MountInfo[]> {
  let previous = await read();
  for (let attempt = 1; attempt < ATTEMPTS; attempt++) {
    const current = await read();
    if (current === previous) return parseMountinfo(current, origin, KERNEL);
    previous = current;
    await sleep(attempt * 5);
  }
  return parseMountinfo(previous, origin, KERNEL);
}

export function hostMountTable(): Promise<MountInfo[]> {
  return stableMountinfo(readOwnMountinfo, '/proc/self/mountinfo');
}

export function processMountTable(pid: number): Promise<MountInfo[]> {
  return stableMountinfo(() => readMountinfo(pid), `/proc/${pid}/mountinfo`);
}
