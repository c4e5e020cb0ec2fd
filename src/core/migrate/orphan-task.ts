// A copy's task that its engine does not know of: how to recognise its processes, its shim and its
// record on this host. dockerd killed during `docker start --checkpoint` after the shim began the
// restore comes back with the copy saved as never started; `docker rm -f` of it then makes no
// containerd call and the restored process runs on (moby#40613, #41397; containerd#5015).

const CONTAINER_ID = /^[0-9a-f]{64}$/;

export function isContainerId(id: string): boolean {
  return CONTAINER_ID.test(id);
}

/**
 * Whether a /proc/PID/cgroup text puts the process in container ID's cgroup or below it: a path
 * component that names the ID, as every driver does (cgroupfs `/docker/<id>`, systemd
 * `docker-<id>.scope`, a --cgroup-parent `…/<id>`).
 */
export function inContainerCgroup(cgroupText: string, id: string): boolean {
  if (!isContainerId(id)) return false;
  for (const line of cgroupText.split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    if (path.split('/').some((c) => c === id || c === `docker-${id}.scope`)) return true;
  }
  return false;
}

/** containerd's address and namespace from the argv of the shim that runs task ID (containerd-shim-runc-v2 -namespace N -id ID -address A). */
export function shimOf(argv: readonly string[], id: string): { address: string; namespace: string } | undefined {
  if (!/(^|\/)containerd-shim(-runc-v2)?$/.test(argv[0] ?? '')) return undefined;
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const [namespace, address] = [flag('-namespace'), flag('-address')];
  if (flag('-id') !== id || !namespace || !address) return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,75}$/.test(namespace) || !address.startsWith('/') || address.length > 4096)
    return undefined;
  return { address, namespace };
}

/** Whether a config.v2.json is the record of container ID, made by a migration of SOURCE (LABEL's value). */
export function isCopyRecord(configText: string, id: string, label: string, source: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(configText);
  } catch {
    return false;
  }
  const d = doc as { ID?: unknown; Config?: { Labels?: Record<string, unknown> } };
  return d.ID === id && d.Config?.Labels?.[label] === source;
}
