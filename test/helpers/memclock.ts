// test/fixtures/live/memclock.c: built static once per run, and its log read back.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { TEST_IMAGE, runDetached, type Daemon } from './dockerd.js';
import { waitFor } from './wait.js';

export const MEMCLOCK_SOURCE = fileURLToPath(new URL('../../../test/fixtures/live/memclock.c', import.meta.url));

export async function buildMemclock(dir: string): Promise<string> {
  const out = join(dir, 'memclock');
  await execa('gcc', ['-O2', '-static', '-o', out, MEMCLOCK_SOURCE]);
  return out;
}

export interface ClockLog {
  /** The T lines' times (unix ms), in order. */
  ticks: number[];
  /** The C lines: one per full pass over the memory. */
  passes: Array<{ ok: boolean; bad: number; at: number }>;
}

export function parseClockLog(text: string): ClockLog {
  const ticks: number[] = [];
  const passes: ClockLog['passes'] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'T' && f.length === 2) ticks.push(Number(f[1]));
    if (f[0] === 'C' && f.length === 5) passes.push({ ok: f[2] === 'ok', bad: Number(f[3]), at: Number(f[4]) });
  }
  return { ticks, passes };
}

export async function readClockLog(path: string): Promise<ClockLog> {
  return parseClockLog(await readFile(path, 'utf8').catch(() => ''));
}

/** The longest gap between two ticks at or after `from` (unix ms): the longest pause the process saw. */
export function longestPause(log: ClockLog, from = 0): number {
  let longest = 0;
  for (let i = 1; i < log.ticks.length; i++)
    if (log.ticks[i]! >= from) longest = Math.max(longest, log.ticks[i]! - log.ticks[i - 1]!);
  return longest;
}

/**
 * `docker run -d` of memclock holding `mib` MiB, its log `/data/<log>` in the bind `src`:/data, under
 * `runtime` (the daemon's default when absent).
 */
export async function runMemclock(
  daemon: Daemon,
  c: { name: string; memclock: string; src: string; mib: number; log: string; runtime?: string },
): Promise<void> {
  await runDetached(daemon, [
    '--name',
    c.name,
    ...(c.runtime ? ['--runtime', c.runtime] : []),
    '-v',
    `${c.src}:/data`,
    '-v',
    `${c.memclock}:/memclock:ro`,
    TEST_IMAGE,
    '/memclock',
    String(c.mib),
    `/data/${c.log}`,
  ]);
}

/**
 * Waits until LOG shows COUNT full passes ended after `after` (ms since the epoch; 0: any), and gives the log.
 * `what` names the wait in the timeout's message.
 */
export async function waitForPasses(
  log: string,
  count: number,
  options: { after?: number; timeoutMs?: number; what?: string } = {},
): Promise<ClockLog> {
  const after = options.after ?? 0;
  return waitFor(
    options.what ?? `${log}: ${count} full pass(es)${after > 0 ? ' after the move' : ''}`,
    async () => {
      const clock = await readClockLog(log);
      return clock.passes.filter((p) => p.at > after).length >= count ? clock : undefined;
    },
    options.timeoutMs ?? 60_000,
  );
}
