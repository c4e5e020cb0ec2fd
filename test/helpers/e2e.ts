// The gate of every integration test: what it needs (root, dockerd, CRIU), checked once per process.
// Absent → the test is skipped with a loud reason; with EXTMOUNT_E2E=required (CI) it fails instead.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { importTestImage, startDaemon, type Daemon } from './dockerd.js';
import { stackTool } from './stack-tool.js';

// The one poll of the tests (test/helpers/wait.ts), here for the many tests that import the gate's tools.
export { waitFor } from './wait.js';

export type Need =
  | 'root'
  | 'criu'
  | 'dockerd'
  | 'docker-cli'
  | 'podman'
  | 'crun-criu'
  | 'zstd'
  | 'gcc'
  | 'containerd2'
  | 'registry'
  | 'cri';

/** containerd's own version line: `containerd github.com/containerd/containerd/v2 2.1.9 …` (Debian: `… 2.1.9~ds1 …`). */
export function containerdVersion(out: string): [number, number] | undefined {
  const m = / v?(\d+)\.(\d+)\.\d+/.exec(out);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
const atLeast = (v: [number, number] | undefined, major: number, minor: number) =>
  v !== undefined && (v[0] > major || (v[0] === major && v[1] >= minor));

const checks: Record<Need, () => Promise<string | undefined>> = {
  root: async () => (process.getuid?.() === 0 ? undefined : 'not running as root'),
  criu: async () => {
    const r = await execa('criu', ['check'], { reject: false });
    return r.exitCode === 0
      ? undefined
      : `criu check failed or criu missing (${String(r.stderr || r.shortMessage)
          .trim()
          .split('\n')
          .pop()}); run scripts/provision.sh`;
  },
  dockerd: async () => {
    const r = await execa('dockerd', ['--version'], { reject: false });
    return r.exitCode === 0 ? undefined : 'dockerd is not installed; run scripts/provision.sh';
  },
  podman: async () => {
    // Podman, its conmon, and the runc the extmount wrapper hands containers to.
    for (const [tool, args] of [
      ['podman', ['--version']],
      ['conmon', ['--version']],
      ['runc', ['--version']],
    ] as const) {
      const r = await execa(tool, args, { reject: false });
      if (r.exitCode !== 0) return `${tool} is not installed; run scripts/provision.sh`;
    }
    return undefined;
  },
  // Debian 12's crun 1.8.1 is built without CRIU (`crun --version`: no +CRIU); trixie's and sid's have it.
  'crun-criu': async () => {
    const r = await execa('crun', ['--version'], { reject: false });
    return r.exitCode !== 0
      ? 'crun is not installed'
      : /\+CRIU\b/.test(String(r.stdout))
        ? undefined
        : `this crun is built without CRIU (${String(r.stdout).split('\n')[0]})`;
  },
  // `extmount restore --import` reads Podman's default (zstd) archives through zstd(1).
  zstd: async () => {
    const r = await execa('zstd', ['--version'], { reject: false });
    return r.exitCode === 0 ? undefined : 'zstd is not installed; run scripts/provision.sh';
  },
  // The live migration test builds its memory workload (test/fixtures/live/memclock.c) static.
  gcc: async () => {
    const r = await execa('gcc', ['--version'], { reject: false });
    return r.exitCode === 0 ? undefined : 'gcc is not installed; run scripts/provision.sh';
  },
  // A containerd 2.x binary for what needs no daemon (`containerd config dump`): from PATH, else the sid stack root.
  containerd2: async () =>
    (await stackTool('containerd', ['--version'], (out) => atLeast(containerdVersion(out), 2, 0)))
      ? undefined
      : 'no containerd 2.x on PATH nor in the sid stack root (scripts/stacks/build.sh sid)',
  // Debian's docker-registry, served on loopback by the tests: from PATH, else the sid stack root.
  registry: async () =>
    (await stackTool('docker-registry', ['--version']))
      ? undefined
      : 'docker-registry is neither on PATH nor in the sid stack root (scripts/stacks/build.sh sid)',
  // A node as the kubelet drives it (test/helpers/cri-bed.ts): containerd >= 2.1 (CRI CheckpointContainer,
  // and restore through CreateContainer; 1.6 and 1.7 answer Unimplemented) and the tools the bed runs.
  cri: async () => {
    const r = await execa('containerd', ['--version'], { reject: false });
    if (r.exitCode !== 0) return 'containerd is not installed';
    if (!atLeast(containerdVersion(String(r.stdout)), 2, 1))
      return `containerd ${String(r.stdout).trim()} has no CRI checkpoint/restore (checkpoint since 2.0, restore since 2.1)`;
    for (const [tool, args] of [
      ['ctr', ['--version']],
      ['docker-registry', ['--version']],
      ['checkpointctl', ['--help']],
      ['runc', ['--version']],
      ['nsenter', ['--version']],
      ['ip', ['-V']],
    ] as const) {
      const t = await execa(tool, args, { reject: false });
      if (t.exitCode !== 0) return `${tool} is not installed (scripts/stacks/build.sh installs the CRI bed's packages)`;
    }
    for (const file of [
      '/usr/lib/cni/bridge',
      '/usr/lib/cni/loopback',
      '/usr/lib/cni/host-local',
      '/usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto',
    ]) {
      if (!existsSync(file))
        return `${file} is missing (containernetworking-plugins, golang-github-kubernetes-cri-api-dev)`;
    }
    return undefined;
  },
  'docker-cli': async () => {
    const r = await execa('docker', ['--version'], { reject: false });
    return r.exitCode === 0 ? undefined : 'the docker CLI is not installed; run scripts/provision.sh';
  },
};

const cache = new Map<Need, Promise<string | undefined>>();

/** Why the needs are not met, or undefined when they are. */
export async function missing(needs: readonly Need[]): Promise<string | undefined> {
  for (const need of needs) {
    if (!cache.has(need)) cache.set(need, checks[need]());
    const reason = await cache.get(need)!;
    if (reason) return reason;
  }
  return undefined;
}

export const e2eRequired = process.env.EXTMOUNT_E2E === 'required';

/**
 * Whether a symlink-flip race test runs its restore number I (from 0): at most ROUNDS, its own count, capped
 * by EXTMOUNT_FLIP_ROUNDS when set (CI's time; docs/testing.md). Past the cap it goes on, up to ROUNDS, while
 * no restore has got through: a race in which every restore was refused proves nothing. A cap that is not
 * a positive integer throws: a typo must not turn a race test off.
 */
export function anotherFlipRound(i: number, rounds: number, gotThrough: boolean): boolean {
  const cap = process.env.EXTMOUNT_FLIP_ROUNDS;
  if (cap !== undefined && !/^[1-9][0-9]*$/.test(cap))
    throw new Error(`EXTMOUNT_FLIP_ROUNDS=${cap}: not a positive integer`);
  return i < rounds && (cap === undefined || i < Number(cap) || !gotThrough);
}
/** Needs a stack of the matrix declares it lacks (.ci/run: EXTMOUNT_E2E_ABSENT=crun-criu on Debian 12): skipped loudly even when required. */
const declaredAbsent = new Set((process.env.EXTMOUNT_E2E_ABSENT ?? '').split(',').filter(Boolean));

/**
 * Call first in an integration test (or its `before`): returns false after skipping the test
 * loudly when something is absent; throws when EXTMOUNT_E2E=required, unless this stack declares
 * that need absent.
 */
export async function requireE2E(t: TestContext, needs: readonly Need[]): Promise<boolean> {
  const reason = await missing(needs);
  if (!reason) return true;
  const declared =
    needs.some((n) => declaredAbsent.has(n)) &&
    (await missing(needs.filter((n) => !declaredAbsent.has(n)))) === undefined;
  skipE2E(t, reason, declared);
  return false;
}

/** Skips `t` loudly for `reason`; under EXTMOUNT_E2E=required it fails instead, unless the stack declared the need absent. */
export function skipE2E(t: TestContext, reason: string, declaredAbsentHere = false): void {
  if (e2eRequired && !declaredAbsentHere) throw new Error(`EXTMOUNT_E2E=required but ${reason}`);
  process.stderr.write(`\n*** SKIPPED integration test "${t.name}": ${reason} ***\n\n`);
  t.skip(reason);
}

// ---- Tools for end-to-end tests that change this host's mount table ----------------------------

/** hooks/extmount-runc in this checkout: the runtime tests register with their private dockerd. */
export const WRAPPER = fileURLToPath(new URL('../../../hooks/extmount-runc', import.meta.url));

/** One mount of /proc/self/mountinfo: what identifies it, and its propagation fields. */
export interface HostMount {
  id: number;
  root: string;
  mountpoint: string;
  optional: string;
}

export function hostMounts(): HostMount[] {
  return parseMountTable(readFileSync('/proc/self/mountinfo', 'utf8'));
}

export function parseMountTable(text: string): HostMount[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      return { id: Number(f[0]), root: f[3]!, mountpoint: f[4]!, optional: f.slice(6, f.indexOf('-', 6)).join(' ') };
    });
}

/**
 * Mounts of `before` missing from `after` (same mount ID and mountpoint), except those under
 * `ignoreUnder`. With `mine` (the test's sandbox), other folders in the temp dir are ignored too:
 * other tests on this machine make and remove their own mounts there meanwhile.
 */
export function lostMounts(
  before: readonly HostMount[],
  after: readonly HostMount[],
  options: { ignoreUnder?: readonly string[]; mine?: string } = {},
): HostMount[] {
  const now = new Set(after.map((m) => `${m.id} ${m.mountpoint}`));
  const under = (mp: string, d: string) => mp === d || mp.startsWith(`${d}/`);
  const ignored = (mp: string) =>
    (options.ignoreUnder ?? []).some((d) => under(mp, d)) ||
    (options.mine !== undefined && under(mp, tmpdir()) && !under(mp, options.mine));
  return before.filter((m) => !now.has(`${m.id} ${m.mountpoint}`) && !ignored(m.mountpoint));
}

/** A temporary folder for a test's host mounts; cleanup() unmounts everything below it, then removes it. */
export interface HostSandbox {
  dir: string;
  cleanup(): Promise<void>;
}

export async function hostSandbox(prefix: string): Promise<HostSandbox> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const below = () => hostMounts().filter((m) => m.mountpoint === dir || m.mountpoint.startsWith(`${dir}/`));
  return {
    dir,
    async cleanup() {
      for (let round = 0; round < 5 && below().length > 0; round++) {
        // Deepest first. The tests make their shared mounts here; a detach of one never reaches above it.
        for (const m of below().sort((a, b) => b.mountpoint.length - a.mountpoint.length)) {
          await execa('umount', ['-l', m.mountpoint], { reject: false });
        }
      }
      // Never rm -r through a mount that is still there: it would delete the content of what it shows.
      if (below().length > 0) throw new Error(`mounts are left below ${dir}; not removing it`);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An extmount config for a test: its state dir inside `dir`. The runtime reads it via EXTMOUNT_CONFIG. */
export async function writeTestConfig(dir: string, extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, 'extmount-config.json');
  await mkdir(join(dir, 'state'), { recursive: true });
  await writeFile(path, JSON.stringify({ stateDir: join(dir, 'state'), ...extra }, null, 2));
  return path;
}

/**
 * A private dockerd with hooks/extmount-runc registered as runtime "extmount". The wrapper reads
 * `config` (EXTMOUNT_CONFIG, inherited through dockerd, containerd and the shim), and the daemon's temp
 * files go below `dir`: dockerd 20.10 leaves a /tmp/ctrd-checkpoint* copy of the images behind on every
 * `docker start --checkpoint`.
 */
export async function startRuntimeDaemon(
  name: string,
  options: { config: string; dir: string; runtimes?: Record<string, string> },
): Promise<Daemon> {
  const saved = { EXTMOUNT_CONFIG: process.env.EXTMOUNT_CONFIG, TMPDIR: process.env.TMPDIR };
  const tmp = join(options.dir, 'daemon-tmp');
  await mkdir(tmp, { recursive: true });
  process.env.EXTMOUNT_CONFIG = options.config;
  process.env.TMPDIR = tmp;
  try {
    const daemon = await startDaemon(name, { runtimes: { extmount: WRAPPER, ...options.runtimes } });
    await importTestImage(daemon);
    return daemon;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** What a runtime test runs on: a host sandbox, an extmount config in it, a private dockerd with the runtime. */
export interface RuntimeBed {
  box: HostSandbox;
  /** The config file the wrapper reads (writeTestConfig). */
  config: string;
  daemon: Daemon;
  /** Stops the daemon, then unmounts and removes the sandbox. */
  close(): Promise<void>;
}

/** The runtime tests' setup: hostSandbox(prefix), writeTestConfig(box.dir, config), startRuntimeDaemon(name). */
export async function runtimeBed(
  prefix: string,
  name: string,
  options: { config?: Record<string, unknown>; runtimes?: Record<string, string> } = {},
): Promise<RuntimeBed> {
  const box = await hostSandbox(prefix);
  try {
    const config = await writeTestConfig(box.dir, options.config);
    const daemon = await startRuntimeDaemon(name, {
      config,
      dir: box.dir,
      ...(options.runtimes ? { runtimes: options.runtimes } : {}),
    });
    return {
      box,
      config,
      daemon,
      async close() {
        try {
          await daemon.stop();
        } finally {
          await box.cleanup();
        }
      },
    };
  } catch (err) {
    await box.cleanup();
    throw err;
  }
}

/**
 * A busybox shell loop that writes "<token> <n>" into each file every 100 ms. The token is drawn once
 * at start: a restored process goes on with the same token, a restarted one shows a new token.
 */
export function counterLoop(...files: string[]): string {
  // Written aside and renamed: a dump can freeze the loop between truncating a file and writing it.
  const writes = files.map((f) => `echo "$t $i" > ${f}.tmp; mv ${f}.tmp ${f}`).join('; ');
  return `t=$(cat /proc/sys/kernel/random/uuid); i=0; while :; do i=$((i+1)); ${writes}; usleep 100000; done`;
}

export interface Count {
  token: string;
  n: number;
}

export async function readCount(path: string): Promise<Count> {
  const [token, n] = (await readFile(path, 'utf8')).trim().split(' ');
  if (!token || !n || !/^\d+$/.test(n)) throw new Error(`${path}: no count yet`);
  return { token, n: Number(n) };
}

/** The same process, further on: what a restore must show (a restart draws a new token and counts from 1). */
export function continued(now: Count, before: Count): boolean {
  return now.token === before.token && now.n > before.n;
}
