// The data roots of the container engines configured on this host, for the restore deny list.
import { isRecord } from '../../core/json.js';
import { isAbsolutePath } from '../../core/config.js';
import { READ_LIMITS, readBoundedTextIfExists } from './untrusted-file.js';

export const DOCKER_DAEMON_JSON = '/etc/docker/daemon.json';

/**
 * dockerd's "data-root" (or the older "graph") from daemon.json, when it sets one; the default roots are
 * in the config's deny list already. A daemon.json that cannot be read adds nothing: it is not ours to judge here.
 */
export async function configuredEngineRoots(daemonJson = DOCKER_DAEMON_JSON): Promise<string[]> {
  const text = await readBoundedTextIfExists(daemonJson, READ_LIMITS.daemonJson).catch(() => undefined);
  if (text === undefined) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  if (!isRecord(doc)) return [];
  return [doc['data-root'], doc.graph].filter(isAbsolutePath);
}
