// Benchmark: the runtime handler's checkpoint against the size of the host's mount table (issue 26, item 4).
//
// The handler reads the mount table of its own mount namespace (/proc/self/mountinfo: the namespace of
// whoever runs the runtime, i.e. containerd's shim, the host's). On a Kubernetes node that table holds
// thousands of mounts (a tmpfs per projected volume, an overlay per container, binds). To grow it without
// touching the host, each size gets its own mount namespace (unshare -m, private: nothing it mounts reaches
// the host), with / made shared in it as on a systemd host, a tmpfs and N bind mounts on it; the wrapper is
// run inside that namespace (nsenter), on a container of the bench's own dockerd (bind + propagated mount),
// as `runc checkpoint --leave-running`. The sizes take turns, so drift in the machine's load hits all alike.
// What is compared is the handler's own time until it calls runc (its runtime.log), and the whole call.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import type { Daemon } from '../test/helpers/dockerd.js';
import { TEST_IMAGE, runDetached } from '../test/helpers/dockerd.js';
import { hostSandbox, startRuntimeDaemon, WRAPPER, writeTestConfig } from '../test/helpers/e2e.js';
import { containerStateDir } from '../src/core/runtime/runtime-files.js';
import { median } from './measure.js';
import { runtimeRoot } from './runtime.js';
import type { BenchRow } from './run.js';

// Mounts `count` binds of DIR/src on a tmpfs at DIR (inside the namespace it runs in); two mount(8) at a time.
const MAKE_MOUNTS = String.raw`set -e
mount --make-rshared /
mount -t tmpfs -o size=4m extmount-scale "$1"
mkdir "$1/src" "$1/m"
i=0
while [ "$i" -lt "$2" ]; do mkdir "$1/m/$i"; i=$((i + 1)); done
[ "$2" -eq 0 ] || seq 0 $(($2 - 1)) | xargs -P2 -I{} mount --bind "$1/src" "$1/m/{}"
`;

interface Namespace {
  count: number;
  holder: number;
  stop(): void;
}

/** A mount namespace kept alive by a `sleep` in it, private from the host, with `count` extra mounts. */
async function mountNamespace(dir: string, count: number): Promise<Namespace> {
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '1000000'], { stdio: 'ignore' });
  const holder = child.pid!;
  const own = await readlinkNs('self');
  for (let i = 0; i < 100 && (await readlinkNs(String(holder))) === own; i++)
    await new Promise((r) => setTimeout(r, 20));
  if ((await readlinkNs(String(holder))) === own) throw new Error('unshare -m: no new mount namespace');
  const where = join(dir, `scale-${count}`);
  await mkdir(where, { recursive: true });
  await execa('nsenter', ['-t', String(holder), '-m', '--', 'sh', '-c', MAKE_MOUNTS, 'sh', where, String(count)]);
  const lines = (await readFile(`/proc/${holder}/mountinfo`, 'utf8')).trimEnd().split('\n').length;
  if (lines < count) throw new Error(`namespace for ${count} mounts shows ${lines}`);
  return { count, holder, stop: () => child.kill('SIGKILL') };
}

async function readlinkNs(pid: string): Promise<string> {
  return execa('readlink', [`/proc/${pid}/ns/mnt`]).then((r) => r.stdout);
}

export async function benchScale(options: { counts?: number[]; runs?: number } = {}): Promise<BenchRow[]> {
  const counts = options.counts ?? [0, 1000, 5000];
  const runs = options.runs ?? 8;
  const sandbox = await hostSandbox('extmount-scale-');
  const namespaces: Namespace[] = [];
  let daemon: Daemon | undefined;
  let sub: string | undefined;
  try {
    const config = await writeTestConfig(sandbox.dir);
    daemon = await startRuntimeDaemon('scale', { config, dir: sandbox.dir });
    const [data, prop, disk2] = ['data', 'prop', 'disk2'].map((d) => join(sandbox.dir, d)) as [string, string, string];
    for (const d of [data, prop, disk2]) await mkdir(d, { recursive: true });
    await execa('mount', ['--bind', prop, prop]);
    await execa('mount', ['--make-shared', prop]);
    await runDetached(daemon, [
      '--name',
      'scale',
      '--runtime',
      'extmount',
      '-v',
      `${data}:/data`,
      '-v',
      `${prop}:/prop:rslave`,
      TEST_IMAGE,
      'sleep',
      '1000000',
    ]);
    sub = join(prop, 'sub');
    await mkdir(sub, { recursive: true });
    await execa('mount', ['--bind', disk2, sub]);
    const id = (await daemon.docker.getContainer('scale').inspect()).Id;
    const root = await runtimeRoot(daemon, id);
    for (const count of counts) namespaces.push(await mountNamespace(sandbox.dir, count));

    const log = join(containerStateDir(join(sandbox.dir, 'state'), id), 'runtime.log');
    const images = join(sandbox.dir, 'images');
    // Per size: the handler's time until runc, and its parts (start, state, analysis, writes).
    const handler = new Map<number, number[][]>(counts.map((c) => [c, []]));
    const whole = new Map<number, number[]>(counts.map((c) => [c, []]));
    const warmup = 1;
    for (let i = 0; i < warmup + runs; i++) {
      for (const ns of namespaces) {
        await rm(images, { recursive: true, force: true });
        const start = performance.now();
        await execa(
          'nsenter',
          [
            '-t',
            String(ns.holder),
            '-m',
            '--',
            WRAPPER,
            '--root',
            root,
            'checkpoint',
            '--leave-running',
            '--image-path',
            images,
            '--work-path',
            images,
            id,
          ],
          {
            env: { EXTMOUNT_CONFIG: config },
          },
        );
        const elapsed = performance.now() - start;
        const calls = [
          ...(await readFile(log, 'utf8')).matchAll(
            /runc called (\d+) ms after Node\.js started \(start (\d+), state (\d+), analysis (\d+), writes (\d+)\)/g,
          ),
        ];
        if (calls.length === 0) throw new Error(`no "runc called" line in ${log}`);
        if (i < warmup) continue;
        handler.get(ns.count)!.push(calls.at(-1)!.slice(1).map(Number));
        whole.get(ns.count)!.push(elapsed);
      }
    }
    // For reference: `runc state` in each namespace (runc 1.1 reads the whole host table for it; the handler reads runc's files instead).
    const runcState = new Map<number, number[]>(counts.map((c) => [c, []]));
    for (let i = 0; i < warmup + runs * 2; i++) {
      for (const ns of namespaces) {
        const start = performance.now();
        await execa('nsenter', ['-t', String(ns.holder), '-m', '--', 'runc', '--root', root, 'state', id]);
        if (i >= warmup) runcState.get(ns.count)!.push(performance.now() - start);
      }
    }
    const base = counts[0]!;
    const part = (count: number, i: number) => median(handler.get(count)!.map((p) => p[i]!));
    const parts = [
      'Node.js, modules, config',
      "the container's state (runc's state.json)",
      'reads and analysis',
      'CRIU config and manifest written',
    ];
    return counts.slice(1).flatMap((count): BenchRow[] => [
      {
        case: `runtime handler until it calls runc, ${count} extra host mounts`,
        ms: part(count, 0),
        baselineMs: part(base, 0),
        baseline: `${base} extra`,
        goal: count >= 5000 ? '≤ 1.2×' : '(report)',
        runs,
      },
      ...parts.map((what, i): BenchRow => ({
        case: `  of which: ${what}`,
        ms: part(count, i + 1),
        baselineMs: part(base, i + 1),
        baseline: `${base} extra`,
        goal: '(report)',
        runs,
      })),
      {
        case: `  runc state alone (nsenter + runc, for reference), ${count} extra host mounts`,
        ms: median(runcState.get(count)!),
        baselineMs: median(runcState.get(base)!),
        baseline: `${base} extra`,
        goal: '(report)',
        runs: runs * 2,
      },
      {
        case: `runc checkpoint --leave-running through the wrapper, ${count} extra host mounts`,
        ms: median(whole.get(count)!),
        baselineMs: median(whole.get(base)!),
        baseline: `${base} extra`,
        goal: '(report)',
        runs,
      },
    ]);
  } finally {
    for (const ns of namespaces) ns.stop();
    await daemon?.cli(['rm', '-f', 'scale'], { reject: false });
    if (sub) await execa('umount', [sub], { reject: false });
    await daemon?.stop();
    await sandbox.cleanup();
  }
}
