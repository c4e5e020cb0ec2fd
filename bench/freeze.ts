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

interface Event {
  t: number;
  who: string;
  verb: string;
}

export async function benchFreeze(options: { runs?: number } = {}): Promise<BenchRow[]> {
  const runs = options.runs ?? 6;
  const sandbox = await hostSandbox('extmount-freeze-');
  let daemon: Daemon | undefined;
  try {
    const log = join(sandbox.dir, 'calls.log');
    const scripts = {
      ours: join(sandbox.dir, 'trace-ours'),
      runc: join(sandbox.dir, 'trace-runc'),
      real: join(sandbox.dir, 'trace-real'),
      runcReal: join(sandbox.dir, 'trace-runc-real'),
    };
    // Two tracers on each side, so that both pay the same for them: ours → the wrapper → real → runc, and
    // runc → runc-real → runc. What differs is the wrapper alone.
    await writeFile(scripts.ours, tracer(log, 'ours', WRAPPER));
    await writeFile(scripts.runc, tracer(log, 'runc', scripts.runcReal));
    await writeFile(scripts.real, tracer(log, 'real', 'runc'));
    await writeFile(scripts.runcReal, tracer(log, 'runc-real', 'runc'));
    for (const s of Object.values(scripts)) await chmod(s, 0o755);
    const config = await writeTestConfig(sandbox.dir, { runc: scripts.real });
    daemon = await startRuntimeDaemon('freeze', {
      config,
      dir: sandbox.dir,
      runtimes: { 'trace-ours': scripts.ours, 'trace-runc': scripts.runc },
    });
    const data = join(sandbox.dir, 'data');
    await mkdir(data);
    const hold = `awk 'BEGIN { s = sprintf("%${16 * 1024 * 1024}s", ""); while (1) system("sleep 1") }'`;
    for (const rt of ['ours', 'runc'])
      await runDetached(daemon, [
        '--name',
        rt,
        '--runtime',
        `trace-${rt}`,
        '-v',
        `${data}:/data`,
        TEST_IMAGE,
        'sh',
        '-c',
        hold,
      ]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const freeze: Record<string, number[]> = { ours: [], runc: [] };
    const gap: Record<string, number[]> = { ours: [], runc: [] };
    const handler: number[] = [];
    const prepare: number[] = [];
    for (let i = 0; i < 1 + runs; i++) {
      for (const rt of ['ours', 'runc']) {
        await writeFile(log, '');
        await daemon.cli(['checkpoint', 'create', '--leave-running', rt, `c${i}`]);
        const events: Event[] = (await readFile(log, 'utf8'))
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
        if (i === 0) continue;
        // The freeze starts when runc pause runs and ends when runc resume runs: for extmount, as the real
        // runc behind the wrapper is called (the wrapper prepares the checkpoint before it execs runc pause,
        // while the task still runs, and its own time on resume counts).
        const runc = rt === 'ours' ? 'real' : 'runc-real';
        freeze[rt]!.push(at(runc, 'resume') - at(runc, 'pause'));
        gap[rt]!.push(at(rt, 'checkpoint') - at(runc, 'pause'));
        if (rt === 'ours') {
          handler.push(at('real', 'checkpoint') - at('ours', 'checkpoint'));
          prepare.push(at('real', 'pause') - at('ours', 'pause'));
        }
      }
    }
    return [
      {
        case: 'dockerd: the freeze (runtime pause → resume), 16 MiB, one bind',
        ms: median(freeze.ours!),
        baselineMs: median(freeze.runc!),
        baseline: 'the same under runc',
        goal: '≤ 1.05×',
        runs,
      },
      {
        case: '  of it: runc pause → checkpoint called (containerd)',
        ms: median(gap.ours!),
        baselineMs: median(gap.runc!),
        baseline: 'the same under runc',
        goal: '(report)',
        runs,
      },
      {
        case: '  of it: checkpoint called → runc checkpoint (wrapper, or wrapper + handler)',
        ms: median(handler),
        goal: '(report)',
        runs,
      },
      {
        case: 'before it: pause called → runc pause (the analysis prepared on pause)',
        ms: median(prepare),
        goal: '(report)',
        runs,
      },
    ];
  } finally {
    await daemon?.cli(['rm', '-f', 'ours', 'runc'], { reject: false });
    await daemon?.stop();
    await sandbox.cleanup();
  }
}
