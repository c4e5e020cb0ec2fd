// `extmount checkpoint CONTAINER` / `extmount restore CONTAINER`: Docker checkpoints through the engine's API.
import { ExtmountError } from '../core/errors.js';
import type { CommandContext } from './context.js';

export interface ContainerCheckpointOptions {
  ref: string;
  name: string | undefined;
  leaveRunning: boolean;
}

export interface ContainerRestoreOptions {
  ref: string;
  name: string | undefined;
  /** KEY → host path (--map KEY=PATH). */
  maps: ReadonlyMap<string, string>;
}

export async function runContainerCheckpoint(_options: ContainerCheckpointOptions, _ctx: CommandContext): Promise<void> {
  throw new ExtmountError('usage', 'checkpoint CONTAINER is not implemented yet');
}

export async function runContainerRestore(_options: ContainerRestoreOptions, _ctx: CommandContext): Promise<void> {
  throw new ExtmountError('usage', 'restore CONTAINER is not implemented yet');
}
