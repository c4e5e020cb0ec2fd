// The CRI test bed: two containerd 2.x "nodes" (a, b) and a registry, all in a network namespace of
// the bed's own, so that both nodes pull from and push to 127.0.0.1:5000 and nothing leaves the bed.
// Each node has its own root, state, runc root, sockets, CNI bridge (no route, no masquerade) and an
// extmount config of its own; handlers `runc` and `extmount` (hooks/extmount-runc as runc v2's
// BinaryName). The pause and test images are busybox (the pinned test binary) pushed to the registry
// and pulled through CRI on both nodes, as a kubelet's node pulls them. stop() leaves nothing running
// or mounted, after a failure too.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { CriClient } from './cri-client.js';
import { buildBusyboxRootfs, sleep } from './dockerd.js';
import { runCli } from './cli.js';
import { hostMounts, waitFor, writeTestConfig } from './e2e.js';
import { processes } from './processes.js';

export const REGISTRY = '127.0.0.1:5000';
export const PAUSE_IMAGE = `${REGISTRY}/extmount/pause:1`;
export const TEST_IMAGE = `${REGISTRY}/extmount/busybox:1`;

export interface CriNode {
  name: 'a' | 'b';
  dir: string;
  socket: string;
  /** Stands for the node's `/`: the tests' hostPaths and node mounts live below it. */
  host: string;
  /** The kubelet's root dir (pods/<uid>/volumes/…), for the kubelet stand-in. */
  kubeletDir: string;
  /** /var/log/pods of this node. */
  podLogs: string;
  /** runc's --root for this node's containers (both handlers). */
  runcRoot: string;
  /** The cgroup (below /sys/fs/cgroup) this node's pods go under, as a kubelet's kubepods. */
  cgroupParent: string;
  cri: CriClient;
  log: string;
}

/** What a bench changes in the bed (the tests use none of it). */
export interface CriBedOptions {
  /** Per handler, the runtime binary the runc v2 shim runs (options.BinaryName) instead of runc or the wrapper. */
  binaryNames?: Partial<Record<'runc' | 'extmount', string>>;
  /** Fields added to each node's extmount config (e.g. "runc": what the wrapper runs as runc). */
  extmountConfig?: Record<string, unknown>;
}

interface Started {
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * containerd 2.x (config version 3): only what differs from the defaults, plus what two instances must
 * not share. The `extmount` handler itself comes from `extmount install-runtime --containerd --apply`
 * (a drop-in through `imports`); this config gives it only the node's runc root, merged key by key.
 */
function containerdConfig(
  node: { dir: string; socket: string; runcRoot: string },
  certsDir: string,
  runcBinary: string | undefined,
): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    'version = 3',
    `root = ${q(join(node.dir, 'root'))}`,
    `state = ${q(join(node.dir, 'state'))}`,
    `temp = ${q(join(node.dir, 'tmp'))}`,
    // Two instances on one machine: NRI's socket is machine-wide.
    'disabled_plugins = ["io.containerd.nri.v1.nri"]',
    '[grpc]',
    `  address = ${q(node.socket)}`,
    '[ttrpc]',
    `  address = ${q(`${node.socket}.ttrpc`)}`,
    '[plugins."io.containerd.cri.v1.images"]',
    '  snapshotter = "overlayfs"',
    '[plugins."io.containerd.cri.v1.images".pinned_images]',
    `  sandbox = ${q(PAUSE_IMAGE)}`,
    '[plugins."io.containerd.cri.v1.images".registry]',
    `  config_path = ${q(certsDir)}`,
    '[plugins."io.containerd.transfer.v1.local"]',
    `  config_path = ${q(certsDir)}`,
    '[plugins."io.containerd.cri.v1.runtime"]',
    // This machine's root lacks CAP_SYS_RESOURCE: a sandbox's oom_score_adj below the daemon's is refused otherwise.
    '  restrict_oom_score_adj = true',
    '[plugins."io.containerd.cri.v1.runtime".cni]',
    '  bin_dirs = ["/usr/lib/cni"]',
    `  conf_dir = ${q(join(node.dir, 'cni'))}`,
    '[plugins."io.containerd.cri.v1.runtime".containerd]',
    '  default_runtime_name = "runc"',
    '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]',
    '  runtime_type = "io.containerd.runc.v2"',
    '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]',
    `  Root = ${q(node.runcRoot)}`,
    ...(runcBinary ? [`  BinaryName = ${q(runcBinary)}`] : []),
    '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.extmount.options]',
    `  Root = ${q(node.runcRoot)}`,
    '[plugins."io.containerd.grpc.v1.cri"]',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    '',
  ].join('\n');
}

/** A bridge of the node's own in the bed's netns, addresses from a subnet of its own; no gateway route, no masquerade. */
function cniConfig(node: { name: string; dir: string }, index: number): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: `extmount-bed-${node.name}`,
    plugins: [
      {
        type: 'bridge',
        bridge: `extmount-${node.name}`,
        isGateway: false,
        ipMasq: false,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: `10.88.${index + 1}.0/24` }]],
          dataDir: join(node.dir, 'cni-ipam'),
        },
      },
    ],
  });
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/**
 * An OCI layout tar with the pause and test images (one busybox layer): what `ctr images import`
 * reads. The pause "binary" is busybox sleep (the sandbox is stopped with SIGKILL).
 */
async function buildImages(dir: string): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  const layout = join(dir, 'layout');
  await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
  await buildBusyboxRootfs(rootfs);
  const layerFile = join(dir, 'layer.tar');
  await execa('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', layerFile, '.']);
  const layer = await readFile(layerFile);
  const blob = async (data: Buffer | string) => {
    const digest = sha256(data);
    await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const layerDesc = { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await blob(layer)) };
  const architecture = process.arch === 'x64' ? 'amd64' : process.arch;
  const manifests = [];
  for (const [ref, entrypoint] of [
    [PAUSE_IMAGE, ['/bin/sleep', '2147483647']],
    [TEST_IMAGE, ['/bin/sh']],
  ] as const) {
    const config = JSON.stringify({
      architecture,
      os: 'linux',
      config: { Env: ['PATH=/bin'], Entrypoint: entrypoint, WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [layerDesc.digest] },
    });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await blob(config)) },
      layers: [layerDesc],
    });
    manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...(await blob(manifest)),
      platform: { architecture, os: 'linux' },
      annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': ref.split(':').pop() },
    });
  }
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }),
  );
  const tar = join(dir, 'images.tar');
  await execa('tar', ['-C', layout, '-cf', tar, '.']);
  await rm(rootfs, { recursive: true, force: true });
  return tar;
}

export class CriBed {
  readonly nodes: CriNode[] = [];
  private readonly started: Started[] = [];
  private netnsMade = false;
  private readonly netnsBefore = new Set(existsSync('/run/netns') ? readdirSync('/run/netns') : []);

  private constructor(
    readonly dir: string,
    readonly netns: string,
    private readonly options: CriBedOptions,
  ) {}

  get a(): CriNode {
    return this.nodes[0]!;
  }

  get b(): CriNode {
    return this.nodes[1]!;
  }

  static async start(options: CriBedOptions = {}): Promise<CriBed> {
    const dir = await mkdtemp(join(tmpdir(), 'extmount-cri-'));
    const bed = new CriBed(dir, basename(dir), options);
    const t0 = Date.now();
    try {
      await bed.setUp();
      process.stderr.write(`cri-bed: ${dir} up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      await bed
        .stop()
        .catch((e: Error) => process.stderr.write(`cri-bed: teardown after a failed start: ${e.message}\n`));
      throw err;
    }
    return bed;
  }

  /** Runs a command inside the bed's network namespace (where 127.0.0.1:5000 is the registry). */
  inNetns(cmd: string, args: string[], options: { reject?: boolean; env?: Record<string, string> } = {}) {
    return execa('nsenter', [`--net=/run/netns/${this.netns}`, '--', cmd, ...args], {
      reject: options.reject ?? true,
      ...(options.env ? { env: options.env } : {}),
    });
  }

  /** `ctr` against a node, in the bed's netns. */
  ctr(node: CriNode, args: string[]) {
    return this.inNetns('ctr', ['-a', node.socket, ...args]);
  }

  private spawnInNetns(cmd: string, args: string[], log: string, env: Record<string, string> = {}): Started {
    const fd = openSync(log, 'a');
    try {
      const child = spawn('nsenter', [`--net=/run/netns/${this.netns}`, '--', cmd, ...args], {
        stdio: ['ignore', fd, fd],
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const started = { child, exited };
      this.started.push(started);
      return started;
    } finally {
      closeSync(fd);
    }
  }

  private async setUp(): Promise<void> {
    const { dir, netns } = this;
    // A node's `/` is a shared mount (systemd makes it so); containerd refuses a HostToContainer
    // hostPath on a private one, and the stack's root is private: the bed's dir is its own shared mount.
    await execa('mount', ['--bind', dir, dir]);
    await execa('mount', ['--make-rshared', dir]);
    await execa('ip', ['netns', 'add', netns]);
    this.netnsMade = true;
    await execa('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);

    // The registry: Debian's docker-registry (distribution 2.8), storage in the bed.
    const registryLog = join(dir, 'registry.log');
    await writeFile(
      join(dir, 'registry.yml'),
      [
        'version: 0.1',
        'log:',
        '  level: info',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${JSON.stringify(join(dir, 'registry'))}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: ${REGISTRY}`,
        '',
      ].join('\n'),
    );
    const registry = this.spawnInNetns('docker-registry', ['serve', join(dir, 'registry.yml')], registryLog);

    // containerd reads hosts.toml for 127.0.0.1:5000: plain HTTP.
    const certs = join(dir, 'certs.d');
    await mkdir(join(certs, REGISTRY), { recursive: true });
    await writeFile(
      join(certs, REGISTRY, 'hosts.toml'),
      `server = "http://${REGISTRY}"\n[host."http://${REGISTRY}"]\n  capabilities = ["pull", "resolve", "push"]\n`,
    );

    const nodeParts = await Promise.all(
      (['a', 'b'] as const).map(async (name, index) => {
        const ndir = join(dir, `node-${name}`);
        const node = {
          name,
          dir: ndir,
          socket: join(ndir, 'containerd.sock'),
          host: join(ndir, 'host'),
          kubeletDir: join(ndir, 'kubelet'),
          podLogs: join(ndir, 'pod-logs'),
          runcRoot: join(ndir, 'runc'),
          cgroupParent: `/${basename(dir)}-${name}`,
          log: join(ndir, 'containerd.log'),
        };
        for (const sub of ['root', 'state', 'tmp', 'cni', 'conf.d', 'host', 'kubelet', 'pod-logs', 'runc'])
          await mkdir(join(ndir, sub), { recursive: true });
        await writeFile(join(ndir, 'cni', '10-bed.conflist'), cniConfig(node, index));
        const { binaryNames = {}, extmountConfig = {} } = this.options;
        await writeFile(join(ndir, 'config.toml'), containerdConfig(node, certs, binaryNames.runc));
        const install = await runCli([
          'install-runtime',
          '--containerd',
          '--apply',
          '--containerd-config',
          join(ndir, 'config.toml'),
          '--drop-in',
          join(ndir, 'conf.d/extmount.toml'),
        ]);
        if (install.exitCode !== 0)
          throw new Error(
            `install-runtime --containerd --apply on node ${name}: exit ${install.exitCode}: ${install.stderr}`,
          );
        // The drop-in sets BinaryName to the wrapper, and containerd merges an import over the main config: replaced there.
        if (binaryNames.extmount) await replaceBinaryName(join(ndir, 'conf.d/extmount.toml'), binaryNames.extmount);
        // The wrapper (through the shim) reads its node's config: a state dir of its own.
        const configFile = await writeTestConfig(ndir, extmountConfig);
        const proc = this.spawnInNetns('containerd', ['--config', join(ndir, 'config.toml')], node.log, {
          EXTMOUNT_CONFIG: configFile,
          TMPDIR: join(ndir, 'tmp'),
        });
        return { node, proc };
      }),
    );
    const images = await buildImages(join(dir, 'images'));

    for (const { node, proc } of nodeParts) {
      const cri = await waitFor(
        `containerd ${node.name}'s CRI`,
        async () => {
          if (proc.child.exitCode !== null)
            throw new Error(`containerd ${node.name} exited (${proc.child.exitCode}):\n${tail(node.log)}`);
          if (!existsSync(node.socket)) return undefined;
          const client = await CriClient.connect(node.socket);
          try {
            await client.version();
            if (!(await client.ready())) throw new Error('CRI Status: not ready');
            return client;
          } catch (err) {
            client.close();
            throw err;
          }
        },
        30_000,
        200,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\ncontainerd ${node.name}'s log:\n${tail(node.log)}`);
      });
      this.nodes.push({ ...node, cri });
    }
    await waitFor('the registry', async () => {
      if (registry.child.exitCode !== null) throw new Error(`docker-registry exited:\n${tail(registryLog)}`);
      return readFileSync(registryLog, 'utf8').includes('listening on');
    });

    // The images into the registry (through a, in a namespace of the bed's own), then pulled on both nodes through CRI.
    await this.ctr(this.a, ['-n', 'extmount-bed', 'images', 'import', '--all-platforms', images]);
    for (const ref of [PAUSE_IMAGE, TEST_IMAGE])
      await this.ctr(this.a, ['-n', 'extmount-bed', 'images', 'push', '--plain-http', ref]);
    await Promise.all(this.nodes.flatMap((node) => [PAUSE_IMAGE, TEST_IMAGE].map((ref) => node.cri.pullImage(ref))));
  }

  /** What a finished case must not leave: containers in a node's runc root, pod sandboxes, their mounts and netns. */
  async leftovers(): Promise<string[]> {
    const out: string[] = [];
    for (const node of this.nodes) {
      const pods = await node.cri.listPodSandboxes();
      out.push(
        ...pods.map((p) => `node ${node.name}: pod sandbox ${p.metadata.name} (${p.id.slice(0, 12)}) ${p.state}`),
      );
      out.push(...runcContainers(node).map(({ id }) => `node ${node.name}: runc container ${id.slice(0, 12)}`));
      const below = [join(node.dir, 'state'), join(node.dir, 'root', 'io.containerd.grpc.v1.cri')];
      out.push(
        ...hostMounts()
          .filter((m) => below.some((d) => m.mountpoint.startsWith(`${d}/`)))
          .map((m) => `node ${node.name}: mount ${m.mountpoint}`),
      );
    }
    out.push(...this.newNetns().map((n) => `netns /run/netns/${n}`));
    return out;
  }

  private newNetns(): string[] {
    return (existsSync('/run/netns') ? readdirSync('/run/netns') : []).filter(
      (n) => n !== this.netns && !this.netnsBefore.has(n),
    );
  }

  /** Everything down, by pid and by path; throws at the end when something could not be removed. */
  async stop(): Promise<void> {
    const t0 = Date.now();
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        problems.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
      }
    };
    for (const node of this.nodes) {
      await attempt(`node ${node.name}: pods`, async () => {
        for (const pod of await node.cri.listPodSandboxes()) {
          await node.cri.stopPodSandbox(pod.id);
          await node.cri.removePodSandbox(pod.id);
        }
      });
      node.cri.close();
    }
    for (const s of this.started) {
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
      await Promise.race([s.exited, sleep(10_000)]);
      if (s.child.exitCode === null && s.child.signalCode === null) {
        process.stderr.write(
          `cri-bed: ${s.child.spawnargs.slice(3).join(' ')} did not stop within 10 s of SIGTERM: SIGKILL\n`,
        );
        s.child.kill('SIGKILL');
        await s.exited;
      }
    }
    // What containerd's pods left when their removal failed: containers (by runc), then shims (by pid).
    for (const node of this.nodes) {
      for (const { root, id } of runcContainers(node)) {
        await attempt(`node ${node.name}: runc delete ${id}`, () =>
          execa('runc', ['--root', root, 'delete', '--force', id]),
        );
      }
      for (const pid of processes((p) =>
        readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(node.socket),
      )) {
        await attempt(`node ${node.name}: shim ${pid}`, async () => process.kill(pid, 'SIGKILL'));
      }
    }
    for (const n of this.newNetns()) {
      await attempt(`netns ${n}`, async () => {
        await execa('umount', ['-l', `/run/netns/${n}`], { reject: false });
        await rm(`/run/netns/${n}`, { force: true });
      });
    }
    if (this.netnsMade) await attempt('the bed netns', () => execa('ip', ['netns', 'del', this.netns]));
    for (const node of this.nodes)
      await attempt(`node ${node.name}: cgroups`, async () => removeCgroups(node.cgroupParent));
    const below = () =>
      hostMounts().filter((m) => m.mountpoint === this.dir || m.mountpoint.startsWith(`${this.dir}/`));
    for (let round = 0; round < 5 && below().length > 0; round++) {
      for (const m of below().sort((x, y) => y.mountpoint.length - x.mountpoint.length))
        await execa('umount', ['-l', m.mountpoint], { reject: false });
    }
    // Never rm -r through a mount that is still there.
    if (below().length > 0) problems.push(`mounts are left below ${this.dir}; not removing it`);
    else await rm(this.dir, { recursive: true, force: true });
    process.stderr.write(`cri-bed: down in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    if (problems.length > 0) throw new Error(`cri-bed teardown:\n${problems.join('\n')}`);
  }
}

/** The drop-in with its one BinaryName set to `binary`. */
async function replaceBinaryName(dropIn: string, binary: string): Promise<void> {
  const text = await readFile(dropIn, 'utf8');
  const line = /^ *BinaryName = .*$/m;
  if ((text.match(new RegExp(line.source, 'gm')) ?? []).length !== 1)
    throw new Error(`${dropIn}: not one BinaryName line to replace:\n${text}`);
  await writeFile(dropIn, text.replace(line, `  BinaryName = ${JSON.stringify(binary)}`));
}

/** The containers in the node's runc root: the shim adds the containerd namespace (k8s.io) to Root. */
function runcContainers(node: CriNode): Array<{ root: string; id: string }> {
  const ls = (d: string) => (existsSync(d) ? readdirSync(d) : []);
  return ls(node.runcRoot).flatMap((ns) =>
    ls(join(node.runcRoot, ns)).map((id) => ({ root: join(node.runcRoot, ns), id })),
  );
}

/** The node's pod cgroups, deepest first (empty ones only: rmdir refuses any other). */
function removeCgroups(parent: string): void {
  const top = join('/sys/fs/cgroup', parent);
  if (!existsSync(top)) return;
  const dirs: string[] = [];
  const walk = (d: string) => {
    dirs.push(d);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(top);
  for (const d of dirs.reverse()) rmdirSync(d);
}

export function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
