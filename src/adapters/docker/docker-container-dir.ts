// Docker's own record of a container (config.v2.json), for the runtime, which has only the OCI bundle.
import { join } from 'node:path';
import {
  dockerContainerDirs,
  parseDockerConfigV2,
  type DockerContainerMeta,
  type OciSpecView,
} from '../../core/runtime/oci-bundle.js';
import { configuredEngineRoots } from '../fs/engine-roots.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../fs/untrusted-file.js';

export interface DockerContainerRecord {
  /** <data-root>/containers/<id> */
  dir: string;
  dataRoot: string;
  meta: DockerContainerMeta;
}

/**
 * The first candidate folder whose config.v2.json is this container's; undefined for a container that
 * is not Docker's. daemon.json is read only when the bundle itself does not lead there: on checkpoint
 * this runs while the container is frozen.
 */
export async function findDockerContainer(view: OciSpecView, id: string): Promise<DockerContainerRecord | undefined> {
  const tried = new Set<string>();
  const firstMatch = async (dirs: readonly string[]): Promise<DockerContainerRecord | undefined> => {
    for (const dir of dirs.filter((d) => !tried.has(d))) {
      tried.add(dir);
      const text = await readBoundedTextIfExists(join(dir, 'config.v2.json'), READ_LIMITS.dockerConfig).catch(
        () => undefined,
      );
      const meta = text === undefined ? undefined : parseDockerConfigV2(text, id);
      if (meta) return { dir, dataRoot: dir.slice(0, dir.length - `/containers/${id}`.length), meta };
    }
    return undefined;
  };
  return (
    (await firstMatch(dockerContainerDirs(view, id))) ??
    (await firstMatch(dockerContainerDirs(view, id, await configuredEngineRoots())))
  );
}
