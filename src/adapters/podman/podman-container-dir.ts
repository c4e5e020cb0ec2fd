// Podman's record of a container, for the runtime, which has only the OCI bundle (see podmanContainerMeta).
import {
  podmanContainerMeta,
  podmanContainersJsonPath,
  type DockerContainerMeta,
  type OciSpecView,
} from '../../core/runtime/oci-bundle.js';
import { READ_LIMITS, readBoundedTextIfExists } from '../fs/untrusted-file.js';

/** undefined for a bundle that is not Podman's for this container. */
export async function findPodmanContainer(
  view: OciSpecView,
  id: string,
  bundle: string,
): Promise<DockerContainerMeta | undefined> {
  const path = podmanContainersJsonPath(bundle, id);
  if (!path) return undefined;
  const text = await readBoundedTextIfExists(path, READ_LIMITS.storageContainers).catch(() => undefined);
  return podmanContainerMeta(view, id, bundle, text);
}
