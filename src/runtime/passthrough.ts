// runc alone, as the caller called it (crun: its restore argv as argvForRuntime reads it): for whatever extmount has nothing to add to.
import { runRunc } from '../adapters/criu/runc.js';
import { argvForRuntime } from '../core/runtime/crun-compat.js';
import { runcEnv, type RuntimeContext } from './context.js';
import { writeStderr } from './report.js';

/** Runs runc with the caller's argv (crun: argvForRuntime), fds and signals; its exit status is the answer. */
export async function runcAnswers(argv: readonly string[], ctx: RuntimeContext): Promise<number> {
  const run = await runRunc(ctx.runc, argvForRuntime(argv, ctx.runc), {
    env: runcEnv(ctx.env, undefined),
    captureStderr: false,
    fds: ctx.fds,
    ...(ctx.relay ? { relay: ctx.relay } : {}),
  });
  // Only a runc that could not be started has a message here (what a shell says then).
  writeStderr(run.stderr ? [run.stderr.replace(/\n$/, '')] : []);
  return run.exitCode;
}
