// What hooks/extmount-runc runs (bundled into main.bundle.mjs, with its chunks beside it: restore's, which
// holds the YAML parser, is loaded only for restore): the signal relay first, then the handler.
//
// The relay is installed before the handler's modules are even evaluated, so that from the first
// moment a signal is held for runc instead of ending Node.js or opening its inspector (SIGUSR1).
import { SignalRelay } from './signals.js';

const relay = new SignalRelay().install();
const { runWrapper } = await import('./main.js');
const env = process.env;
const status = await runWrapper(process.argv.slice(2), env, { relay });
const signal = relay.deathSignal();
if (signal) relay.dieBy(signal);
process.exit(status);
