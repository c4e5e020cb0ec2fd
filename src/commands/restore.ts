// `extmount restore --images-dir DIR`: checks every target, then a plain CRIU restore.
import { ExtmountError } from '../core/errors.js';
import type { CommandContext } from './context.js';

export interface RestoreOptions {
  imagesDir: string;
  maps: ReadonlyMap<string, string>;
  foreground: boolean;
  criuArgs: string[];
}

export async function runRestore(_options: RestoreOptions, _ctx: CommandContext): Promise<void> {
  throw new ExtmountError('usage', 'restore --images-dir is not implemented yet');
}
