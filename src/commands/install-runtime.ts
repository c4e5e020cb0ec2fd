// `extmount install-runtime`: the daemon.json entry that registers hooks/extmount-runc with dockerd, or
// (--podman) the containers.conf drop-in and the extmount config that register it with Podman.
import { constants } from 'node:fs';
import { access, mkdir, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type Config } from '../core/config.js';
import { mergeRuntimeEntry, runtimeEntry } from '../core/docker/daemon-json.js';
import { ExtmountError } from '../core/errors.js';
import { dropInAction, podmanDropIn, updateRuntimeConfig } from '../core/podman/podman-conf.js';
import { createFileExclusive, writeFileAtomic } from '../adapters/fs/atomic-write.js';
import { READ_LIMITS, readUntrustedIfExists } from '../adapters/fs/untrusted-file.js';
import type { CommandContext } from './context.js';

export interface InstallRuntimeOptions {
  apply: boolean;
  name: string;
  /** daemon.json to merge into with --apply. */
  daemonJson: string;
}

/** FILE.extmount-backup-<UTC time>: beside the file, created exclusively before the file is replaced. */
function backupPath(file: string): string {
  return `${file}.extmount-backup-${new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

export const WRAPPER_PATH = fileURLToPath(new URL('../../../hooks/extmount-runc', import.meta.url));

export async function runInstallRuntime(options: InstallRuntimeOptions, ctx: CommandContext): Promise<void> {
  const entry = runtimeEntry(options.name, WRAPPER_PATH);
  if (!options.apply) {
    ctx.io.out(JSON.stringify(entry, null, ctx.json ? 2 : undefined));
    if (!ctx.json)
      ctx.io.err(`add this to ${options.daemonJson} (or run with --apply), then reload dockerd (kill -HUP its pid)`);
    return;
  }
  const file = options.daemonJson;
  // Refuses a symlink, a FIFO or a huge file before anything is written.
  const current = await readUntrustedIfExists(file, READ_LIMITS.daemonJson);
  const text = current?.bytes.toString('utf8');
  const merged = mergeRuntimeEntry(text, file, options.name, WRAPPER_PATH);
  let backup: string | null = null;
  if (merged.changed) {
    backup = await replaceKeepingBackup(file, current, merged.text);
  }
  const report = {
    daemonJson: file,
    runtime: options.name,
    path: WRAPPER_PATH,
    changed: merged.changed,
    replaced: merged.replaced,
    backup,
  };
  if (ctx.json) {
    ctx.io.out(JSON.stringify(report, null, 2));
    return;
  }
  ctx.io.out(
    merged.changed
      ? `${merged.replaced ? 'replaced' : 'added'} runtime "${options.name}" → ${WRAPPER_PATH} in ${file}${backup ? ` (backup: ${backup})` : ''}; reload dockerd (kill -HUP its pid) to use it`
      : `runtime "${options.name}" → ${WRAPPER_PATH} is already in ${file}; nothing changed`,
  );
}

// ---- Podman: a containers.conf drop-in, and the extmount config the wrapper reads without any environment ----

export interface InstallPodmanOptions {
  apply: boolean;
  name: string;
  /** The drop-in to write (default /etc/containers/containers.conf.d/extmount.conf). */
  containersConf: string;
  /** The extmount config the wrapper reads (default /etc/extmount/config.json). */
  runtimeConfig: string;
}

export const PODMAN_DROP_IN = '/etc/containers/containers.conf.d/extmount.conf';

/** Where a bare "runc" or "criu" is looked for: PATH, then the usual system folders (Podman gives the runtime none). */
const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export async function findExecutable(
  name: string,
  envPath: string | undefined,
  not: string[] = [],
): Promise<string | undefined> {
  if (name.startsWith('/')) return name;
  const avoid = new Set(await Promise.all(not.map((p) => realpath(p).catch(() => p))));
  const dirs = [...(envPath ?? '').split(':').filter((d) => d.startsWith('/')), ...SYSTEM_PATH];
  for (const dir of new Set(dirs)) {
    const candidate = join(dir, name);
    try {
      const st = await stat(candidate);
      if (!st.isFile()) continue;
      await access(candidate, constants.X_OK);
      if (avoid.has(await realpath(candidate))) continue;
      return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}

export async function runInstallPodman(options: InstallPodmanOptions, ctx: CommandContext): Promise<void> {
  const dropIn = podmanDropIn(options.name, WRAPPER_PATH);
  // Both files are read (and refused when they are not ours) before either is written.
  const currentDropIn = await readUntrustedIfExists(options.containersConf, READ_LIMITS.containersConf);
  const dropInPlan = dropInAction(currentDropIn?.bytes.toString('utf8'), dropIn, options.containersConf);
  const currentConfig = await readUntrustedIfExists(options.runtimeConfig, READ_LIMITS.config);
  const configText = currentConfig?.bytes.toString('utf8');
  const wanted = configText === undefined ? undefined : parseConfigText(configText, options.runtimeConfig);
  const find = async (field: 'runc' | 'criu'): Promise<string> => {
    const name = wanted?.[field] ?? ctx.config[field];
    const found = await findExecutable(name, ctx.io.env.PATH, [WRAPPER_PATH]);
    if (!found) {
      throw new ExtmountError('bad-input', `${field} "${name}" was not found in PATH nor in ${SYSTEM_PATH.join(':')}`, {
        hint: `install it, or set "${field}" to its absolute path in ${options.runtimeConfig}`,
      });
    }
    return found;
  };
  const update = updateRuntimeConfig(configText, options.runtimeConfig, {
    runc: await find('runc'),
    node: process.execPath,
    criu: await find('criu'),
  });
  let backup: string | null = null;
  if (options.apply) {
    if (update.action !== 'none') {
      await mkdir(dirname(options.runtimeConfig), { recursive: true, mode: 0o755 });
      backup = await replaceKeepingBackup(options.runtimeConfig, currentConfig, update.text);
    }
    if (dropInPlan !== 'none') {
      await mkdir(dirname(options.containersConf), { recursive: true, mode: 0o755 });
      await writeFileAtomic(options.containersConf, dropIn, { mode: 0o644 });
    }
  }
  const report = {
    podman: { containersConf: options.containersConf, runtime: options.name, path: WRAPPER_PATH, action: dropInPlan },
    config: { file: options.runtimeConfig, action: update.action, ...update.paths, backup },
    applied: options.apply,
  };
  if (ctx.json) {
    ctx.io.out(JSON.stringify(report, null, 2));
    return;
  }
  if (!options.apply) {
    ctx.io.out(`# ${options.containersConf}\n${dropIn}\n# ${options.runtimeConfig}\n${update.text}`);
    ctx.io.err(`write these files (or run with --apply), then: podman --runtime ${options.name} run …`);
    return;
  }
  const said = (action: string, what: string) =>
    action === 'none'
      ? `${what}: already there, nothing changed`
      : `${what}: ${action === 'create' ? 'created' : action === 'replace' ? 'replaced' : 'updated'}`;
  ctx.io.out(said(dropInPlan, `${options.containersConf} (runtime "${options.name}" → ${WRAPPER_PATH})`));
  ctx.io.out(
    said(
      update.action,
      `${options.runtimeConfig} (runc ${update.paths.runc}, node ${update.paths.node}, criu ${update.paths.criu})${backup ? ` (backup: ${backup})` : ''}`,
    ),
  );
  ctx.io.out(`use it with: podman --runtime ${options.name} run …`);
}

function parseConfigText(text: string, origin: string): Config | undefined {
  try {
    return parseConfig(JSON.parse(text), origin);
  } catch {
    return undefined; // updateRuntimeConfig says what is wrong with it
  }
}

// ---- containerd 2.x (Kubernetes nodes): a CRI runtime handler drop-in, the main config's imports, a RuntimeClass ----

export interface InstallContainerdOptions {
  apply: boolean;
  name: string;
  /** containerd's main config, whose `imports` must cover the drop-in (default /etc/containerd/config.toml). */
  containerdConfig: string;
  /** The drop-in to write (default /etc/containerd/conf.d/extmount.toml). */
  dropIn: string;
}

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const CONTAINERD_DROP_IN = '/etc/containerd/conf.d/extmount.toml';

export async function runInstallContainerd(options: InstallContainerdOptions, ctx: CommandContext): Promise<void> {
  const { addContainerdImport, containerdDropIn, containerdDropInAction, runtimeClassManifest } =
    await import('../core/kube/containerd-conf.js');
  const { stringify } = await import('yaml');
  if (!options.dropIn.startsWith('/') || !options.containerdConfig.startsWith('/')) {
    throw new ExtmountError('usage', '--drop-in and --containerd-config take absolute paths', {
      hint: 'see extmount install-runtime --help',
    });
  }
  const manifest = runtimeClassManifest(options.name);
  const dropIn = containerdDropIn(options.name, WRAPPER_PATH);
  // Both files are read (and refused when they are not ours or not safe to edit) before either is written.
  const currentDropIn = await readUntrustedIfExists(options.dropIn, READ_LIMITS.containersConf);
  const dropInPlan = containerdDropInAction(currentDropIn?.bytes.toString('utf8'), dropIn, options.dropIn);
  const currentMain = await readUntrustedIfExists(options.containerdConfig, READ_LIMITS.containersConf);
  const imports = addContainerdImport(currentMain?.bytes.toString('utf8'), options.containerdConfig, options.dropIn);
  let backup: string | null = null;
  if (options.apply) {
    if (dropInPlan !== 'none') {
      await mkdir(dirname(options.dropIn), { recursive: true, mode: 0o755 });
      await writeFileAtomic(options.dropIn, dropIn, { mode: 0o644 });
    }
    if (imports.action !== 'none') {
      await mkdir(dirname(options.containerdConfig), { recursive: true, mode: 0o755 });
      backup = await replaceKeepingBackup(options.containerdConfig, currentMain, imports.text);
    }
  }
  const changed = dropInPlan !== 'none' || imports.action !== 'none';
  const report = {
    containerd: {
      dropIn: { file: options.dropIn, action: dropInPlan },
      config: { file: options.containerdConfig, action: imports.action, backup },
      runtime: options.name,
      path: WRAPPER_PATH,
    },
    runtimeClass: manifest,
    applied: options.apply,
  };
  if (ctx.json) {
    ctx.io.out(JSON.stringify(report, null, 2));
    return;
  }
  const restart = 'restart containerd (systemctl restart containerd)';
  if (!options.apply) {
    ctx.io.out(
      `# ${options.dropIn}\n${dropIn}\n# ${options.containerdConfig}: ${imports.action === 'none' ? 'its imports already cover the drop-in' : `top-level ${imports.text.split('\n').find((l) => /^\s*imports\s*=/.test(l))}`}\n\n# the RuntimeClass (kubectl apply -f -)\n${stringify(manifest)}`,
    );
    ctx.io.err(
      `write these (or run with --apply), ${restart}, then kubectl apply the RuntimeClass and set runtimeClassName: ${options.name} in the Pod`,
    );
    return;
  }
  const said = (action: string, what: string) =>
    action === 'none'
      ? `${what}: already there, nothing changed`
      : `${what}: ${action === 'create' ? 'created' : action === 'replace' ? 'replaced' : 'updated'}`;
  ctx.io.out(said(dropInPlan, `${options.dropIn} (handler "${options.name}" → ${WRAPPER_PATH})`));
  ctx.io.out(said(imports.action, `${options.containerdConfig} (imports)${backup ? ` (backup: ${backup})` : ''}`));
  ctx.io.out(`${changed ? `${restart}; ` : ''}the RuntimeClass (kubectl apply -f -):\n${stringify(manifest)}`);
}

/** Writes `text` to `path` atomically, its mode kept; what was there first goes to a new backup file, whose path is returned. */
async function replaceKeepingBackup(
  path: string,
  current: { bytes: Buffer; stat: { mode: number } } | undefined,
  text: string,
): Promise<string | null> {
  const mode = current ? current.stat.mode & 0o777 : 0o644;
  let backup: string | null = null;
  if (current) {
    backup = backupPath(path);
    await createFileExclusive(backup, current.bytes, { mode });
  }
  await writeFileAtomic(path, text, { mode });
  return backup;
}
