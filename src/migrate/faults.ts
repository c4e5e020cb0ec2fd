// Fault injection for tests: EXTMOUNT_MIGRATE_FAULT=<point>[:stop] ends (or stops) migrate abruptly at a named point. Off by default.
import { ExtmountError } from '../core/errors.js';

export const FAULT_POINTS = [
  'after-preflight',
  'after-checkpoint',
  'after-create',
  'after-copy',
  'before-start',
  'after-start',
  'after-source-removed',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export const FAULT_ENV = 'EXTMOUNT_MIGRATE_FAULT';
/** The exit status of a process killed by SIGKILL, as a shell reports it. */
export const FAULT_EXIT = 137;

export interface Faults {
  /** Called at each named point; does nothing unless a fault is armed there. */
  at(point: FaultPoint): Promise<void>;
}

export const noFaults: Faults = { at: async () => undefined };

export interface FaultActions {
  /** Ends the process at once: no cleanup, no rollback (a crash or `kill -9`). */
  crash(): never;
  /** Stops the process (SIGSTOP) until a test continues it (SIGCONT), so the test can break things meanwhile. */
  stop(): void;
}

const processActions: FaultActions = {
  crash: () => process.exit(FAULT_EXIT),
  stop: () => process.kill(process.pid, 'SIGSTOP'),
};

/** `point` crashes there; `point:stop` stops there and carries on when continued. */
export function faultsFromEnv(env: NodeJS.ProcessEnv, actions: FaultActions = processActions): Faults {
  const value = env[FAULT_ENV];
  if (!value) return noFaults;
  const [point, action = 'exit', ...rest] = value.split(':');
  if (!FAULT_POINTS.includes(point as FaultPoint) || (action !== 'exit' && action !== 'stop') || rest.length > 0) {
    throw new ExtmountError(
      'usage',
      `${FAULT_ENV}="${value}": expected POINT or POINT:stop, POINT one of ${FAULT_POINTS.join(', ')}`,
    );
  }
  return {
    async at(here) {
      if (here !== point) return;
      if (action === 'exit') {
        process.stderr.write(`extmount: fault injected at ${here}: exiting at once\n`);
        actions.crash();
      }
      actions.stop();
    },
  };
}
