// The re-run decision of migrate, pure: what preflight observed on the source, the target, the journal,
// the checkpoints and the live files → fresh, resume, finish, or a refusal with its message. Every
// refusal preflight makes is built here (src/migrate/preflight.ts observes, calls these, and acts).
import { ExtmountError } from '../errors.js';
import { CHECKPOINT_PREFIX, type RestartPolicy } from './migrate-config.js';

/**
 * fresh: the container runs on the source; resume: an earlier run checkpointed it and was interrupted
 * before the target ran it; finish: an earlier run started it on the target and was interrupted before
 * removing the source.
 */
export type RerunMode = 'fresh' | 'resume' | 'finish';

/** What preflight saw of the container on the source and of an earlier run's traces, once any abandoned lazy dump was settled. */
export interface RerunObserved {
  /** The container's name (without the leading /). */
  name: string;
  /** --from and --to, as the user named them. */
  source: string;
  target: string;
  sourceId: string;
  state: { running: boolean; paused: boolean };
  /** The container's restart policy now (a run killed after clearing it left "no"). */
  restartPolicy: RestartPolicy | undefined;
  /** The journal an earlier run recorded on the source. */
  journal: { checkpoint: string; restartPolicy: RestartPolicy } | undefined;
  /** Checkpoints of the container on the source. */
  checkpoints: readonly string[];
  /** Containers labelled as migrated from it on the target, and whether each runs (or restarts, or is paused). */
  targetContainers: ReadonlyArray<{ id: string; running: boolean }>;
  /** A copy on the source that an earlier rollback (rollback-copy.ts) brought it back in, which runs. */
  takenOver: string | undefined;
  /** Whether the journal's checkpoint is a post-copy one (holds no memory); false when there is none. */
  journalCheckpointLazy: boolean;
}

export type RerunDecision =
  { mode: RerunMode; restartPolicy: RestartPolicy; staleCheckpoints: string[] } | { refusal: ExtmountError };

export function decideRerun(o: RerunObserved): RerunDecision {
  const { name, source, target, sourceId: sid } = o;
  const runningOnTarget = o.targetContainers.filter((c) => c.running);
  if (o.takenOver !== undefined) {
    return refuse(
      'refused',
      `an earlier rollback brought ${name} back on ${source} in the copy ${o.takenOver.slice(0, 12)}, which runs; the stopped original must not be moved as well`,
      {
        hint: `finish that rollback: docker rm ${sid.slice(0, 12)} extmount-migrate-${sid.slice(0, 12)}; docker rename ${o.takenOver.slice(0, 12)} ${name} (on ${source})`,
      },
    );
  }
  let mode: RerunMode;
  const journal = o.journal;
  if (o.state.paused) {
    return refuse('bad-input', `container ${name} is paused on ${source}`, {
      hint: 'unpause it first: migrate freezes it itself',
    });
  } else if (o.state.running) {
    if (runningOnTarget.length > 0) {
      return refuse(
        'refused',
        `${name} runs on ${source}, and a copy migrated from it (${runningOnTarget[0]!.id.slice(0, 12)}) runs on ${target}`,
        {
          hint: 'two copies must not run: remove the one you do not want, then run migrate again',
        },
      );
    }
    mode = 'fresh';
  } else if (journal && o.checkpoints.includes(journal.checkpoint)) {
    mode = runningOnTarget.length > 0 ? 'finish' : 'resume';
    if (mode === 'resume' && o.journalCheckpointLazy) {
      // Post-copy's one way to lose a process: every page had moved when the copy on the target died.
      return refuse(
        'refused',
        `${name} is stopped on ${source} with the checkpoint ${journal.checkpoint} of a post-copy migration (--live), which holds no memory: every page had moved to the copy on ${target}, and that copy is not running, so the process it froze is gone`,
        {
          hint: `start it afresh on either engine (docker start ${name}), then remove the checkpoint (docker checkpoint rm ${name} ${journal.checkpoint})${o.targetContainers.length > 0 ? ` and the stopped copy on ${target} (docker rm ${o.targetContainers[0]!.id.slice(0, 12)})` : ''}`,
        },
      );
    }
  } else if (journal) {
    // The journal is written before the checkpoint, whose name it holds; the engine lists the checkpoint
    // once the dump is done. Between the two a migrate is checkpointing it (from another host: this host's
    // lock would have refused this run), or one died while it did.
    return refuse(
      'busy',
      `${name} is stopped on ${source} by a migration whose checkpoint ${journal.checkpoint} is not there (yet): another migrate is checkpointing it now, or one died while it did`,
      {
        hint: `if no migrate of it runs any more, start it (docker start ${name}; its processes start afresh), then migrate again`,
      },
    );
  } else {
    const ours = o.checkpoints.filter((c) => c.startsWith(CHECKPOINT_PREFIX));
    return refuse('bad-input', `container ${name} is not running on ${source}`, {
      hint:
        ours.length > 0
          ? `it has the checkpoint ${ours[ours.length - 1]}: bring it back with docker start --checkpoint ${ours[ours.length - 1]} ${name}, then migrate`
          : 'start it first',
    });
  }
  // A run that stopped between recording the journal and the checkpoint left the policy at "no".
  const current = o.restartPolicy;
  const restartPolicy =
    journal && (!current?.Name || current.Name === 'no')
      ? journal.restartPolicy
      : {
          Name: current?.Name || 'no',
          ...(current?.MaximumRetryCount ? { MaximumRetryCount: current.MaximumRetryCount } : {}),
        };
  const staleCheckpoints = mode === 'fresh' ? o.checkpoints.filter((c) => c.startsWith(CHECKPOINT_PREFIX)) : [];
  return { mode, restartPolicy, staleCheckpoints };
}

/** What preflight saw on the target of a container the source no longer has, which a migration made there (label LABEL_FROM). */
export interface MovedObserved {
  ref: string;
  source: string;
  target: string;
  there: { id: string; running: boolean; status: string | undefined };
  /** The migration's checkpoints the copy still has there, sorted (looked for only when it does not run). */
  kept: readonly string[];
  /** Whether the last of them is a post-copy checkpoint (holds no memory). */
  lastKeptLazy: boolean;
}

/** A re-run after the move: say where it went, and what became of it there. */
export function movedRefusal(o: MovedObserved, cause?: unknown): ExtmountError {
  const { ref, target } = o;
  const moved = `no container "${ref}" on ${o.source}; it was migrated: ${ref} (${o.there.id.slice(0, 12)}) is on ${target}`;
  const status = o.there.status ?? 'stopped';
  const last = o.kept.at(-1);
  const withCause = cause === undefined ? {} : { cause };
  // The move had completed when the target's engine died, before migrate removed the checkpoint
  // there: the restarted engine killed the copy (no live-restore) and did not restart it.
  if (last !== undefined && o.lastKeptLazy) {
    return new ExtmountError(
      'bad-input',
      `${moved}, but it is not running there (${status}), and the process went with it: it was moved with post-copy (--live), and the migration's checkpoint ${last} there holds no memory`,
      {
        hint: `start it afresh there (docker -H ${target} start ${ref}), then docker -H ${target} checkpoint rm ${ref} ${last}`,
        ...withCause,
      },
    );
  }
  if (last !== undefined) {
    return new ExtmountError(
      'bad-input',
      `${moved}, but it is not running there (${status}) and the migration's checkpoint ${last} is still there`,
      {
        hint: `continue the moved process from it on that engine: docker -H ${target} start --checkpoint ${last} ${ref}, then docker -H ${target} checkpoint rm ${ref} ${last}`,
        ...withCause,
      },
    );
  }
  // The move had finished, checkpoint removed, when the target's engine died: it stopped the copy.
  if (!o.there.running) {
    return new ExtmountError(
      'bad-input',
      `${moved}, but it is not running there (${status}): the move had finished, and that engine stopped it since`,
      {
        hint: `start it afresh there: docker -H ${target} start ${ref}`,
        ...withCause,
      },
    );
  }
  return new ExtmountError('bad-input', moved, withCause);
}

/** The refusals preflight makes outside the re-run decision, each from what it observed. */
export const preflightRefusals = {
  sameEndpoint: (source: string) =>
    new ExtmountError('usage', `--from and --to are the same engine (${source})`, {
      hint: 'migrate moves a container to another engine; use checkpoint/restore on one host',
    }),

  /** Engine IDs do not tell engines apart; a container id (256 random bits) that both have does. */
  sameEngine: (source: string, target: string, containerId: string) =>
    new ExtmountError(
      'usage',
      `--from ${source} and --to ${target} reach the same engine (both have container ${containerId.slice(0, 12)})`,
      {
        hint: 'give the address of another engine with --to',
      },
    ),

  /** An earlier run froze it and the target does not answer: say how to bring it back where it was. */
  targetGoneWhileFrozen: (err: ExtmountError, o: { name: string; source: string; checkpoint: string }) =>
    new ExtmountError('bad-input', err.message, {
      hint: `${o.name} is stopped on ${o.source} in checkpoint ${o.checkpoint} from an earlier run: run migrate again once the target answers, or bring it back there with docker start --checkpoint ${o.checkpoint} ${o.name}`,
      cause: err,
    }),

  notMigratable: (name: string, why: string) => new ExtmountError('refused', `cannot migrate ${name}: ${why}`),

  /** A post-copy's source is frozen with no copy running, and a copy the target's engine shows as never started may still run a process (moby#40613). */
  orphanTask: (o: { name: string; source: string; target: string; copyId: string; why: string }) =>
    new ExtmountError(
      'refused',
      `${o.name} is frozen on ${o.source} by an interrupted post-copy migration, and its copy ${o.copyId.slice(0, 12)} on ${o.target} may still run a process its engine does not show (${o.why})`,
      {
        hint: `on that host, make sure no task of it runs (ctr -n moby tasks ls; ctr -n moby tasks delete --force ${o.copyId}), remove the copy (docker rm -f ${o.copyId.slice(0, 12)}), then run migrate again`,
      },
    ),

  badTargetName: (name: string) =>
    new ExtmountError('usage', `--name "${name}": a container name is [a-zA-Z0-9][a-zA-Z0-9_.-]+`, {
      hint: 'see extmount migrate --help',
    }),

  targetNameTaken: (target: string, name: string) =>
    new ExtmountError('refused', `${target} already has a container named ${name}`, {
      hint: 'give the migrated container another name with --name NEW',
    }),

  missingRuntime: (name: string, runtime: string, target: string) =>
    new ExtmountError('refused', `${name} runs under the runtime "${runtime}", which ${target} does not have`, {
      hint: `register it there (extmount install-runtime --apply --name ${runtime}) and reload dockerd`,
    }),

  missingNetwork: (network: string, target: string) =>
    new ExtmountError('refused', `the network ${network} does not exist on ${target}`, {
      hint: `create it there first (docker network create ${network})`,
    }),

  rollbackNameTaken: (o: { source: string; copyName: string; name: string }) =>
    new ExtmountError(
      'refused',
      `${o.source} has a container named ${o.copyName}, the name a rollback of ${o.name} needs there (containerd#12141 keeps it from restoring ${o.name} in place)`,
      {
        hint: 'remove or rename that container, then run migrate again',
      },
    ),

  unusedMap: (map: { from: string; to: string }, name: string, binds: readonly string[]) =>
    new ExtmountError('usage', `--map ${map.from}=${map.to} matches no bind of ${name}`, {
      hint: `its binds: ${binds.join(', ') || 'none'}`,
    }),

  volumeDriver: (o: {
    volume: string;
    destination: string;
    driver: string;
    options: Record<string, string> | null | undefined;
  }) =>
    new ExtmountError(
      'refused',
      `volume ${o.volume} (${o.destination}) uses the driver ${o.driver}${o.options ? ` with options ${Object.keys(o.options).join(', ')}` : ''}`,
      {
        hint: 'only plain local volumes are copied; recreate it on the target and migrate a bind instead',
      },
    ),

  volumeExists: (volume: string, target: string) =>
    new ExtmountError('refused', `volume ${volume} already exists on ${target}`, {
      hint: 'remove or rename it there: migrate copies the volume and will not overwrite one it did not create',
    }),

  deletedFiles: (name: string, driver: string) =>
    new ExtmountError(
      'refused',
      `${name} deleted files from its image, and the target's storage driver ${driver} gives the API no way to delete them`,
      {
        hint: 'migrate to an engine with the overlay2 storage driver',
      },
    ),

  bindPathChars: (what: string) =>
    new ExtmountError('refused', `${what}: cannot create a path with ":" or "," through the API`, {
      hint: 'create it on the target first',
    }),
};

function refuse(
  code: 'refused' | 'bad-input' | 'busy',
  message: string,
  options: { hint: string },
): { refusal: ExtmountError } {
  return { refusal: new ExtmountError(code, message, options) };
}
