// A private "host" for Podman tests: a mount and PID namespace whose /etc is an overlay over the
// machine's, so that Podman reads its usual files (/etc/containers/containers.conf, its .d drop-ins,
// storage.conf) and the extmount runtime reads /etc/extmount/config.json — written there by the test and
// `extmount install-runtime --podman` — without touching the machine's. Every mount made inside stays
// inside (propagation slave), and every process (podman, conmon, the container) dies with the namespace.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type Options } from 'execa';
import { parseMountTable, waitFor, type HostMount } from './e2e.js';

export const PODMAN_IMAGE = 'localhost/extmount-busybox:1';

export interface PodmanHost {
  /** The namespace's init, as this machine's PID namespace numbers it. */
  pid: number;
  /** Runs ARGV inside the namespace (mounts and PIDs as Podman sees them). */
  run(argv: readonly string[], options?: Options): ReturnType<typeof execa>;
  podman(args: readonly string[], options?: Options): ReturnType<typeof execa>;
  /** The namespace's mount table. */
  mounts(): HostMount[];
  stop(): Promise<void>;
}

/**
 * Starts the namespace; `dir` holds the overlay's upper layer (`etc/` → the namespace's /etc), Podman's
 * storage and temp dirs. Writes a containers.conf that keeps Podman off the machine's state.
 */
export async function startPodmanHost(dir: string): Promise<PodmanHost> {
  const upper = join(dir, 'etc');
  const work = join(dir, 'etc-work');
  for (const d of [join(upper, 'containers'), work, join(dir, 'podman-tmp'), join(dir, 'networks')])
    await mkdir(d, { recursive: true });
  // This machine's root lacks CAP_SYS_RESOURCE: Podman's default rlimits (nofile 1048576) would be refused.
  const nofile = Number((await execa('sh', ['-c', 'ulimit -Hn'])).stdout.trim()) || 1024;
  await writeFile(
    join(upper, 'containers', 'containers.conf'),
    [
      '[containers]',
      `default_ulimits = ["nofile=${Math.min(nofile, 65536)}:${Math.min(nofile, 65536)}", "nproc=4096:4096"]`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      `tmp_dir = "${join(dir, 'podman-tmp')}"`,
      'lock_type = "file"',
      '[network]',
      `network_config_dir = "${join(dir, 'networks')}"`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(upper, 'containers', 'storage.conf'),
    [
      '[storage]',
      'driver = "overlay"',
      `graphroot = "${join(dir, 'storage')}"`,
      `runroot = "${join(dir, 'runroot')}"`,
      '',
    ].join('\n'),
  );
  const ready = join(dir, 'ns-ready');
  const script =
    'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc && : > "$3" && exec sleep 2147483647';
  const child = execa(
    'unshare',
    [
      '--mount',
      '--propagation',
      'slave',
      '--pid',
      '--fork',
      '--mount-proc',
      '--',
      'sh',
      '-c',
      script,
      'sh',
      upper,
      work,
      ready,
    ],
    {
      reject: false,
      stdin: 'ignore',
    },
  );
  const unsharePid = child.pid!;
  let pid: number;
  try {
    let exited = false;
    void child.then(() => {
      exited = true;
    });
    await waitFor(
      'the Podman test namespace',
      async () => {
        if (
          await readFile(ready).then(
            () => true,
            () => false,
          )
        )
          return true;
        if (exited) throw new Error(`unshare exited: ${(await child).stderr}`);
        return undefined;
      },
      10_000,
      50,
    );
    pid = await waitFor(
      'the namespace init',
      async () => {
        const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim();
        return children ? Number(children.split(' ')[0]) : undefined;
      },
      5000,
      20,
    );
  } catch (err) {
    child.kill('SIGKILL');
    await child;
    throw err;
  }
  const run = (argv: readonly string[], options: Options = {}) =>
    execa('nsenter', ['-t', String(pid), '-m', '-p', '--', ...argv], { reject: false, ...options });
  return {
    pid,
    run,
    podman: (args, options) => run(['podman', ...args], options),
    mounts: () => parseMountTable(readFileSync(`/proc/${pid}/mountinfo`, 'utf8')),
    async stop() {
      // The namespace's init: its death ends every process in it, and with the last one every mount.
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await child;
      await removeEmptyCgroups('libpod_parent');
    },
  };
}

/** Podman with cgroupfs leaves `libpod_parent` (and its `conmon`) behind in each v1 hierarchy; rmdir takes only empty ones. */
async function removeEmptyCgroups(name: string): Promise<void> {
  const hierarchies = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  for (const h of hierarchies) {
    const top = join('/sys/fs/cgroup', h, name);
    for (const sub of await readdir(top, { withFileTypes: true }).catch(() => [])) {
      if (sub.isDirectory()) await rmdir(join(top, sub.name)).catch(() => undefined);
    }
    await rmdir(top).catch(() => undefined);
  }
}
