// What every wrapper handler gets, and how a per-call CRIU config file reaches `criu swrk`.
//
// runc starts `criu swrk 3` with its own environment (exec.Command without Env, libcontainer criuSwrk),
// and CRIU reads $CRIU_CONFIG_FILE when it parses its options at start, swrk mode included
// (criu/config.c next_config, PARSING_ENV_CONF); options given over RPC add to them. Setting it on this
// one runc call is therefore a per-container config. The alternatives leak: /etc/criu/runc.conf (runc's
// default RPC config file) is shared by every container, and the org.criu.config annotation is fixed
// when the container is created.
import { mkdir } from 'node:fs/promises';
import { READ_LIMITS, readBoundedText } from '../adapters/fs/untrusted-file.js';
import type { Config } from '../core/config.js';
import { ExtmountError } from '../core/errors.js';
import { workPathOf, type RuncInvocation } from '../core/runtime/runc-argv.js';
import { INHERITED_FDS_ENV } from './inherited-fds.js';
import type { SignalRelay } from './signals.js';

export interface RuntimeContext {
  config: Config;
  /** The real runc: $EXTMOUNT_RUNC, else the config's "runc". */
  runc: string;
  env: NodeJS.ProcessEnv;
  /** extmount's version, for the manifest. */
  version: string;
  /** runc's working directory (relative paths in its argv start there); the handler's own. */
  cwd: string;
  /** Fds above 2 that runc gets at the same number (inherited-fds.ts). */
  fds: readonly number[];
  /** Forwards the caller's signals to runc while it runs; absent when the handler runs in-process (tests). */
  relay?: SignalRelay;
}

/**
 * The environment for runc: ours, CRIU_CONFIG_FILE when this call has a CRIU config file, and the mark
 * hooks/extmount-runc checks so that a "runc" configured as the wrapper itself fails instead of looping.
 */
export function runcEnv(env: NodeJS.ProcessEnv, criuConfig: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && k !== INHERITED_FDS_ENV) out[k] = v;
  if (criuConfig) out.CRIU_CONFIG_FILE = criuConfig;
  out.EXTMOUNT_WRAPPED = '1';
  return out;
}

/** CRIU reads one $CRIU_CONFIG_FILE: keep the options of one the daemon already had, then add ours. */
export async function withInheritedCriuConfig(text: string, env: NodeJS.ProcessEnv): Promise<string> {
  const inherited = env.CRIU_CONFIG_FILE;
  if (!inherited) return text;
  const previous = await readBoundedText(inherited, READ_LIMITS.criuConfig).catch(() => undefined);
  return previous === undefined ? text : `# from ${inherited}\n${previous.replace(/\n?$/, '\n')}# extmount\n${text}`;
}

export function requireId(invocation: RuncInvocation): string {
  const id = invocation.containerId;
  if (!id) throw new ExtmountError('usage', `runc ${invocation.verb}: no container ID`);
  return id;
}

/**
 * `--work-path` made as runc makes it (libcontainer: os.Mkdir 0700, one already there kept) and crun
 * does not: containerd's shim names one that does not exist yet, and crun behind dockerd then fails
 * every checkpoint with "error opening CRIU work directory" (crun of trixie and sid). A missing parent
 * is left to the runtime to report.
 */
export async function makeWorkPath(invocation: RuncInvocation, cwd: string): Promise<void> {
  if (!invocation.options.get('work-path')) return;
  await mkdir(workPathOf(invocation, cwd), { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST' && err.code !== 'ENOENT') throw err;
  });
}
