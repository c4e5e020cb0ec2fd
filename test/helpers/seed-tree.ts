// The seed's situation with plain CRIU: a process tree in its own mount and pid namespace whose root
// is a bind mount it pivot_root'ed into, with a host folder bound at /bar (an external bind mount).
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildBusyboxRootfs, sleep } from './dockerd.js';

export interface SeedTree {
  /** Host pid of the tree's init (pid 1 in its namespace): what `criu dump -t` takes. */
  pid: number;
  dir: string;
  /** The folder pivot_root'ed into (its root mount is a bind of itself). */
  root: string;
  /** The host folder bound at /bar inside the tree. */
  foo: string;
  /** Reads the counter the tree writes to /bar/counter every 100 ms, from a given host folder. */
  readCounter(from?: string): Promise<number>;
  stop(): Promise<void>;
}

// Pitfalls (ENVIRONMENT.md): chroot leaves "The root task has another root than mntns", so
// pivot_root as runtimes do; the session leader must be inside the pid namespace (setsid); the
// host's /bin/sh mapping and host fds must be gone (exec busybox, stdio on the tree's own /dev/null).
const SETUP = `set -e
for fd in /proc/self/fd/*; do fd=\${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
mount --bind "$1" "$1"
mount --bind "$2" "$1/bar"
cd "$1"
pivot_root . .oldroot
cd /
exec /bin/sh -c 'umount -l /.oldroot; exec </dev/null >/dev/null 2>&1; i=0; while :; do i=$((i+1)); echo $i > /bar/counter; usleep 100000; done'
`;

export async function startSeedTree(): Promise<SeedTree> {
  const dir = await mkdtemp(join(tmpdir(), 'extmount-seed-'));
  const root = join(dir, 'root');
  const foo = join(dir, 'foo');
  await mkdir(join(root, 'bar'), { recursive: true });
  await mkdir(join(root, '.oldroot'), { recursive: true });
  await mkdir(foo, { recursive: true });
  await buildBusyboxRootfs(root);
  await execa('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
  await writeFile(join(foo, 'hello.txt'), 'from the host folder\n');
  const child = spawn(
    'unshare',
    ['--mount', '--pid', '--fork', '--propagation', 'private', 'setsid', 'busybox', 'sh', '-c', SETUP, 'sh', root, foo],
    { stdio: 'ignore', detached: true },
  );
  child.unref();
  if (child.pid === undefined) throw new Error('unshare did not start');
  const pid = await waitForChild(child.pid);
  const tree: SeedTree = {
    pid,
    dir,
    root,
    foo,
    async readCounter(from = foo) {
      return Number((await readFile(join(from, 'counter'), 'utf8')).trim());
    },
    async stop() {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  // ready when the loop has written its counter through /bar
  const deadline = Date.now() + 10_000;
  while (
    !(await tree.readCounter().then(
      (n) => n > 0,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) {
      await tree.stop();
      throw new Error('seed tree did not start writing /bar/counter');
    }
    await sleep(50);
  }
  return tree;
}

/** The pid of unshare's forked child: the init of the new pid namespace. */
async function waitForChild(parent: number): Promise<number> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const children = await readFile(`/proc/${parent}/task/${parent}/children`, 'utf8').catch(() => '');
    const first = Number(children.trim().split(/\s+/)[0]);
    if (first > 0) return first;
    await sleep(20);
  }
  throw new Error(`unshare (pid ${parent}) has no child`);
}

/** A pid that restore gave back: kill it when a test is done. */
export function killTree(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
