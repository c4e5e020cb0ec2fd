// Benchmarks of the runtime wrapper and of Docker checkpoint/restore through it, each against its
// baseline in the same run: runc itself, and plain `docker checkpoint create`/`start --checkpoint`.
import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Daemon } from '../test/helpers/dockerd.js';
import { TEST_IMAGE, runDetached } from '../test/helpers/dockerd.js';
import { hostSandbox, startRuntimeDaemon, WRAPPER, writeTestConfig } from '../test/helpers/e2e.js';
import { performance } from 'node:perf_hooks';
import { containerStateDir } from '../src/core/runtime/runtime-files.js';
import { median, paired } from './measure.js';
import type { BenchRow } from './run.js';

/** runc's --root for a container: dockerd 20.10 uses <exec-root>/runtime-runc/moby for every runc-like runtime. */
export async function runtimeRoot(daemon: Daemon, id: string): Promise<string> {
  for (const runtimeDir of (await readdir(daemon.execRoot)).filter((d) => d.startsWith('runtime-'))) {
    for (const ns of await readdir(join(daemon.execRoot, runtimeDir))) {
      const root = join(daemon.execRoot, runtimeDir, ns);
      if ((await readdir(root)).includes(id)) return root;
    }
  }
  throw new Error(`no runc state for ${id} under ${daemon.execRoot}`);
}

export async function benchRuntime(options: { memories: number[]; runs: number }): Promise<BenchRow[]> {
  const sandbox = await hostSandbox('extmount-bench-');
  const rows: BenchRow[] = [];
  let daemon: Daemon | undefined;
  try {
    const config = await writeTestConfig(sandbox.dir);
    daemon = await startRuntimeDaemon('bench', { config, dir: sandbox.dir });
    const d = daemon;
    const docker = (args: string[]) => d.cli(args);

    // 1. Passthrough: a verb the wrapper does not handle, on a running container.
    await runDetached(daemon, ['--name', 'idle', '--runtime', 'extmount', TEST_IMAGE, 'sleep', '100000']);
    const id = (await d.docker.getContainer('idle').inspect()).Id;
    const root = await runtimeRoot(d, id);
    const [wrapped, direct] = await paired(
      options.runs * 10,
      () => execa(WRAPPER, ['--root', root, 'state', id]),
      () => execa('runc', ['--root', root, 'state', id]),
    );
    rows.push({
      case: 'runc state ID through hooks/extmount-runc',
      ms: wrapped,
      baselineMs: direct,
      baseline: 'runc state ID',
      goal: '≤ 1.05×',
      runs: options.runs * 10,
    });
    const [lifeWrapped, lifeDirect] = await paired(
      options.runs,
      () => docker(['run', '--rm', '--network', 'none', '--runtime', 'extmount', TEST_IMAGE, 'true']),
      () => docker(['run', '--rm', '--network', 'none', '--runtime', 'runc', TEST_IMAGE, 'true']),
    );
    rows.push({
      case: 'docker run --rm … true (create/start/kill/delete)',
      ms: lifeWrapped,
      baselineMs: lifeDirect,
      baseline: 'runtime runc',
      goal: '≤ 1.05×',
      runs: options.runs,
    });

    // 2 and 3. Checkpoint and restore: bind + propagated mount through extmount vs bind only with runc.
    const data = join(sandbox.dir, 'data');
    const prop = join(sandbox.dir, 'prop');
    const disk2 = join(sandbox.dir, 'disk2');
    for (const dir of [data, prop, disk2]) await mkdir(dir, { recursive: true });
    await execa('mount', ['--bind', prop, prop]);
    await execa('mount', ['--make-shared', prop]);
    rows.push(
      ...(await sameContainerCheckpoint(d, { config, dir: sandbox.dir, data, prop, disk2, runs: options.runs * 2 })),
    );

    for (const mib of options.memories) {
      const hold = `awk 'BEGIN { s = sprintf("%${mib * 1024 * 1024}s", ""); while (1) system("sleep 1") }'`;
      const ours = `ours${mib}`;
      const base = `base${mib}`;
      await runDetached(daemon, [
        '--name',
        ours,
        '--runtime',
        'extmount',
        '-v',
        `${data}:/data`,
        '-v',
        `${prop}:/prop:rslave`,
        TEST_IMAGE,
        'sh',
        '-c',
        hold,
      ]);
      await runDetached(daemon, [
        '--name',
        base,
        '--runtime',
        'runc',
        '-v',
        `${data}:/data`,
        TEST_IMAGE,
        'sh',
        '-c',
        hold,
      ]);
      const sub = join(prop, 'sub');
      await mkdir(sub, { recursive: true });
      await execa('mount', ['--bind', disk2, sub]).catch(() => undefined); // once for all sizes
      await new Promise((resolve) => setTimeout(resolve, 1000 + mib * 4)); // let awk fill its memory
      const checkpoints: number[][] = [[], []];
      const restores: number[][] = [[], []];
      for (let i = 0; i < options.runs; i++) {
        for (const [n, name] of [ours, base].entries()) {
          let start = performance.now();
          await docker(['checkpoint', 'create', name, `cp${i}`]);
          checkpoints[n]!.push(performance.now() - start);
          start = performance.now();
          await startWithRetry(d, name, `cp${i}`);
          restores[n]!.push(performance.now() - start);
        }
      }
      rows.push({
        case: `docker checkpoint create, ${mib} MiB dirty, bind + propagated mount`,
        ms: median(checkpoints[0]!),
        baselineMs: median(checkpoints[1]!),
        baseline: 'another container, bind only, runc',
        goal: '(report)',
        runs: options.runs,
      });
      rows.push({
        case: `docker start --checkpoint, ${mib} MiB dirty, bind + propagated mount`,
        ms: median(restores[0]!),
        baselineMs: median(restores[1]!),
        baseline: 'another container, bind only, runc',
        goal: '(report)',
        runs: options.runs,
      });
      await docker(['rm', '-f', ours, base]);
    }
  } finally {
    await daemon?.stop();
    await sandbox.cleanup();
  }
  return rows;
}

/**
 * The checkpoint goal (issue 12: ≤ 1.05×), on one container (bind + propagated mount, 16 MiB) with both
 * sides doing the same CRIU work: hooks/extmount-runc against runc given, by hand, the very CRIU config
 * the wrapper writes for it (CRIU_CONFIG_FILE, as a user would without extmount). `--leave-running`, so
 * the same container is checkpointed by both sides in turn. What the ratio shows is the wrapper's own
 * cost: the shim, Node's start and the mount analysis, all of which sit inside the container's freeze
 * under dockerd (containerd pauses the task before calling the runtime).
 */
async function sameContainerCheckpoint(
  d: Daemon,
  o: { config: string; dir: string; data: string; prop: string; disk2: string; runs: number },
): Promise<BenchRow[]> {
  const hold = `awk 'BEGIN { s = sprintf("%${16 * 1024 * 1024}s", ""); while (1) system("sleep 1") }'`;
  await runDetached(d, [
    '--name',
    'same16',
    '--runtime',
    'extmount',
    '-v',
    `${o.data}:/data`,
    '-v',
    `${o.prop}:/prop:rslave`,
    TEST_IMAGE,
    'sh',
    '-c',
    hold,
  ]);
  const sub = join(o.prop, 'sub');
  await mkdir(sub, { recursive: true });
  await execa('mount', ['--bind', o.disk2, sub]);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const id = (await d.docker.getContainer('same16').inspect()).Id;
  const root = await runtimeRoot(d, id);
  const images = join(o.dir, 'same-images');
  const env = { EXTMOUNT_CONFIG: o.config };
  const checkpoint = async (cmd: string, extraEnv: Record<string, string>) => {
    await rm(images, { recursive: true, force: true });
    await execa(
      cmd,
      ['--root', root, 'checkpoint', '--leave-running', '--image-path', images, '--work-path', images, id],
      { env: extraEnv },
    );
  };
  await checkpoint(WRAPPER, env);
  const written = await findFile(join(o.dir, 'state'), 'criu-dump.conf');
  if (!written) throw new Error('the wrapper wrote no criu-dump.conf: nothing to hand runc');
  const handConfig = join(o.dir, 'by-hand.conf');
  await copyFile(written, handConfig);
  const [ours, byHand] = await paired(
    o.runs,
    () => checkpoint(WRAPPER, env),
    () => checkpoint('runc', { CRIU_CONFIG_FILE: handConfig }),
  );
  await d.cli(['rm', '-f', 'same16']);
  await execa('umount', [sub]);
  // Where the wrapper's extra time goes: the handler logs when it called runc, counted from Node's
  // own start; Node's bare start (to the first line of user code) is measured beside it.
  const log = await readFile(join(containerStateDir(join(o.dir, 'state'), id), 'runtime.log'), 'utf8');
  const calls = [
    ...log.matchAll(
      /runc called (\d+) ms after Node\.js started \(start (\d+), state (\d+), analysis (\d+), writes (\d+)\)/g,
    ),
  ].map((m) => m.slice(1).map(Number));
  const handler = calls.map((c) => c[0]!);
  const part = (i: number) => median(calls.map((c) => c[i]!));
  const nodeStart: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    nodeStart.push(
      Number((await execa(process.execPath, ['-e', 'process.stdout.write(String(performance.now()))'])).stdout),
    );
  }
  return [
    {
      case: 'runc checkpoint --leave-running, 16 MiB, bind + propagated mount (same container)',
      ms: ours,
      baselineMs: byHand,
      baseline: 'runc + the same CRIU config by hand',
      goal: '≤ 1.05×',
      runs: o.runs,
    },
    {
      case: 'of it: the handler until it calls runc (from Node.js start, its runtime.log)',
      ms: median(handler),
      baselineMs: median(nodeStart),
      baseline: "Node.js's own start (node -e, to user code)",
      goal: '(report)',
      runs: handler.length,
    },
    ...(
      [
        [1, "Node.js, the handler's modules and its config"],
        [2, "the container's state (runc's state.json)"],
        [3, 'reads and analysis (bundle, mount tables, engine files)'],
        [4, 'CRIU config and manifest written'],
      ] as const
    ).map(([i, what]): BenchRow => ({
      case: `  of which: ${what}`,
      ms: part(i),
      goal: '(report)',
      runs: calls.length,
    })),
  ];
}

async function findFile(dir: string, name: string): Promise<string | undefined> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name === name) return join(entry.parentPath, entry.name);
  }
  return undefined;
}

/** dockerd 20.10 + containerd 1.6 sometimes refuse the first start after a checkpoint ("already exists"). */
export async function startWithRetry(daemon: Daemon, name: string, checkpoint: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await daemon.cli(['start', '--checkpoint', checkpoint, name], { reject: false });
    if (r.exitCode === 0) return;
    if (attempt >= 5 || !/already exists/.test(r.stderr))
      throw new Error(`docker start --checkpoint ${checkpoint} ${name}: ${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
