// classifyMounts against the host's table as an index: only the host lines the container's mounts involve are parsed.
import { classifyMounts, type Classification } from './classify.js';
import type { ContainerInfo } from './container.js';
import { selectMounts, type MountinfoIndex } from './mountinfo-index.js';
import { deviceKey, type MountInfo } from './mountinfo.js';

export interface HostClassification {
  classification: Classification;
  /** The host paths of the external mounts. */
  hostPaths: string[];
  /** The host lines classification and the later propagation checks on hostPaths need. */
  hostMounts: MountInfo[];
}

export function classifyOnHost(
  mounts: MountInfo[],
  hostIndex: MountinfoIndex,
  container: ContainerInfo,
): HostClassification {
  const needs = {
    devices: mounts.map(deviceKey),
    peerGroups: mounts.flatMap((m) => (m.shared === undefined ? [] : [m.shared])),
  };
  const classification = classifyMounts(mounts, { hostMounts: selectMounts(hostIndex, needs), container });
  const hostPaths = classification.mounts.flatMap((c) => (c.external?.hostPath ? [c.external.hostPath] : []));
  return { classification, hostPaths, hostMounts: selectMounts(hostIndex, { ...needs, paths: hostPaths }) };
}
