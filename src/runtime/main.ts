// Entry of the runc wrapper's slow path: hooks/extmount-runc execs this for `checkpoint` and `restore` only.
// Exit code: runc's, or 2 (bad input, refused) / 1 (failed) when extmount stops before runc runs.
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../adapters/config-file.js';
import { extmountVersion } from '../adapters/package-info.js';
import { runRunc } from '../adapters/runc.js';
import { ExtmountError, formatError } from '../core/errors.js';
import { parseRuncArgv } from '../core/runc-argv.js';
import { handleCheckpoint } from './checkpoint.js';
import { runcEnv, type RuntimeContext } from './context.js';
import { appendRuncLog, writeStderr } from './report.js';
import { handleRestore } from './restore.js';

export async function runWrapper(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const invocation = parseRuncArgv(argv);
  try {
    const config = await loadConfig(env.EXTMOUNT_CONFIG || undefined);
    const ctx: RuntimeContext = { config, runc: env.EXTMOUNT_RUNC || config.runc, env, version: extmountVersion() };
    switch (invocation.verb) {
      case 'checkpoint':
        return await handleCheckpoint(invocation, argv, ctx);
      case 'restore':
        return await handleRestore(invocation, argv, ctx);
      default:
        // The shell wrapper sends only these two verbs here; anything else goes to runc untouched.
        return (await runRunc(ctx.runc, argv, { env: runcEnv(env, undefined), captureStderr: false })).exitCode;
    }
  } catch (err) {
    const lines = formatError(err, env.EXTMOUNT_DEBUG === '1');
    writeStderr(lines);
    await appendRuncLog(invocation, 'error', lines[0]!);
    return err instanceof ExtmountError ? err.exitCode : 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1])) {
  process.exitCode = await runWrapper(process.argv.slice(2), process.env);
}
