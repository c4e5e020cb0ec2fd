// Benchmark: where the container's freeze starts under dockerd and what extmount adds inside it (issue 26, item 1).
//
// containerd's client (dockerd, the CRI) pauses the task, asks the runtime to checkpoint, and resumes it
// (client task.Checkpoint: Pause, then the request, then a deferred Resume): the freeze runs from the
// runtime's `pause` to its `resume`, and all the handler does before it calls runc falls inside it. The
// wrapper prepares the checkpoint on `pause` before it execs runc pause (docs/docker-runtime.md).
// Each runtime call is logged with its time by a bash tracer in front of the runtime (EPOCHREALTIME: no
// fork), and the real runc behind the wrapper by another (the config's "runc"), so the log shows
// pause → checkpoint → (the handler's runc checkpoint) → resume. Baseline: the same container shape with
// runc behind the same tracer, in the same run, turns taken.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Daemon } from '../test/helpers/dockerd.js';
import { TEST_IMAGE, runDetached } from '../test/helpers/dockerd.js';
import { hostSandbox, startRuntimeDaemon, WRAPPER, writeTestConfig } from '../test/helpers/e2e.js';
import { median } from './measure.js';
import type { BenchRow } from './run.js';

/** A runtime in front of `target` that logs "<time> <name> <verb>" to `log`. */
function tracer(log: string, name: string, target: string): string {
  return `#!/bin/bash
verb= skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  case $a in --root|--log|--log-format|--criu) skip=1 ;; -*) ;; *) verb=$a; break ;; esac
done
echo "$EPOCHREALTIME ${name} $verb" >> '${log}'
exec '${target}' "$@"
`;
}

/** The tracers' scripts: `ours` in front of the wrapper, `runc` in front of runc; `real` is the wrapper's runc. */
export interface Tracers {
  log: string;
  ours: string;
  runc: string;
  real: string;
  runcReal: string;
}

/**
 * Two tracers on each side, so that both pay the same for them: ours → `wrapper` → real → runc, and
 * runc → runc-real → runc. What differs is the wrapper alone.
 */
export async function writeTracers(dir: string, wrapper: string): Promise<Tracers> {
  const log = join(dir, 'calls.log');
  const scripts = {
    ours: join(dir, 'trace-ours'),
    runc: join(dir, 'trace-runc'),
    real: join(dir, 'trace-real'),
    runcReal: join(dir, 'trace-runc-real'),
  };
  await writeFile(scripts.ours, tracer(log, 'ours', wrapper));
  await writeFile(scripts.runc, tracer(log, 'runc', scripts.runcReal));
  await writeFile(scripts.real, tracer(log, 'real', 'runc'));
  await writeFile(scripts.runcReal, tracer(log, 'runc-real', 'runc'));
  for (const s of Object.values(scripts)) await chmod(s, 0o755);
  return { log, ...scripts };
}

/** The container's process: 16 MiB of dirty memory held while it sleeps. */
export const HOLD_16_MIB = `awk 'BEGIN { s = sprintf("%${16 * 1024 * 1024}s", ""); while (1) system("sleep 1") }'`;

export type Side = 'ours' | 'runc';

/** What the tracers' log says of each checkpoint, collected per side; `rows` gives the medians. */
export class FreezeSamples {
  private readonly freeze: Record<Side, number[]> = { ours: [], runc: [] };
  private readonly gap: Record<Side, number[]> = { ours: [], runc: [] };
  private readonly handler: number[] = [];
  private readonly prepare: number[] = [];

  /** Reads the log of one checkpoint of `side`'s container. */
  async add(log: string, side: Side): Promise<void> {
    const events = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => {
        const [t, who, verb] = line.split(' ');
        return { t: Number(t) * 1000, who: who!, verb: verb ?? '' };
      });
    const at = (who: string, verb: string) => {
      const e = events.find((x) => x.who === who && x.verb === verb);
      if (!e) throw new Error(`no ${who} ${verb} in ${events.map((x) => `${x.who}:${x.verb}`).join(' ')}`);
      return e.t;
    };
    // The freeze starts when runc pause runs and ends when runc resume runs: for extmount, as the real
    // runc behind the wrapper is called (the wrapper prepares the checkpoint before it execs runc pause,
    // while the task still runs, and its own time on resume counts).
    const runc = side === 'ours' ? 'real' : 'runc-real';
    this.freeze[side].push(at(runc, 'resume') - at(runc, 'pause'));
    this.gap[side].push(at(side, 'checkpoint') - at(runc, 'pause'));
    if (side === 'ours') {
      this.handler.push(at('real', 'checkpoint') - at('ours', 'checkpoint'));
      this.prepare.push(at('real', 'pause') - at('ours', 'pause'));
    }
  }

  /** The rows, each case named after `engine` ("dockerd", "CRI"). */
  rows(engine: string, runs: number): BenchRow[] {
    return [
      {
        case: `${engine}: the freeze (runtime pause → resume), 16 MiB, one bind`,
        ms: median(this.freeze.ours),
        baselineMs: median(this.freeze.runc),
        baseline: 'the same under runc',
        goal: '≤ 1.05×',
        runs,
      },
      {
        case: '  of it: runc pause → checkpoint called (containerd)',
        ms: median(this.gap.ours),
        baselineMs: median(this.gap.runc),
        baseline: 'the same under runc',
        goal: '(report)',
        runs,
      },
      {
        case: '  of it: checkpoint called → runc checkpoint (wrapper, or wrapper + handler)',
        ms: median(this.handler),
        goal: '(report)',
        runs,
      },
      {
        case: 'before it: pause called → runc pause (the analysis prepared on pause)',
        ms: median(this.prepare),
        goal: '(report)',
        runs,
      },
    ];
  }
}

export async function benchFreeze(options: { runs?: number } = {}): Promise<BenchRow[]> {
  // 12 a side: runc's own freeze moves by tens of ms between checkpoints, and the goal is 5 %.
  const runs = options.runs ?? 12;
  const sandbox = await hostSandbox('extmount-freeze-');
  let daemon: Daemon | undefined;
  try {
    const tracers = await writeTracers(sandbox.dir, WRAPPER);
    const config = await writeTestConfig(sandbox.dir, { runc: tracers.real });
    daemon = await startRuntimeDaemon('freeze', {
      config,
      dir: sandbox.dir,
      runtimes: { 'trace-ours': tracers.ours, 'trace-runc': tracers.runc },
    });
    const data = join(sandbox.dir, 'data');
    await mkdir(data);
    const sides: Side[] = ['ours', 'runc'];
    for (const side of sides)
      await runDetached(daemon, [
        '--name',
        side,
        '--runtime',
        `trace-${side}`,
        '-v',
        `${data}:/data`,
        TEST_IMAGE,
        'sh',
        '-c',
        HOLD_16_MIB,
      ]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const samples = new FreezeSamples();
    for (let i = 0; i < 1 + runs; i++) {
      for (const side of sides) {
        await writeFile(tracers.log, '');
        await daemon.cli(['checkpoint', 'create', '--leave-running', side, `c${i}`]);
        if (i > 0) await samples.add(tracers.log, side);
      }
    }
    return samples.rows('dockerd', runs);
  } finally {
    await daemon?.cli(['rm', '-f', 'ours', 'runc'], { reject: false });
    await daemon?.stop();
    await sandbox.cleanup();
  }
}
