// Shared by the benchmarks: run a case several times and keep the median.
import { performance } from 'node:perf_hooks';

export interface Measurement {
  medianMs: number;
  runs: number;
}

export async function measure(
  run: () => unknown,
  options: { warmup?: number; runs?: number } = {},
): Promise<Measurement> {
  const warmup = options.warmup ?? 3;
  const runs = options.runs ?? 15;
  const timings: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const start = performance.now();
    await run();
    const elapsed = performance.now() - start;
    if (i >= warmup) timings.push(elapsed);
  }
  return { medianMs: median(timings), runs };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Times `a` and `b` alternately, so drift in the machine's load hits both alike. */
export async function paired(
  runs: number,
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  warmup = 2,
): Promise<[number, number]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    for (const [run, times] of [
      [a, ta],
      [b, tb],
    ] as const) {
      const start = performance.now();
      await run();
      if (i >= warmup) times.push(performance.now() - start);
    }
  }
  return [median(ta), median(tb)];
}
