// `extmount install-runtime`: the daemon.json entry that registers hooks/extmount-runc with dockerd.
import { ExtmountError } from '../core/errors.js';
import type { CommandContext } from './context.js';

export interface InstallRuntimeOptions {
  apply: boolean;
  name: string;
  /** daemon.json to merge into with --apply. */
  daemonJson: string;
}

export async function runInstallRuntime(_options: InstallRuntimeOptions, _ctx: CommandContext): Promise<void> {
  throw new ExtmountError('usage', 'install-runtime is not implemented yet');
}
