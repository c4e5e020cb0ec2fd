// Two private dockerd ("host a", "host b") with counters that say which process wrote them: the migrate tests' bed.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runCli } from './cli.js';
import {
  importTestImage,
  killEngine,
  removeTestDir,
  runDetached,
  startDaemon,
  TEST_IMAGE,
  type Daemon,
  type DaemonOptions,
} from './dockerd.js';
import { WRAPPER, counterLoop } from './e2e.js';
import { parentOf, processState, processes } from './processes.js';
import { waitFor } from './wait.js';

/**
 * A counter that says which process wrote it: "<token> <n>"; a restarted process has a new token. It ends
 * on SIGTERM as a service does: a shell as a container's pid 1 ignores it otherwise, and an engine that
 * stops then waits the full stop timeout (10 s) for every such container before it kills it.
 */
export const COUNTER_SCRIPT = [
  'trap "exit 143" TERM',
  'echo hello > /root/new.txt',
  'rm /etc/group',
  'mkdir -p /newdir/sub && echo x > /newdir/sub/f',
  'echo in-volume > /vol/v.txt',
  'echo in-shm > /dev/shm/seg',
  counterLoop('/data/counter'),
].join('; ');

export interface Counter {
  token: string;
  n: number;
}

export interface CounterContainer {
  src: string;
  dst: string;
  id: string;
}

const TEST_WINDOW = ['--verify-window', '1s'];

/** ARGS of migrateArgs without the bed's shorter window: migrate's default applies. */
export function withDefaultWindow(args: string[]): string[] {
  const at = args.indexOf(TEST_WINDOW[0]!);
  return at >= 0 && args[at + 1] === TEST_WINDOW[1] ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
}

export class MigrateBed {
  a!: Daemon;
  b!: Daemon;
  base!: string;
  config!: string;
  /** --live=postcopy: the containers run under the extmount runtime on every engine of the bed, migrate moves them with post-copy. */
  live = false;
  /** How the bed's engines are started (the same again for a restart). */
  daemonOptions: DaemonOptions = {};

  /** Both daemons, the test image on a only (the first migration carries it to b), a config that allows the bed's paths. */
  async start(prefix: string, options: { live?: boolean } = {}): Promise<void> {
    this.base = await mkdtemp(join(tmpdir(), prefix));
    this.live = options.live === true;
    this.config = join(this.base, 'config.json');
    // The runtime on each engine reads the same config (EXTMOUNT_CONFIG, through dockerd, containerd and the shim): one state dir.
    await writeFile(
      this.config,
      JSON.stringify({
        ...(this.live ? { stateDir: join(this.base, 'state') } : {}),
        hostPaths: {
          allow: [],
          deny: ['/', '/etc', '/proc', '/sys', '/dev', '/boot', '/run', '/var/run', '/var/lib/docker'],
        },
      }),
    );
    this.daemonOptions = {
      baseDir: this.base,
      ...(this.live ? { runtimes: { extmount: WRAPPER }, env: { EXTMOUNT_CONFIG: this.config } } : {}),
    };
    [this.a, this.b] = await Promise.all([startDaemon('a', this.daemonOptions), startDaemon('b', this.daemonOptions)]);
    await importTestImage(this.a);
  }

  async stop(extra: Array<Daemon | undefined> = []): Promise<void> {
    await Promise.all([this.a?.stop(), this.b?.stop(), ...extra.map((d) => d?.stop())]);
    if (!this.base) return;
    await removeTestDir(this.base);
  }

  /**
   * SRC and DST stand for /srv/a on host a and /srv/b on host b: the same storage (say one NFS
   * export) at two paths, so DST is a bind mount of SRC. It has to be the same data: CRIU reopens
   * the files the process had open by path and checks their size (a checkpoint that caught the
   * shell inside `echo > /data/counter` does not restore over a copy: "File data/counter has bad
   * size 9 (expect 0)"). Storage that is not shared is what --copy-binds is for.
   */
  async sharedStorage(src: string, dst: string): Promise<void> {
    await mkdir(src, { recursive: true });
    await mkdir(dst, { recursive: true });
    await execa('mount', ['--bind', src, dst]);
  }

  /** A busybox counter on a, with a bind SRC (standing for /srv/a), a named volume and the writable-layer changes. */
  async startCounter(name: string, extra: string[] = []): Promise<CounterContainer> {
    const src = join(this.base, 'srv', name, 'a');
    const dst = join(this.base, 'srv', name, 'b');
    await this.sharedStorage(src, dst);
    await this.a.cli(['volume', 'create', `${name}-vol`]);
    const runtime = this.live ? ['--runtime', 'extmount'] : [];
    const id = await runDetached(this.a, [
      '--name',
      name,
      '--restart',
      'unless-stopped',
      ...runtime,
      '-v',
      `${src}:/data`,
      '-v',
      `${name}-vol:/vol`,
      ...extra,
      TEST_IMAGE,
      'sh',
      '-c',
      COUNTER_SCRIPT,
    ]);
    await waitFor(`${name} counting`, async () => ((await readCounter(src))?.n ?? 0) >= 3, 10_000);
    return { src, dst, id };
  }

  migrateArgs(name: string, src: string, dst: string, extra: string[] = [], to: Daemon = this.b): string[] {
    return [
      '--config',
      this.config,
      'migrate',
      name,
      '--from',
      this.a.host,
      '--to',
      to.host,
      '--map',
      `${src}=${dst}`,
      ...(this.live ? ['--live=postcopy'] : []),
      // Shorter than migrate's default (2 s), which costs every run a second without testing more; a test
      // may pass its own, or drop it (withDefaultWindow).
      ...(extra.includes('--verify-window') ? [] : TEST_WINDOW),
      ...extra,
    ];
  }

  async state(daemon: Daemon, name: string): Promise<{ running: boolean; pid: number; id: string } | undefined> {
    try {
      const info = await daemon.docker.getContainer(name).inspect();
      return { running: info.State.Running, pid: info.State.Pid, id: info.Id };
    } catch {
      return undefined;
    }
  }

  /** Where the container runs now; never both. */
  async whereRunning(name: string, to: Daemon = this.b): Promise<Array<'a' | 'b'>> {
    const out: Array<'a' | 'b'> = [];
    if ((await this.state(this.a, name))?.running) out.push('a');
    if ((await this.state(to, name))?.running) out.push('b');
    return out;
  }

  /** The re-run finishes the move: exit 0, one copy, on the target, the same process counting into DST, nothing of the migration left. */
  async assertRerunCompletes(
    name: string,
    src: string,
    dst: string,
    extra: string[] = [],
    to: Daemon = this.b,
  ): Promise<Counter> {
    const r = await runCli(this.migrateArgs(name, src, dst, extra, to));
    assert.equal(r.exitCode, 0, `re-run of ${name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^${name} now runs on ${to.host.replace(/[/.]/g, '\\$&')}`));
    assert.deepEqual(await this.whereRunning(name, to), ['b']);
    assert.equal(await this.state(this.a, name), undefined);
    await this.assertNothingLeft(name, to);
    // Counted from after the re-run: a copy that ran on the target and died there (its engine restarted
    // without live-restore) is restored from the same checkpoint again, so the count goes back to it.
    return assertContinues(dst, await counterNow(dst), `${name} on ${to.name}`);
  }

  /** Helpers, journal, checkpoints, never-started copies and volumes of the migration: none on either side. */
  async assertNothingLeft(name: string, to: Daemon = this.b): Promise<void> {
    const from = (await to.docker.getContainer(name).inspect()).Config.Labels['extmount.migrate.from']!;
    for (const [daemon, label] of [
      [this.a, 'helper'],
      [to, 'helper'],
      [this.a, 'journal'],
    ] as const) {
      assert.deepEqual(
        await daemon.docker.listContainers({ all: true, filters: { label: [`extmount.migrate.${label}=${from}`] } }),
        [],
        `${label} left on ${daemon.name}`,
      );
    }
    const copies = await to.docker.listContainers({ all: true, filters: { label: [`extmount.migrate.from=${from}`] } });
    assert.equal(copies.length, 1, `${copies.length} copies of ${name} on ${to.name}`);
    assert.deepEqual(
      await this.a.docker.listContainers({ all: true, filters: { label: [`extmount.migrate.from=${from}`] } }),
      [],
      `a copy of ${name} left on a`,
    );
    assert.doesNotMatch((await to.cli(['checkpoint', 'ls', name])).stdout, /extmount-migrate-/);
  }

  /** Stops a dockerd and waits for it to be gone. */
  async stopDaemon(daemon: Daemon): Promise<void> {
    process.kill(daemon.pid, 'SIGTERM');
    await waitFor(
      `dockerd ${daemon.name} to exit`,
      async () => [undefined, 'Z'].includes(processState(daemon.pid)),
      30_000,
    );
  }

  /** The engine dies at once (see killEngine). */
  async killDaemon(daemon: Daemon): Promise<void> {
    await killEngine(daemon);
  }

  /** b again, on the same data root, if it is down. */
  async ensureB(): Promise<void> {
    const s = processState(this.b.pid);
    if (s === undefined || s === 'Z') this.b = await startDaemon('b', this.daemonOptions);
  }
}

/**
 * The counter's shells on this machine, whatever engine knows of them: every `sh` whose /data is
 * SRC's directory (same device and inode, seen through its own root). An engine killed during a
 * start can leave a restored process it does not know of: docker inspect does not show it, this does.
 * A child of one of them is not a second counter: the loop forks for `sleep`, and until that child
 * execs it is an `sh` with the same root (seen on a loaded machine).
 */
export function counterWriters(src: string): number[] {
  const want = statSync(src);
  const shells = processes((pid) => {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8') !== 'sh\n') return false;
    const data = statSync(`/proc/${pid}/root/data`);
    return data.dev === want.dev && data.ino === want.ino;
  });
  return shells.filter((pid) => {
    const parent = parentOf(pid);
    return parent !== undefined && !shells.includes(parent);
  });
}

export async function readCounter(dir: string): Promise<Counter | undefined> {
  const text = await readFile(join(dir, 'counter'), 'utf8').catch(() => '');
  const match = /^(\S+) (\d+)\n?$/.exec(text);
  return match ? { token: match[1]!, n: Number(match[2]) } : undefined;
}

/** The counter as it is now; `echo > file` truncates before it writes, so an empty read is retried. */
export async function counterNow(dir: string): Promise<Counter> {
  return waitFor(`a counter in ${dir}`, () => readCounter(dir), 3000);
}

/** The counter keeps going with the same process: the same token, a higher number. */
export async function assertContinues(dir: string, before: Counter, what: string): Promise<Counter> {
  const now = await waitFor(
    `${what}: the counter in ${dir} moves on`,
    async () => {
      const c = await readCounter(dir);
      return c !== undefined && c.n > before.n + 2 && c;
    },
    10_000,
  );
  assert.equal(now.token, before.token, `${what}: the counter was restarted (new process), not restored`);
  return now;
}
