// The journal: a never-started container on the source whose labels record an ongoing migration, so a re-run after a crash knows where things stand.
import { ExtmountError } from '../core/errors.js';
import {
  LABEL_CHECKPOINT,
  LABEL_JOURNAL,
  LABEL_RESTART_POLICY,
  LABEL_TO,
  encodeRestartPolicy,
  type RestartPolicy,
} from '../core/migrate/migrate-config.js';
import { engineError, type Engine } from '../adapters/docker/docker.js';
import { HELPER_ENTRYPOINT, listLabelled, removeContainer } from '../adapters/docker/migrate-engine.js';

/**
 * Written before the restart policy is cleared and the checkpoint taken: it keeps the policy to give
 * back (the engine would restart a container that a checkpoint stopped, see setRestartPolicy's caller)
 * and the checkpoint's name. Labels cannot change, so a new journal replaces an old one.
 */
export async function writeJournal(
  source: Engine,
  entry: { sourceId: string; image: string; checkpoint: string; restartPolicy: RestartPolicy; to: string },
): Promise<string> {
  await removeJournals(source, entry.sourceId);
  try {
    const journal = await source.docker.createContainer({
      name: `extmount-migrate-${entry.sourceId.slice(0, 12)}`,
      Image: entry.image,
      Entrypoint: [HELPER_ENTRYPOINT],
      Cmd: [],
      NetworkDisabled: true,
      Labels: {
        [LABEL_JOURNAL]: entry.sourceId,
        [LABEL_CHECKPOINT]: entry.checkpoint,
        [LABEL_RESTART_POLICY]: encodeRestartPolicy(entry.restartPolicy),
        [LABEL_TO]: entry.to,
      },
      HostConfig: { NetworkMode: 'none' },
    });
    return journal.id;
  } catch (err) {
    const e = engineError(source, err, 'recording the migration (journal container)');
    throw new ExtmountError('bad-input', e.message, { cause: err, reason: e.reason });
  }
}

export async function removeJournals(source: Engine, sourceId: string): Promise<void> {
  for (const j of await listLabelled(source, LABEL_JOURNAL, sourceId))
    await removeContainer(source, j.Id, { force: true, anonymousVolumes: true });
}
