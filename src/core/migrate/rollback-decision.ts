// The rollback decisions of migrate, pure: once the source is frozen and something failed, what may be
// brought back where, and what the error says. src/migrate/migrate.ts observes, calls these, and acts.
// The rule: the container is never lost and never runs twice, so the source comes back only when no
// copy can be running on the target.
import { ExtmountError } from '../errors.js';
import { LABEL_FROM } from './migrate-config.js';

/** What a rollback knows of the failed migration. */
export interface RollbackFacts {
  name: string;
  /** --from and --to, as the user named them. */
  source: string;
  target: string;
  checkpoint: string;
  /** One line for what failed (describeFailure). */
  cause: string;
  /** What failed, as far as code decides on it. */
  failure: 'unreachable' | 'criu-failed' | 'other';
  /** The copy on the target, once created. */
  copyId: string | undefined;
  /** Start was asked for: the copy may run. */
  startIssued: boolean;
  /** The start got no answer (the engine died during it): its process may run with the engine saying it never started. */
  startUnanswered: boolean;
}

/** Whether the copy's engine must be asked if it shows the copy running (before its processes are looked for). */
export function mustInspectCopy(f: RollbackFacts): boolean {
  return !!f.copyId && f.startIssued && !f.startUnanswered;
}

/**
 * Whether the copy's processes are looked for on this host: a start answered with an error can leave
 * the process too (an engine shutting down answers 500 while the shim restores on), and one that got
 * no answer may have run it (moby#40613); so whenever the engine does not show the copy running.
 */
export function mustEndCopyTask(f: RollbackFacts, shownRunning: boolean | undefined): boolean {
  return !!f.copyId && f.startIssued && (f.startUnanswered || shownRunning === false);
}

/** The copy's task could not be seen after a start that got no answer: the source stays stopped. */
export function unseenTaskRefusal(
  f: RollbackFacts,
  ended: 'ended' | 'none' | 'unknown',
  cause: unknown,
): ExtmountError | undefined {
  if (ended !== 'unknown' || !f.startUnanswered || !f.copyId) return undefined;
  return new ExtmountError(
    'docker-failed',
    `migration of ${f.name} failed while it was being started on ${f.target} (${f.cause}): whether that copy runs cannot be told from here (its engine may come back without it, moby#40613); so that it never runs twice, ${f.name} stays stopped on ${f.source} with its checkpoint ${f.checkpoint}`,
    {
      hint: `on ${f.target}, make sure no task of ${f.copyId.slice(0, 12)} runs (ctr -n moby tasks ls), remove that copy (docker rm -f ${f.copyId.slice(0, 12)}), then run migrate again`,
      cause,
    },
  );
}

/**
 * The copy could not be removed; RUNNING is what its engine shows (undefined: no answer). A copy that
 * may have started and is not shown stopped keeps the source stopped; else it is left, never started.
 */
export function copyNotRemovedRefusal(
  f: RollbackFacts,
  running: boolean | undefined,
  cause: unknown,
): ExtmountError | undefined {
  if (!f.startIssued || running === false) return undefined;
  return new ExtmountError(
    'docker-failed',
    `migration of ${f.name} failed after it was started on ${f.target} (${f.cause}), and that copy could not be removed; so that it never runs twice, ${f.name} stays stopped on ${f.source} with its checkpoint ${f.checkpoint}`,
    {
      hint: 'run the same migrate command again once the target answers: it finishes the move, or cleans up and moves it again (a target whose data is not on this host: check there first what the re-run names)',
      cause,
    },
  );
}

export type RollbackRoute = 'in-place' | 'network-disabled-copy';

/** Restoring the source from its checkpoint failed too: it stays stopped there with the checkpoint. */
export function restoreFailedError(
  f: RollbackFacts,
  route: RollbackRoute,
  restoreMessage: string,
  cause: unknown,
): ExtmountError {
  return new ExtmountError(
    'restore-failed',
    `migration of ${f.name} failed (${f.cause}); restoring it on ${f.source} from checkpoint ${f.checkpoint} failed too (${restoreMessage}): it is stopped there and keeps the checkpoint`,
    {
      hint:
        route === 'in-place'
          ? `bring it back with docker start --checkpoint ${f.checkpoint} ${f.name} on ${f.source}, or run migrate again`
          : 'run migrate again: it resumes from the checkpoint (containerd#12141 keeps docker start --checkpoint from restoring it there)',
      cause,
    },
  );
}

/** Rolled back: it runs on the source again (in place, or in a NetworkDisabled copy RESTOREDID). */
export function rolledBackError(
  f: RollbackFacts,
  o: { sourceId: string; restoredId: string; problem: string | undefined; copyLeft: boolean },
  cause: unknown,
): ExtmountError {
  const where =
    o.restoredId === o.sourceId
      ? ''
      : ` in a NetworkDisabled copy (${o.restoredId.slice(0, 12)}; containerd#12141 keeps ${f.source} from restoring it in place)${o.problem ? `, but ${o.problem}` : `, now named ${f.name}`}`;
  return new ExtmountError(
    'docker-failed',
    `migration of ${f.name} to ${f.target} failed: ${f.cause}; rolled back: it runs again on ${f.source}, restored from checkpoint ${f.checkpoint}${where}${o.copyLeft ? `; a never-started copy is left on ${f.target} (label ${LABEL_FROM}), the next migrate removes it` : ''}`,
    {
      // containerd deletes CRIU's restore log: say what most often makes a restore elsewhere fail.
      hint:
        f.failure === 'criu-failed'
          ? "CRIU reopens by path the files the process had open: on a --map'ed bind they must exist at the target path (the same data), or pass --copy-binds; the CRIU runtime on the target must work too"
          : 'fix what the message names on the target, then run migrate again',
      cause,
    },
  );
}

/** Post-copy, once the source was told to end (every page on the target): the copy there holds the only memory and is kept. */
export function liveMemoryMovedError(f: RollbackFacts, cause: unknown): ExtmountError {
  return new ExtmountError(
    'restore-failed',
    `migration of ${f.name} failed after every page of its memory had moved to ${f.target} (${f.cause}): the copy there holds the only memory, so it is left as it is (${f.copyId?.slice(0, 12)}); the stopped source on ${f.source} is kept`,
    {
      hint: `look at the copy on ${f.target} (docker logs ${f.copyId?.slice(0, 12)}); post-copy has no way back once the memory has moved`,
      cause,
    },
  );
}

/**
 * Post-copy, the copy could not be removed after its start: it may run there with every page, and its
 * engine may keep it; the source stays frozen, whole, until a re-run can see the copy (the caller tells
 * the source's wrapper to hold).
 */
export function liveCopyLeftRefusal(f: RollbackFacts, copyLeft: boolean, cause: unknown): ExtmountError | undefined {
  if (!copyLeft || !f.startIssued) return undefined;
  return new ExtmountError(
    'docker-failed',
    `post-copy migration of ${f.name} failed after it was started on ${f.target} (${f.cause}), and that copy could not be removed; so that it never runs twice, ${f.name} stays frozen (paused) on ${f.source}, its memory whole`,
    {
      hint: 'run the same migrate command again once the target answers: it finishes the move if the copy runs there, else resumes the source',
      cause,
    },
  );
}

/**
 * Post-copy, after the lazy dump was given up: the source resumed (its memory never left) unless the
 * dump had completed or the source is not running. resumed: the caller gives back the restart policy
 * and removes the checkpoint and the journal.
 */
export function liveRollbackEnd(
  f: RollbackFacts,
  o: {
    source: { running: boolean; paused: boolean } | undefined;
    dump: 'done' | 'failed' | 'pending';
    copyLeft: boolean;
  },
  cause: unknown,
): { resumed: boolean; error: ExtmountError } {
  if (o.source?.running && !o.source.paused && o.dump !== 'done') {
    return {
      resumed: true,
      error: new ExtmountError(
        'docker-failed',
        `post-copy migration of ${f.name} to ${f.target} failed: ${f.cause}; rolled back: it runs again on ${f.source}, where its memory never left (the lazy checkpoint was given up)${o.copyLeft ? `; the copy ${f.copyId?.slice(0, 12)} on ${f.target} could not be removed` : ''}`,
        {
          hint: 'fix what the message names, then run migrate again',
          cause,
        },
      ),
    };
  }
  const state = o.source ? (o.source.paused ? 'paused' : 'stopped') : 'gone';
  return {
    resumed: false,
    error: new ExtmountError(
      'restore-failed',
      `post-copy migration of ${f.name} to ${f.target} failed (${f.cause}) before every page had moved, and ${f.name} is not running on ${f.source} (${state}): its memory is lost; the copy on ${f.target} was ${o.copyLeft ? 'NOT removed' : 'removed'}`,
      {
        hint: `start it afresh (docker -H ${f.source} start ${f.name})`,
        cause,
      },
    ),
  };
}
