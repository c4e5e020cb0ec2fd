// OCI bundles with a busybox rootfs (the pinned static busybox of every test image, as runc's own tests
// use one), driven with runc directly or through hooks/extmount-runc, the way a shell or runc's bats tests call it.
import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { execa, type Options, type Result } from 'execa';
import { TEST_BUSYBOX } from './dockerd.js';
import { WRAPPER } from './e2e.js';

// Not the stack's own /bin/busybox: sid's (1.38) vforks for every external command. The red CI of
// 2026-12-03 on sid was a dump that timed out on "Unseizable non-zombie … state D" — the loop's shell,
// with a child alive, as a vfork parent waits; not reproduced in 130 dumps here, so suspected only.
export const BUSYBOX = TEST_BUSYBOX;

export interface Bundle {
  dir: string;
  rootfs: string;
  /** Rewrites config.json through `edit`. */
  update(edit: (config: OciConfig) => void): Promise<void>;
}

export interface OciConfig {
  process: { terminal: boolean; args: string[]; [k: string]: unknown };
  mounts: Array<{ destination: string; type?: string; source: string; options?: string[] }>;
  [k: string]: unknown;
}

/** `runc spec` in `dir`, a busybox rootfs, no terminal, `args` as the process. */
export async function makeBundle(dir: string, args: string[]): Promise<Bundle> {
  const rootfs = join(dir, 'rootfs');
  for (const sub of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc']) await mkdir(join(rootfs, sub), { recursive: true });
  await copyFile(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'sleep', 'cat', 'echo', 'usleep', 'mv', 'ls', 'true'])
    await symlink('busybox', join(rootfs, 'bin', applet));
  await execa('runc', ['spec'], { cwd: dir });
  const bundle: Bundle = {
    dir,
    rootfs,
    async update(edit) {
      const path = join(dir, 'config.json');
      const config = JSON.parse(await readFile(path, 'utf8')) as OciConfig;
      edit(config);
      await writeFile(path, JSON.stringify(config, null, 2));
    },
  };
  await bundle.update((c) => {
    c.process.terminal = false;
    c.process.args = args;
    // A writable rootfs: the loops write into it.
    (c.root as { readonly: boolean }).readonly = false;
    // runc's default cgroup is /<ID>: two roots with the same ID would share one (and its freezer).
    (c.linux as { cgroupsPath?: string }).cgroupsPath = `/extmount-test-${randomUUID()}`;
  });
  return bundle;
}

/** runc itself, or the wrapper: same argv, same cwd, stdio on /dev/null unless given. */
export type Runtime = (args: string[], options?: Options) => Promise<Result>;

export function runtime(command: 'runc' | 'wrapper', env: Record<string, string> = {}): Runtime {
  const file = command === 'runc' ? 'runc' : WRAPPER;
  return (args, options = {}) =>
    execa(file, args, {
      reject: false,
      stdin: 'ignore',
      ...options,
      env: { ...process.env, EXTMOUNT_RUNC: 'runc', ...env, ...(options.env ?? {}) },
    }) as Promise<Result>;
}
