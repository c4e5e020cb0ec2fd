// The restore Pod for a checkpoint image, as data: the checkpointed container's spec (from the archive's
// spec.dump, or a Pod the user gives), the checkpoint image, the node, the extmount RuntimeClass, every
// hostPath remapped (--map SRC=DST: SRC and below) with its propagation and read-only kept, and the
// kubelet-supplied volumes (emptyDir, configMap, secret, the service-account token) declared again so
// the new node's kubelet makes them. containerd takes the restored container's mounts, command, env and
// working dir from the new CRI request, only annotations and the image from the checkpoint
// (CRImportCheckpoint, containerd 2.1); runc pairs the checkpoint's binds with the new ones by destination.
import type { RemapRule } from '../config.js';
import { ExtmountError } from '../errors.js';
import { isRecord } from '../json.js';
import { applyRemap, isUnder } from '../checkpoint/restore-targets.js';
import type { CheckpointInfo } from './checkpoint-dumps.js';

type Json = Record<string, unknown>;

export interface RestorePodInput {
  info: CheckpointInfo;
  /** spec.dump: the OCI spec the container ran with. */
  spec: Json;
  image: string;
  node: string;
  handler: string;
  maps: readonly RemapRule[];
}

export interface RestorePod {
  pod: Json;
  /** What the user must check (one line each): names the archive does not hold. */
  warnings: string[];
}

/** Mounts the runtime or the kubelet make for every container: never declared in a Pod. */
const RUNTIME_OWN = new Set([
  '/etc/hosts',
  '/etc/hostname',
  '/etc/resolv.conf',
  '/dev/shm',
  '/dev/termination-log',
  '/run/.containerenv',
  '/run/secrets',
]);
/**
 * A pod's UID in the kubelet's paths: a UUID from the API server, or for a static pod the kubelet's own
 * 32-hex md5 of its manifest (pkg/kubelet/config/common.go).
 */
const POD_UID = String.raw`(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})`;
/** <kubelet root>/pods/<pod uid>/volumes/kubernetes.io~<plugin>/<volume name> */
const KUBELET_VOLUME = new RegExp(
  String.raw`/pods/${POD_UID}/volumes/kubernetes\.io~([a-z0-9-]+)/([a-z0-9][a-z0-9.-]*)$`,
);
const KUBELET_OWN = new RegExp(String.raw`/pods/${POD_UID}/(etc-hosts|containers/)`);
const KUBELET_SUBPATH = new RegExp(String.raw`/pods/${POD_UID}/volume-subpaths/`);
const KUBELET_ANY_VOLUME = new RegExp(String.raw`/pods/${POD_UID}/volumes/`);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function refuse(what: string): ExtmountError {
  return new ExtmountError('bad-input', what, { hint: 'give the original Pod with --pod FILE' });
}

function options(mount: Json): string[] {
  return Array.isArray(mount.options) ? mount.options.filter((o): o is string => typeof o === 'string') : [];
}

export function propagationOf(opts: readonly string[]): 'HostToContainer' | 'Bidirectional' | undefined {
  if (opts.some((o) => o === 'rshared' || o === 'shared')) return 'Bidirectional';
  if (opts.some((o) => o === 'rslave' || o === 'slave')) return 'HostToContainer';
  return undefined;
}

/** The service-account token volume the ServiceAccount admission plugin writes (kube-api-access-*), as it writes it. */
function serviceAccountVolume(name: string): Json {
  return {
    name,
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
    },
  };
}

interface Planned {
  volumes: Json[];
  mounts: Json[];
  warnings: string[];
}

/** spec.dump's mounts as Pod volumes and volumeMounts. */
export function planVolumes(spec: Json, maps: readonly RemapRule[]): Planned {
  const planned: Planned = { volumes: [], mounts: [], warnings: [] };
  const names = new Set<string>();
  const mounts = Array.isArray(spec.mounts) ? spec.mounts.filter(isRecord) : [];
  let hostPaths = 0;
  for (const mount of mounts) {
    const destination = typeof mount.destination === 'string' ? mount.destination : '';
    const source = typeof mount.source === 'string' ? mount.source : '';
    const opts = options(mount);
    const bind = mount.type === 'bind' || opts.includes('bind') || opts.includes('rbind');
    if (!bind || RUNTIME_OWN.has(destination) || KUBELET_OWN.test(source)) continue;
    if (
      !destination.startsWith('/') ||
      !source.startsWith('/') ||
      /[\0\n]/.test(destination + source) ||
      destination.split('/').includes('..')
    ) {
      throw refuse(`spec.dump: a bind extmount cannot read (${JSON.stringify(mount)})`);
    }
    if (/^\/(var\/)?run\/containerd\/|^\/var\/lib\/containerd\//.test(source)) continue; // the sandbox's own files (shm, hostname, resolv.conf)
    if (KUBELET_SUBPATH.test(source))
      throw refuse(`the mount at ${destination} is a subPath of a volume, which the archive does not name`);
    const mountOf = (name: string): Json => ({
      name,
      mountPath: destination,
      ...(opts.includes('ro') ? { readOnly: true } : {}),
      ...(propagationOf(opts) ? { mountPropagation: propagationOf(opts) } : {}),
    });
    const kubelet = KUBELET_VOLUME.exec(source);
    if (kubelet) {
      const [, plugin, name] = kubelet as unknown as [string, string, string];
      let volume: Json;
      switch (plugin) {
        case 'empty-dir':
          volume = { name, emptyDir: {} };
          break;
        case 'configmap':
          volume = { name, configMap: { name } };
          planned.warnings.push(
            `volume ${name} (${destination}): a configMap; the archive does not name the ConfigMap, "${name}" is assumed`,
          );
          break;
        case 'secret':
          volume = { name, secret: { secretName: name } };
          planned.warnings.push(
            `volume ${name} (${destination}): a secret; the archive does not name the Secret, "${name}" is assumed`,
          );
          break;
        case 'projected':
          if (!name.startsWith('kube-api-access-'))
            throw refuse(`the projected volume ${name} at ${destination}: its sources are not in the archive`);
          volume = serviceAccountVolume(name);
          break;
        default:
          throw refuse(`the ${plugin} volume ${name} at ${destination}: the archive does not say what it is made from`);
      }
      if (!names.has(name)) planned.volumes.push(volume);
      names.add(name);
      planned.mounts.push(mountOf(name));
      continue;
    }
    if (KUBELET_ANY_VOLUME.test(source))
      throw refuse(`the volume mounted at ${destination} (${source}): the archive does not say what it is made from`);
    let name = `host-${hostPaths++}`;
    while (names.has(name)) name = `host-${hostPaths++}`;
    names.add(name);
    planned.volumes.push({ name, hostPath: { path: applyRemap(source, maps) ?? source } });
    planned.mounts.push(mountOf(name));
    if (propagationOf(opts) === 'Bidirectional')
      planned.warnings.push(`${destination}: Bidirectional propagation needs a privileged container`);
  }
  for (const rule of maps) {
    if (!mounts.some((m) => typeof m.source === 'string' && isUnder(m.source, rule.from)))
      planned.warnings.push(`--map ${rule.from}=${rule.to}: no hostPath of the checkpoint is at or under ${rule.from}`);
  }
  return planned;
}

function processOf(spec: Json): { args: string[]; env: string[]; cwd: string } {
  const p = isRecord(spec.process) ? spec.process : {};
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  return { args: strings(p.args), env: strings(p.env), cwd: typeof p.cwd === 'string' ? p.cwd : '' };
}

/** Set by the kubelet or the runtime in every container: given again by them, not by the Pod. */
const RUNTIME_ENV = /^(HOSTNAME|KUBERNETES_SERVICE_[A-Z_]+|KUBERNETES_PORT(_[A-Z0-9_]+)?)=/;

export function restorePodFromDumps(input: RestorePodInput): RestorePod {
  const { info } = input;
  if (!DNS_LABEL.test(info.container))
    throw refuse(
      `the checkpoint names its container ${JSON.stringify(info.container)}, not a Kubernetes container name`,
    );
  const planned = planVolumes(input.spec, input.maps);
  const proc = processOf(input.spec);
  const env = proc.env
    .filter((e) => !RUNTIME_ENV.test(e))
    .map((e) => {
      const eq = e.indexOf('=');
      return { name: eq === -1 ? e : e.slice(0, eq), value: eq === -1 ? '' : e.slice(eq + 1) };
    });
  const container: Json = {
    name: info.container,
    image: input.image,
    ...(proc.args.length ? { command: proc.args } : {}),
    ...(env.length ? { env } : {}),
    ...(proc.cwd ? { workingDir: proc.cwd } : {}),
    ...(planned.mounts.length ? { volumeMounts: planned.mounts } : {}),
  };
  const base = info.pod || info.container;
  const pod: Json = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${base.slice(0, 55)}-restore`, ...(info.namespace ? { namespace: info.namespace } : {}) },
    spec: {
      nodeName: input.node,
      runtimeClassName: input.handler,
      containers: [container],
      ...(planned.volumes.length ? { volumes: planned.volumes } : {}),
    },
  };
  return { pod, warnings: planned.warnings };
}

/**
 * The Pod given (--pod FILE) turned into the restore Pod: the checkpointed container's image set to the
 * checkpoint image, nodeName and runtimeClassName set, every hostPath remapped; what the API server
 * adds (status, uid, resourceVersion, …) dropped.
 */
export function restorePodFromFile(doc: unknown, origin: string, input: Omit<RestorePodInput, 'spec'>): RestorePod {
  const bad = (what: string) =>
    new ExtmountError('bad-input', `${origin}: ${what}`, {
      hint: 'give a Pod manifest (kubectl get pod NAME -o yaml)',
    });
  if (!isRecord(doc) || doc.kind !== 'Pod' || !isRecord(doc.spec) || !Array.isArray(doc.spec.containers))
    throw bad('not a Pod');
  const containers = doc.spec.containers.filter(isRecord);
  const chosen =
    containers.find((c) => c.name === input.info.container) ?? (containers.length === 1 ? containers[0] : undefined);
  if (!chosen) throw bad(`no container named ${JSON.stringify(input.info.container)} (the checkpointed one)`);
  const volumes = Array.isArray(doc.spec.volumes) ? doc.spec.volumes.filter(isRecord) : [];
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  const keep = ['name', 'namespace', 'labels', 'annotations'];
  const pod: Json = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: Object.fromEntries(Object.entries(metadata).filter(([k]) => keep.includes(k))),
    spec: {
      ...doc.spec,
      nodeName: input.node,
      runtimeClassName: input.handler,
      containers: containers.map((c) => (c === chosen ? { ...c, image: input.image } : c)),
      ...(volumes.length
        ? {
            volumes: volumes.map((v) => {
              const hostPath = isRecord(v.hostPath) && typeof v.hostPath.path === 'string' ? v.hostPath : undefined;
              return hostPath
                ? {
                    ...v,
                    hostPath: { ...hostPath, path: applyRemap(hostPath.path as string, input.maps) ?? hostPath.path },
                  }
                : v;
            }),
          }
        : {}),
    },
  };
  return { pod, warnings: [] };
}
