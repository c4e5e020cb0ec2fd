// What hooks/extmount-runc runs, through src/runtime/handler.cts (bundled into handler.bundle.cjs, which is
// compiled from the code cache the build made for it): the signal relay first, then the handler.
//
// The relay is installed before the handler's modules are even evaluated (they load on import()), so that
// from the first moment a signal is held for runc instead of ending Node.js or opening its inspector (SIGUSR1).
import { SignalRelay } from './signals.js';

export async function run(argv: string[]): Promise<void> {
  const relay = new SignalRelay().install();
  const { runWrapper } = await import('./main.js');
  const status = await runWrapper(argv, process.env, { relay });
  const signal = relay.deathSignal();
  if (signal) relay.dieBy(signal);
  process.exit(status);
}

/** The build's code cache holds what evaluating every module of the handler compiles (scripts/build-bundles.ts). */
export async function warm(): Promise<void> {
  await Promise.all([import('./main.js'), import('./prepare.js'), import('./restore.js')]);
}
