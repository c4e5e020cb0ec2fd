// `extmount checkpoint --pid PID --images-dir DIR`: a plain CRIU dump that keeps external mounts.
import { ExtmountError } from '../core/errors.js';
import type { CommandContext } from './context.js';

export interface CheckpointOptions {
  pid: number;
  imagesDir: string;
  keys: ReadonlyMap<string, string>;
  leaveRunning: boolean;
  criuArgs: string[];
}

export async function runCheckpoint(_options: CheckpointOptions, _ctx: CommandContext): Promise<void> {
  throw new ExtmountError('usage', 'checkpoint --pid is not implemented yet');
}
