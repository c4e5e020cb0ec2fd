// The runc wrapper's slow path: hooks/extmount-runc execs entry.ts (bundled) for `checkpoint` and `restore`.
//
// The handler is runc's stand-in for its caller: runc gets the same argv, fds and signals (signals.ts),
// and the wrapper ends as runc ended (exit status, or the same signal). What extmount cannot act on —
// help, a command line runc refuses, a container runc does not know — is runc's to answer, unchanged.
// Where extmount stops runc from running (a manifest or restore target it refuses), it exits 2 (refused)
// or 1 (failed) with one `extmount: ` line.
import { loadConfig } from '../adapters/config-file.js';
import { checkStateDir } from '../adapters/fs/state-dir.js';
import { extmountVersion } from '../adapters/package-info.js';
import { ExtmountError, formatError } from '../core/errors.js';
import { parseRuncArgv } from '../core/runtime/runc-argv.js';
import { handleCheckpoint } from './checkpoint.js';
import type { RuntimeContext } from './context.js';
import { inheritedFds } from './inherited-fds.js';
import { appendRuncLog, writeStderr } from './report.js';
import { runcAnswers } from './passthrough.js';
import type { SignalRelay } from './signals.js';

export interface WrapperIo {
  cwd: string;
  fds: readonly number[];
  relay?: SignalRelay;
}

export async function runWrapper(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io?: Partial<WrapperIo>,
): Promise<number> {
  const invocation = parseRuncArgv(argv);
  // hooks/extmount-runc on `pause`, before it execs runc pause: prepare the checkpoint that may follow.
  if (invocation.verb === 'pause' && env.EXTMOUNT_PREPARE === '1')
    return (await import('./prepare.js')).prepareOnPause(invocation, env, io?.cwd ?? process.cwd());
  try {
    const config = await loadConfig(env.EXTMOUNT_CONFIG || undefined);
    const ctx: RuntimeContext = {
      config,
      runc: env.EXTMOUNT_RUNC || config.runc,
      env,
      version: extmountVersion(),
      cwd: io?.cwd ?? process.cwd(),
      fds: io?.fds ?? inheritedFds(env),
      ...(io?.relay ? { relay: io.relay } : {}),
    };
    const ours =
      (invocation.verb === 'checkpoint' || invocation.verb === 'restore') &&
      !invocation.help &&
      !invocation.usageProblem;
    if (!ours) return await runcAnswers(argv, ctx);
    await checkStateDir(config.stateDir);
    const preparedStatus = Number(env.EXTMOUNT_PREPARED_STATUS);
    if (invocation.verb === 'checkpoint' && Number.isInteger(preparedStatus) && preparedStatus > 0)
      return await (await import('./prepare.js')).preparedCheckpointFailed(invocation, ctx, preparedStatus);
    if (invocation.verb === 'checkpoint') return await handleCheckpoint(invocation, argv, ctx);
    // Loaded only for restore: it brings the YAML parser, whose loading a checkpoint (inside the
    // container's freeze) does not need to pay.
    return await (await import('./restore.js')).handleRestore(invocation, argv, ctx);
  } catch (err) {
    const lines = formatError(err, env.EXTMOUNT_DEBUG === '1');
    writeStderr(lines);
    await appendRuncLog(invocation, 'error', lines[0]!);
    return err instanceof ExtmountError ? err.exitCode : 1;
  }
}
