// Two shapes migrate repeats: a step whose failure must not change the outcome (cleanup after the fact),
// and waiting for a condition with a named limit.
import type { Log } from '../adapters/log.js';

/**
 * Runs WORK; a failure is logged with WHAT and swallowed: undefined. At debug (--debug shows it) by default;
 * at warn where the failure leaves something behind the user should know of.
 */
export type BestEffort = <T>(work: Promise<T>, what: string) => Promise<T | undefined>;

export function bestEffortWith(log: Log, level: 'debug' | 'warn' = 'debug'): BestEffort {
  return async (work, what) => {
    try {
      return await work;
    } catch (err) {
      log[level](`${what} failed, ignored: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  };
}

/** How long migrate waits, by what it waits for. */
export const WAIT_MS = {
  /** A lazy dump an earlier run left, whose copy runs: until every page is on the copy and the source ends. */
  lazyDumpEnd: 600_000,
  /** A lazy dump an earlier run left, with no copy running: until its wrapper gives it up and the source resumes. */
  lazyDumpGiveUp: 60_000,
  /** This run's lazy dump, given up after a failure: until the engine's checkpoint call returns. */
  lazyDumpSettle: 60_000,
  /** The source, once moved: until its engine shows it stopped (no longer paused) and lets it be removed. */
  sourceEnded: 30_000,
} as const;

/**
 * Calls CHECK until it gives a value (not undefined), INTERVALMS apart, while TIMEOUTMS have not passed
 * (checked before each call); undefined when they did.
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  limits: { timeoutMs: number; intervalMs: number },
): Promise<T | undefined> {
  for (
    const deadline = Date.now() + limits.timeoutMs;
    Date.now() < deadline;
    await new Promise((resolve) => setTimeout(resolve, limits.intervalMs))
  ) {
    const value = await check();
    if (value !== undefined) return value;
  }
  return undefined;
}
