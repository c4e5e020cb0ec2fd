// The handler stands between runc and its caller: every signal the caller sends reaches runc, as if the
// wrapper had exec'ed it. Imported first by main.ts, so the listeners are in place before anything else.
//
// runc 1.1 catches every signal once it runs (signals.go: signal.Notify with no list) and forwards them to
// the container's init on a foreground restore; before that, the default action applies to it. So: a
// signal that arrives before runc is spawned waits and is forwarded right after the spawn; one that
// arrives while runc runs is forwarded at once. A listener also keeps Node.js from opening its inspector
// on SIGUSR1 (nodejs/node#24543) and from exiting on SIGINT/SIGTERM/SIGHUP before runc has answered.
import { constants } from 'node:os';

/**
 * Not relayed: SIGKILL and SIGSTOP cannot be caught; SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS
 * are faults of this process, where a JS listener cannot run; SIGCHLD, SIGPIPE and SIGXFSZ are what the
 * kernel tells this process about its own children and writes, not what the caller sends.
 */
const NOT_RELAYED = new Set([
  'SIGKILL',
  'SIGSTOP',
  'SIGSEGV',
  'SIGBUS',
  'SIGFPE',
  'SIGILL',
  'SIGTRAP',
  'SIGSYS',
  'SIGCHLD',
  'SIGPIPE',
  'SIGXFSZ',
]);

/** Signals whose default action does not end a process (signal(7)): a runc that dies of one was never sent it. */
const DEFAULT_KEEPS_RUNNING = new Set(['SIGCHLD', 'SIGCONT', 'SIGURG', 'SIGWINCH']);

/** Job-control signals: their default action stops a process, it does not end it. */
const STOPS = new Set(['SIGTSTP', 'SIGTTIN', 'SIGTTOU']);

export const RELAYED_SIGNALS: readonly NodeJS.Signals[] = (Object.keys(constants.signals) as NodeJS.Signals[]).filter(
  // SIGIOT and SIGPOLL are other names of SIGABRT and SIGIO: one listener per number.
  (name) =>
    !NOT_RELAYED.has(name) && name !== 'SIGIOT' && name !== 'SIGPOLL' && name !== 'SIGUNUSED' && name !== 'SIGLOST',
);

interface Child {
  kill(signal: NodeJS.Signals): boolean;
}

export class SignalRelay {
  private readonly pending: NodeJS.Signals[] = [];
  private child: Child | undefined;
  private readonly listeners = new Map<NodeJS.Signals, () => void>();

  install(): this {
    for (const name of RELAYED_SIGNALS) {
      const listener = () => this.deliver(name);
      try {
        process.on(name, listener);
        this.listeners.set(name, listener);
      } catch {
        // A name this platform has in os.constants but libuv refuses: nothing can send it to us here.
      }
    }
    return this;
  }

  /** The signals received so far with nobody to forward them to. */
  get received(): readonly NodeJS.Signals[] {
    return this.pending;
  }

  /** From now on signals go to `child`; those that came before it are forwarded first, in order. */
  attach(child: Child): void {
    this.child = child;
    for (const name of this.pending.splice(0)) child.kill(name);
  }

  /** runc has exited; `signal` is the one it died of, if any. */
  detach(signal?: NodeJS.Signals): void {
    this.child = undefined;
    if (signal) this.childSignal = signal;
  }

  /** The signal the last runc died of: the wrapper then dies of it too. */
  childSignal: NodeJS.Signals | undefined;

  /** What the wrapper should die of after its cleanup: runc's death signal, else one received while no runc ran. */
  deathSignal(): NodeJS.Signals | undefined {
    return this.childSignal ?? this.pending.find((name) => !DEFAULT_KEEPS_RUNNING.has(name) && !STOPS.has(name));
  }

  private deliver(name: NodeJS.Signals): void {
    if (this.child) this.child.kill(name);
    else this.pending.push(name);
  }

  /**
   * Ends this process the way runc ended: by the same signal (as the caller would have seen runc die
   * after an exec), else with 128+n as a shell reports it.
   */
  dieBy(name: NodeJS.Signals): never {
    const listener = this.listeners.get(name);
    if (listener) process.removeListener(name, listener);
    if (!DEFAULT_KEEPS_RUNNING.has(name)) {
      try {
        process.kill(process.pid, name);
        // The signal may land on another of Node's threads; it ends the whole process, so wait for it.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
      } catch {
        // fall through to the exit status
      }
    }
    process.exit(signalExitStatus(name));
  }
}

/** Exit status as a shell reports a child that died of `name`. */
export function signalExitStatus(name: NodeJS.Signals): number {
  return 128 + (constants.signals[name] ?? 0);
}
