// Container shapes an engine is known to checkpoint but not restore: refused before anything stops.
//
// Measured, not guessed: on Docker 28.5 / containerd 2.1.9 (Debian sid) `docker start --checkpoint`
// of a container whose network namespace dockerd prepared (`--network none`, or a bridge network)
// fails before runc runs: `bind-mount /proc/0/ns/net -> …/netns/…: no such file or directory`
// (containerd#12141, open). Created with `NetworkDisabled: true` (dockerd prepares no namespace) or
// in the default mode on a daemon without a bridge, the same container restores. containerd 1.6 and
// 1.7 (Docker 20.10, 26) restore every shape.

export interface RestoreShape {
  /** HostConfig.NetworkMode: none, default, bridge, host, a network name. */
  networkMode: string;
  /** Config.NetworkDisabled. */
  networkDisabled: boolean;
  /** Whether the engine has the default "bridge" network (dockerd --bridge=none has none). */
  bridgeExists: boolean;
}

export interface RestoreBlocker {
  reason: string;
  upstream: string;
  workaround: string;
}

/** [major, minor] of a containerd version as engines report it ("v2.1.9", "1.7.24~ds1", "2.1.9+unknown"). */
export function parseContainerdVersion(text: string | undefined): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(text ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Why an engine whose containerd is `containerd` cannot restore a container of this shape, or undefined. */
export function restoreBlocker(containerd: string | undefined, shape: RestoreShape): RestoreBlocker | undefined {
  const version = parseContainerdVersion(containerd);
  if (!version || version[0] < 2 || (version[0] === 2 && version[1] < 1)) return undefined;
  const mode = shape.networkMode || 'default';
  const sandboxed =
    !shape.networkDisabled && mode !== 'host' && ((mode !== 'default' && mode !== 'bridge') || shape.bridgeExists);
  if (!sandboxed) return undefined;
  return {
    reason: `containerd ${containerd} cannot restore a container whose network namespace dockerd prepares (network mode "${mode}")`,
    upstream: 'containerd#12141',
    workaround:
      'create the container with "NetworkDisabled": true in the API (a network-less container), or run it on an engine with containerd 1.7',
  };
}

/**
 * How a container of this shape comes back on an engine: in place; in a copy created with
 * `NetworkDisabled: true`; or not at all. The copy is offered for `--network none` only: dockerd
 * gives such a container a namespace of its own but names none in the OCI spec, so runc has CRIU
 * dump the namespace itself (its loopback, the process's sockets on it) and CRIU recreates it on
 * restore; a NetworkDisabled copy then differs only in what dockerd does after the task is created,
 * which is the step containerd#12141 breaks. Any other network mode would lose its network.
 */
export type RestoreRoute =
  | { kind: 'in-place' }
  | { kind: 'network-disabled-copy'; blocker: RestoreBlocker }
  | { kind: 'blocked'; blocker: RestoreBlocker };

export function restoreRoute(containerd: string | undefined, shape: RestoreShape): RestoreRoute {
  const blocker = restoreBlocker(containerd, shape);
  if (!blocker) return { kind: 'in-place' };
  if (shape.networkMode === 'none' && !restoreBlocker(containerd, { ...shape, networkDisabled: true }))
    return { kind: 'network-disabled-copy', blocker };
  return { kind: 'blocked', blocker };
}
