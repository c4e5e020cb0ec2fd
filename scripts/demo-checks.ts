// What `npm run demo` claims, each from a check that can fail: strict parsers for the counter files it
// reads, a reader that waits for a complete value, and one check behind every claim it prints.

/** A claim the demo was about to make turned out false. The demo prints failureLine() and exits 1. */
export class DemoCheckFailed extends Error {
  override name = 'DemoCheckFailed';
}

function fail(message: string): never {
  throw new DemoCheckFailed(message);
}

/** The line the demo ends with when a check failed (or anything else went wrong). */
export function failureLine(err: unknown): string {
  if (err instanceof DemoCheckFailed) return `demo: CHECK FAILED: ${err.message}`;
  return `demo: FAILED: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * The seed's counter file as its loop writes it (`echo $i > /bar/counter`): "N\n" and nothing else.
 * The shell truncates before it writes, so a read can be empty: that is no value, not 0.
 */
export function parseCount(text: string): number | undefined {
  const m = /^([1-9]\d{0,15})\n$/.exec(text);
  return m ? Number(m[1]) : undefined;
}

export interface TokenCount {
  /** Drawn once by the process at start (a UUID): a restored process keeps it, a restarted one draws another. */
  token: string;
  n: number;
}

/** counterLoop's file (test/helpers/e2e.ts): "<uuid> <n>\n" and nothing else. */
export function parseTokenCount(text: string): TokenCount | undefined {
  const m = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) ([1-9]\d{0,15})\n$/.exec(text);
  return m ? { token: m[1]!, n: Number(m[2]) } : undefined;
}

export interface SettleOptions {
  timeoutMs?: number;
  intervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Reads until two reads in a row give the same text and it parses: a value the writer had finished
 * writing, not one caught between its truncate and its write. A read that throws (no file yet) counts
 * as no value. Fails with the last text seen after `timeoutMs`.
 */
export async function readSettled<T>(
  what: string,
  read: () => Promise<string>,
  parse: (text: string) => T | undefined,
  options: SettleOptions = {},
): Promise<T> {
  const {
    timeoutMs = 10_000,
    intervalMs = 20,
    sleep = (ms) => new Promise<void>((r) => setTimeout(r, ms)),
    now = Date.now,
  } = options;
  const deadline = now() + timeoutMs;
  let previous: string | undefined;
  for (;;) {
    const text = await read().catch(() => undefined);
    if (text !== undefined && text === previous) {
      const value = parse(text);
      if (value !== undefined) return value;
    }
    previous = text;
    if (now() > deadline)
      fail(`${what}: no complete value after ${timeoutMs} ms (last read: ${JSON.stringify(text ?? null)})`);
    await sleep(intervalMs);
  }
}

/** Plain `criu dump` of the seed must fail, and for the reason extmount fixes. */
export function checkPlainDumpFails(exitCode: number, log: string): string {
  if (exitCode === 0) fail('plain criu dump of the seed tree succeeded: there was no external mount to show');
  const line = log.split('\n').find((l) => l.includes("doesn't have a proper root mount"));
  if (!line) fail(`plain criu dump failed (exit ${exitCode}), but not with "doesn't have a proper root mount"`);
  return `plain criu dump fails (exit ${exitCode}): ${line.trim()}`;
}

/**
 * The seed's counter (no token: a restart counts from 1 again) restored into an empty folder. Its
 * first value there must be past the value at checkpoint — a restarted loop would write 1 first — and
 * it must still be counting later. `atCheckpoint` must be well past 1 for a restart to be told apart.
 */
export function checkCountContinued(atCheckpoint: number, first: number, later: number): string {
  if (atCheckpoint < 3)
    fail(`the counter was at ${atCheckpoint} at checkpoint: too close to 1 to tell a restore from a restart`);
  if (first <= atCheckpoint) {
    fail(
      `after restore the counter started at ${first}, not past ${atCheckpoint} at checkpoint: the process ${first === 1 ? 'restarted from 1' : 'did not continue'}`,
    );
  }
  if (later <= first)
    fail(`after restore the counter stopped at ${first} (still ${later} later): the restored process is not running`);
  return `counter ${atCheckpoint} at checkpoint, ${first} first after restore, ${later} later: it continued, it did not restart from 1`;
}

/** A counterLoop counter after restore or migration: the same process token, a higher number. */
export function checkTokenContinued(before: TokenCount, now: TokenCount, where: string): string {
  const short = (t: string) => t.slice(0, 8);
  if (now.token !== before.token)
    fail(
      `${where}: the counter has a new process token (${short(now.token)}, was ${short(before.token)}): the process restarted, it was not restored`,
    );
  if (now.n <= before.n)
    fail(`${where}: the counter is at ${now.n}, not past ${before.n}: the process did not continue`);
  return `${where}: counter ${now.n} (was ${before.n}), same process token ${short(now.token)}: it continued, it did not restart`;
}

/** A value the demo shows must be the one it expects. */
export function checkEqual(what: string, expected: string, actual: string): string {
  if (actual !== expected) fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  return `${what}: ${actual}`;
}

/** A list that must be empty (host mounts lost, containers left behind). */
export function checkNone(what: string, items: readonly unknown[]): string {
  if (items.length > 0) fail(`${what}: ${JSON.stringify(items)}`);
  return `${what}: none`;
}

/** The pid `extmount restore` printed: a positive integer and nothing else. */
export function parsePid(stdout: string): number {
  const m = /^([1-9]\d*)\n?$/.exec(stdout.trim());
  if (!m) fail(`extmount restore printed ${JSON.stringify(stdout)}, not a pid`);
  return Number(m[1]);
}
