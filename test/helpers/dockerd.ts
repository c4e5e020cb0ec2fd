// Private dockerd instances ("host a", "host b") for integration tests, demo and benchmarks.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, rm, readFile } from 'node:fs/promises';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import Docker from 'dockerode';
import { parentOf, processState, processes } from './processes.js';
import { waitFor } from './wait.js';

export const TEST_IMAGE = 'extmount-busybox:1';

export interface Daemon {
  name: string;
  /** DOCKER_HOST value, e.g. unix:///tmp/extmount-tb-x/a/docker.sock */
  host: string;
  dir: string;
  dataRoot: string;
  execRoot: string;
  pid: number;
  docker: Docker;
  /** argv prefix for the docker CLI: ['-H', host] */
  cli(
    args: string[],
    options?: { input?: string; reject?: boolean },
  ): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Extra runtimes for daemon.json: name → absolute path of the runtime binary. */
  runtimes?: Record<string, string>;
  /** Parent directory; a fresh temp dir by default. */
  baseDir?: string;
  /** --experimental (which checkpoints need); on by default. */
  experimental?: boolean;
  /** More environment for dockerd (and so containerd, its shims and the runtime): EXTMOUNT_CONFIG. */
  env?: Record<string, string>;
}

/** Starts dockerd with its own data-root, exec-root, pidfile and socket; no bridge, no iptables. */
export async function startDaemon(name: string, options: DaemonOptions = {}): Promise<Daemon> {
  const base = options.baseDir ?? (await mkdtemp(join(tmpdir(), 'extmount-tb-')));
  // unix socket paths are limited to 108 bytes: keep every path under this short base.
  const dir = join(base, name);
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  const socket = join(dir, 'docker.sock');
  const pidfile = join(dir, 'docker.pid');
  const configFile = join(dir, 'daemon.json');
  await mkdir(dataRoot, { recursive: true });
  await mkdir(execRoot, { recursive: true });
  // dockerd 20.10 leaves a /tmp/ctrd-checkpoint* copy of the images behind on every restore, and
  // containerd its stack dumps: keep them in the daemon's own folder.
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const runtimes = Object.fromEntries(Object.entries(options.runtimes ?? {}).map(([n, path]) => [n, { path }]));
  await writeFile(configFile, JSON.stringify(Object.keys(runtimes).length ? { runtimes } : {}));
  const logFd = openSync(join(dir, 'dockerd.log'), 'a');
  const child = spawn(
    'dockerd',
    [
      ...(options.experimental === false ? [] : ['--experimental']),
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--data-root',
      dataRoot,
      '--exec-root',
      execRoot,
      '--pidfile',
      pidfile,
      '--config-file',
      configFile,
      '-H',
      `unix://${socket}`,
    ],
    {
      stdio: ['ignore', logFd, logFd],
      detached: true,
      env: { ...process.env, TMPDIR: join(dir, 'tmp'), ...options.env },
    },
  );
  closeSync(logFd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`dockerd ${name} did not start`);
  const host = `unix://${socket}`;
  const docker = new Docker({ socketPath: socket });
  const daemon: Daemon = {
    name,
    host,
    dir,
    dataRoot,
    execRoot,
    pid,
    docker,
    async cli(args, opts = {}) {
      const r = await execa('docker', ['-H', host, ...args], { input: opts.input, reject: opts.reject ?? true });
      return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? 0 };
    },
    stop: () => stopDaemon(daemon, options.baseDir === undefined ? base : undefined),
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || !processAlive(pid)) {
      const log = await readFile(join(dir, 'dockerd.log'), 'utf8').catch(() => '');
      throw new Error(`dockerd ${name} exited during start:\n${log.split('\n').slice(-15).join('\n')}`);
    }
    if (
      existsSync(socket) &&
      (await docker.ping().then(
        () => true,
        () => false,
      ))
    )
      break;
    if (Date.now() > deadline) {
      await daemon.stop();
      throw new Error(`dockerd ${name} not ready after 60 s (log: ${join(dir, 'dockerd.log')})`);
    }
    await sleep(200);
  }
  return daemon;
}

async function stopDaemon(daemon: Daemon, removeDir: string | undefined): Promise<void> {
  const containers = await daemon.docker.listContainers({ all: true }).catch(() => []);
  await Promise.all(
    containers.map((c) =>
      daemon.docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  if (processAlive(daemon.pid)) {
    process.kill(daemon.pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (processAlive(daemon.pid) && Date.now() < deadline) await sleep(100);
    if (processAlive(daemon.pid)) process.kill(daemon.pid, 'SIGKILL');
  }
  await endOrphanShims(daemon.execRoot);
  if (removeDir) {
    // dockerd unmounts its layers on shutdown; a lazy unmount catches what is left before rm.
    await execa(
      'sh',
      ['-c', 'grep -o " $1[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l', 'sh', removeDir],
      { reject: false },
    );
    await rm(removeDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // a zombie still answers kill(0): it has exited for our purposes
    return !isZombie(pid);
  } catch {
    return false;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return / Z /.test(stat.slice(stat.lastIndexOf(')')));
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Imports a busybox-static rootfs as TEST_IMAGE (no registry is reachable here). */
export async function importTestImage(daemon: Daemon): Promise<void> {
  const images = await daemon.docker.listImages({ filters: { reference: [TEST_IMAGE] } });
  if (images.length > 0) return;
  const rootfs = await mkdtemp(join(tmpdir(), 'extmount-rootfs-'));
  try {
    await buildBusyboxRootfs(rootfs);
    await execa('sh', [
      '-c',
      'tar -C "$1" -c . | docker -H "$2" import - "$3" >/dev/null',
      'sh',
      rootfs,
      daemon.host,
      TEST_IMAGE,
    ]);
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}

/**
 * The busybox of every test image: one pinned binary (bookworm's 1.35, fetched by scripts/provision.sh
 * and bound into every scripts/stacks root), not the stack's own. trixie's busybox 1.37 `sleep` exits
 * right after a CRIU restore and its `nc` dies after a failed dump: the tests test extmount, not busybox.
 */
export const TEST_BUSYBOX = process.env.EXTMOUNT_BUSYBOX || '/opt/extmount/busybox/busybox';

/** bin/busybox with its applet links, and the empty folders a container expects. */
export async function buildBusyboxRootfs(dir: string): Promise<void> {
  const busybox = TEST_BUSYBOX;
  if (!existsSync(busybox))
    throw new Error(`the test busybox ${busybox} is missing (run scripts/provision.sh, or set EXTMOUNT_BUSYBOX)`);
  for (const sub of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp', 'data', 'root'])
    await mkdir(join(dir, sub), { recursive: true });
  await execa('cp', [busybox, join(dir, 'bin/busybox')]);
  await execa('sh', [
    '-c',
    'cd "$1/bin" && for a in $(./busybox --list); do [ -e "$a" ] || ln -s busybox "$a"; done',
    'sh',
    dir,
  ]);
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\n');
}

/**
 * `docker run -d ARGS…` for a container without a network, made through the API with
 * `NetworkDisabled: true`: Docker 28 / containerd 2.1 cannot restore a `--network none` container
 * (containerd#12141; network-shapes.test.ts tests that refusal), and the docker CLI has no flag for
 * NetworkDisabled. Reads the flags the tests use (--name, --runtime, --restart, -v, --tmpfs, --cap-add); what
 * follows them is IMAGE CMD…. Returns the container id.
 */
export async function runDetached(daemon: Daemon, args: readonly string[]): Promise<string> {
  const hostConfig: Docker.HostConfig & { Binds: string[]; Tmpfs: Record<string, string> } = {
    NetworkMode: 'none',
    Binds: [],
    Tmpfs: {},
  };
  let name: string | undefined;
  let i = 0;
  for (; i < args.length && args[i]!.startsWith('-'); i += 2) {
    const [flag, value] = [args[i]!, args[i + 1]!];
    if (flag === '--name') name = value;
    else if (flag === '--runtime') hostConfig.Runtime = value;
    else if (flag === '--restart') hostConfig.RestartPolicy = { Name: value };
    else if (flag === '-v') hostConfig.Binds.push(value);
    else if (flag === '--tmpfs') hostConfig.Tmpfs[value] = '';
    else if (flag === '--cap-add') hostConfig.CapAdd = [...(hostConfig.CapAdd ?? []), value];
    else throw new Error(`runDetached: flag ${flag} is not supported`);
  }
  const [image, ...cmd] = args.slice(i);
  const container = await daemon.docker.createContainer({
    ...(name ? { name } : {}),
    Image: image,
    Cmd: cmd,
    NetworkDisabled: true,
    HostConfig: hostConfig,
  });
  await container.start();
  return container.id;
}

/** Two engines ("host a", "host b") under one fresh folder, the test image on both, and the containerd version of a. */
export interface EnginePair {
  base: string;
  a: Daemon;
  b: Daemon;
  containerd: string | undefined;
  stop(): Promise<void>;
}

export async function startPair(prefix: string): Promise<EnginePair> {
  const base = await mkdtemp(join(tmpdir(), prefix));
  const [a, b] = await Promise.all([startDaemon('a', { baseDir: base }), startDaemon('b', { baseDir: base })]);
  await Promise.all([importTestImage(a), importTestImage(b)]);
  const containerd = (await a.docker.version()).Components?.find((c) => c.Name.toLowerCase() === 'containerd')?.Version;
  return {
    base,
    a,
    b,
    containerd,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await rm(base, { recursive: true, force: true });
    },
  };
}

/**
 * The engine dies at once: dockerd and the containerd it runs, SIGKILL, as when the engine's
 * service is killed. The shims (reparented, their own sessions) and the containers they hold live on.
 */
export async function killEngine(daemon: Daemon): Promise<void> {
  const children = childrenOf(daemon.pid);
  // A child may die with dockerd on its own (containerd under a parent-death signal): gone is fine.
  for (const pid of [daemon.pid, ...children]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  for (const pid of [daemon.pid, ...children])
    await waitFor(
      `pid ${pid} of dockerd ${daemon.name} to die`,
      async () => [undefined, 'Z'].includes(processState(pid)),
      30_000,
    );
  // This sandbox's pid 1 does not reap orphans: the dead containerd stays a zombie, which the next
  // dockerd takes for a running one ("containerd is still running") and waits on. An init that reaps
  // leaves no such pid behind; the pid file is what dockerd looks at.
  await rm(join(daemon.execRoot, 'containerd', 'containerd.pid'), { force: true });
}

/**
 * The shims of an engine that was killed (killEngine) outlive it with their containers, and a
 * restarted engine does not always take them back: once the engine is stopped, whatever
 * shim still names its exec root ends here, with every process below it.
 */
async function endOrphanShims(execRoot: string): Promise<void> {
  const shims = processes((pid) => {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return (argv[0] ?? '').includes('containerd-shim') && argv.some((a) => a.startsWith(`${execRoot}/`));
  });
  const doomed = [...shims];
  for (let i = 0; i < doomed.length; i++) doomed.push(...childrenOf(doomed[i]!));
  for (const pid of doomed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  for (const pid of doomed)
    await waitFor(
      `orphan shim process ${pid} to die`,
      async () => [undefined, 'Z'].includes(processState(pid)),
      30_000,
    );
}

function childrenOf(pid: number): number[] {
  return processes((entry) => parentOf(entry) === pid);
}

/** A test's folder: whatever dockerd left mounted below it (a killed engine unmounts nothing), then the files. */
export async function removeTestDir(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
  for (const m of mounts.sort().reverse()) await execa('umount', ['-l', m], { reject: false });
  await rm(dir, { recursive: true, force: true });
}
