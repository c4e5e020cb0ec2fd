// Who holds one of extmount's lock files (adapters/fs/dir-lock.ts): the record written into it, and read back
// for the one line that refuses a second run.

export interface LockHolder {
  pid: number;
  /** When the holder took the lock (ISO 8601); absent in a record of an older extmount (pid alone). */
  since?: string;
}

export function renderLockHolder(holder: LockHolder): string {
  return `${holder.pid}${holder.since ? ` ${holder.since}` : ''}\n`;
}

/** The record, or undefined when it is not one (empty, cut short, or written by someone else). */
export function parseLockHolder(text: string): LockHolder | undefined {
  const match = /^(\d{1,10})(?: (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z))?$/.exec(text.trim());
  if (!match) return undefined;
  return { pid: Number(match[1]), ...(match[2] ? { since: match[2] } : {}) };
}

/** "pid 123, since 2026-12-07T03:00:00.000Z", for a message. */
export function describeLockHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'its pid unknown';
  return `pid ${holder.pid}${holder.since ? `, since ${holder.since}` : ''}`;
}
