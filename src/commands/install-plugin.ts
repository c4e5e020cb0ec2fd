// `extmount install-plugin`: links hooks/docker-extmount into the docker CLI's plugin folder, so `docker extmount …` works.
//
// The folder is opened once with O_DIRECTORY|O_NOFOLLOW and everything below happens through
// /proc/self/fd/N: a cli-plugins folder swapped for a symlink after the check cannot redirect the link.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  lstat,
  mkdir,
  open,
  readlink,
  realpath,
  rename,
  symlink,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExtmountError, fileError } from '../core/errors.js';
import { planPluginLink, type LinkState, type PluginLinkPlan } from '../core/docker/plugin-link.js';
import { dockerConfigDir } from '../adapters/docker/docker-cli-config.js';
import type { CommandContext } from './context.js';

export const PLUGIN_ENTRY = fileURLToPath(new URL('../../../hooks/docker-extmount', import.meta.url));
const LINK_NAME = 'docker-extmount';

export async function runInstallPlugin(options: { apply: boolean }, ctx: CommandContext): Promise<void> {
  try {
    await access(PLUGIN_ENTRY, constants.X_OK);
  } catch (err) {
    throw fileError('use the plugin entry', PLUGIN_ENTRY, err);
  }
  const pluginDir = join(dockerConfigDir(ctx.io.env), 'cli-plugins');
  let plan = planPluginLink(join(pluginDir, LINK_NAME), PLUGIN_ENTRY, await linkState(join(pluginDir, LINK_NAME)));
  if (options.apply && plan.action !== 'none') plan = await applyPlan(pluginDir, plan);
  const applied = options.apply && plan.action !== 'none';
  if (ctx.json) {
    ctx.io.out(JSON.stringify({ ...plan, applied }, null, 2));
    return;
  }
  ctx.io.out(describePlan(plan, applied));
  if (!options.apply && plan.action !== 'none') ctx.io.err('run extmount install-plugin --apply to do it');
}

function describePlan(plan: PluginLinkPlan, applied: boolean): string {
  const arrow = `${plan.link} → ${plan.target}`;
  if (plan.action === 'none') return `${arrow} is already there; nothing to do`;
  const verb =
    plan.action === 'create' ? (applied ? 'created' : 'would create') : applied ? 'replaced' : 'would replace';
  const was = plan.previous ? ` (was → ${plan.previous})` : '';
  return `${verb} ${arrow}${was}${applied ? '; docker extmount --help shows it works' : ''}`;
}

async function linkState(path: string): Promise<LinkState> {
  let stat;
  try {
    stat = await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    throw fileError('inspect', path, err);
  }
  if (!stat.isSymbolicLink()) return { kind: 'other', what: stat.isDirectory() ? 'a directory' : 'a file' };
  const target = await readlink(path);
  const resolved = await realpath(path).catch(() => undefined);
  return {
    kind: 'symlink',
    target,
    resolvesToUs: resolved !== undefined && resolved === (await realpath(PLUGIN_ENTRY).catch(() => PLUGIN_ENTRY)),
  };
}

/** Creates or replaces the link inside the folder as it was opened; decides again on what is there then. */
async function applyPlan(pluginDir: string, planned: PluginLinkPlan): Promise<PluginLinkPlan> {
  try {
    await mkdir(pluginDir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw fileError('create', pluginDir, err);
  }
  const dir = await openFolder(pluginDir);
  try {
    const here = `/proc/self/fd/${dir.fd}`;
    const plan = planPluginLink(planned.link, planned.target, await linkState(join(here, LINK_NAME)));
    if (plan.action === 'create') {
      await symlink(plan.target, join(here, LINK_NAME)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST')
          throw new ExtmountError('refused', `${plan.link} appeared while extmount was linking it`, {
            hint: 'look at what put it there, then run again',
          });
        throw fileError('create', plan.link, err);
      });
    } else if (plan.action === 'replace') {
      // A new link under a random name, renamed over the old one: the plugin is never missing.
      const temp = join(here, `.${LINK_NAME}.${randomBytes(8).toString('hex')}.tmp`);
      try {
        await symlink(plan.target, temp);
        await rename(temp, join(here, LINK_NAME));
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw fileError('replace', plan.link, err);
      }
    }
    return plan;
  } finally {
    await dir.close();
  }
}

/** The plugin folder, refused when it is a symlink, or someone else owns it, or anyone may write into it. */
async function openFolder(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      // O_NOFOLLOW|O_DIRECTORY on a symlink fails with ENOTDIR on Linux: lstat says which it is.
      const symlinked = (await lstat(path).catch(() => undefined))?.isSymbolicLink() ?? false;
      throw new ExtmountError(
        'refused',
        `${path} is ${symlinked ? 'a symlink' : 'not a directory'}; extmount links the plugin only into a real folder`,
        {
          hint: `make it a folder, or link ${LINK_NAME} by hand: ln -s ${PLUGIN_ENTRY} ${path}/${LINK_NAME}`,
        },
      );
    }
    throw fileError('open', path, err);
  }
  const stat = await handle.stat();
  const uid = process.getuid?.() ?? 0;
  if ((stat.uid !== uid && stat.uid !== 0) || (stat.mode & 0o002) !== 0) {
    await handle.close();
    throw new ExtmountError(
      'refused',
      `${path} may be written by others (owner ${stat.uid}, mode ${(stat.mode & 0o777).toString(8)}); extmount does not link the plugin there`,
      {
        hint: `chmod o-w ${path} (and own it), then run again`,
      },
    );
  }
  return handle;
}
