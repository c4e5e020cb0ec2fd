// A kubelet stand-in for the CRI tests (no kubelet package exists in Debian): a Pod manifest → the CRI
// calls a kubelet makes for the fields it uses, on one node of the CRI bed. Volumes as the kubelet
// lays them out: hostPath as is (type checked), emptyDir/configMap/secret under
// <kubelet>/pods/<uid>/volumes/kubernetes.io~<kind>/<name> (configMap and secret read-only, as the
// kubelet mounts them). Anything the stand-in does not know is refused, never ignored.
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ContainerConfig, Mount, MountPropagation, PodSandboxConfig } from './cri-client.js';
import type { CriNode } from './cri-bed.js';

export interface PodManifest {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: {
    nodeName?: string;
    runtimeClassName?: string;
    hostname?: string;
    volumes?: Volume[];
    containers: ContainerSpec[];
    [key: string]: unknown;
  };
}

export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: Record<string, unknown>;
  configMap?: { name: string };
  secret?: { secretName: string };
}

export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{
    name: string;
    mountPath: string;
    readOnly?: boolean;
    mountPropagation?: string;
    subPath?: string;
  }>;
  [key: string]: unknown;
}

/** What the cluster's API would give the kubelet: configMap and secret data by name. */
export interface ApiObjects {
  configMaps?: Record<string, Record<string, string>>;
  secrets?: Record<string, Record<string, string>>;
}

export interface RunningPod {
  node: CriNode;
  sandboxId: string;
  sandboxConfig: PodSandboxConfig;
  /** Container name → CRI container id. */
  containers: Record<string, string>;
  uid: string;
  /** The pod's volume dir on the node (emptyDir, configMap and secret below it). */
  volumesDir: string;
}

const PROPAGATION: Record<string, MountPropagation> = {
  None: 'PROPAGATION_PRIVATE',
  HostToContainer: 'PROPAGATION_HOST_TO_CONTAINER',
  Bidirectional: 'PROPAGATION_BIDIRECTIONAL',
};

// The container fields the stand-in turns into CRI; any other field present is refused (the test would not test it).
const CONTAINER_FIELDS = new Set([
  'name',
  'image',
  'imagePullPolicy',
  'command',
  'args',
  'workingDir',
  'env',
  'volumeMounts',
  'resources',
  'securityContext',
  'terminationMessagePath',
  'terminationMessagePolicy',
]);
const SPEC_FIELDS = new Set([
  'nodeName',
  'runtimeClassName',
  'hostname',
  'volumes',
  'containers',
  'restartPolicy',
  'dnsPolicy',
  'enableServiceLinks',
  'terminationGracePeriodSeconds',
  'schedulerName',
  'securityContext',
]);

export function parsePod(yamlText: string): PodManifest {
  const pod = parse(yamlText) as PodManifest;
  if (pod?.kind !== 'Pod' || !pod.metadata?.name || !Array.isArray(pod.spec?.containers))
    throw new Error(`not a Pod manifest:\n${yamlText}`);
  return pod;
}

/** The volumes of `pod` on `node`: name → host path, made as the kubelet makes them. */
async function mountVolumes(
  node: CriNode,
  pod: PodManifest,
  uid: string,
  api: ApiObjects,
): Promise<{ paths: Map<string, string>; readOnly: Set<string>; volumesDir: string }> {
  const volumesDir = join(node.kubeletDir, 'pods', uid, 'volumes');
  const paths = new Map<string, string>();
  const readOnly = new Set<string>();
  for (const v of pod.spec.volumes ?? []) {
    const kinds = Object.keys(v).filter((k) => k !== 'name');
    if (kinds.length !== 1)
      throw new Error(`volume ${v.name}: exactly one source expected, got ${kinds.join(', ') || 'none'}`);
    if (v.hostPath) {
      const { path, type = '' } = v.hostPath;
      const st = existsSync(path) ? statSync(path) : undefined;
      if (type === 'DirectoryOrCreate' && !st) await mkdir(path, { recursive: true, mode: 0o755 });
      else if (type === 'FileOrCreate' && !st) await writeFile(path, '', { mode: 0o644 });
      else if ((type === 'Directory' && !st?.isDirectory()) || (type === 'File' && !st?.isFile()))
        throw new Error(`hostPath ${v.name}: ${path} is not a ${type} on node ${node.name}`);
      else if (!['', 'Directory', 'File', 'DirectoryOrCreate', 'FileOrCreate'].includes(type))
        throw new Error(`hostPath ${v.name}: type ${type} is not known to the stand-in`);
      paths.set(v.name, path);
    } else if (v.emptyDir) {
      const dir = join(volumesDir, 'kubernetes.io~empty-dir', v.name);
      await mkdir(dir, { recursive: true, mode: 0o777 });
      paths.set(v.name, dir);
    } else if (v.configMap || v.secret) {
      const [kind, data] = v.configMap
        ? ['configmap', api.configMaps?.[v.configMap.name]]
        : ['secret', api.secrets?.[v.secret!.secretName]];
      if (!data)
        throw new Error(
          `volume ${v.name}: no ${kind} ${v.configMap?.name ?? v.secret?.secretName} in the stand-in's API objects`,
        );
      const dir = join(volumesDir, `kubernetes.io~${kind}`, v.name);
      await mkdir(dir, { recursive: true });
      for (const [key, value] of Object.entries(data)) await writeFile(join(dir, key), value, { mode: 0o644 });
      paths.set(v.name, dir);
      readOnly.add(v.name);
    } else {
      throw new Error(`volume ${v.name}: ${kinds[0]} is not known to the stand-in`);
    }
  }
  return { paths, readOnly, volumesDir };
}

function containerConfig(
  c: ContainerSpec,
  volumes: { paths: Map<string, string>; readOnly: Set<string> },
  pod: PodManifest,
): ContainerConfig {
  const unknown = Object.keys(c).filter((k) => !CONTAINER_FIELDS.has(k));
  if (unknown.length > 0)
    throw new Error(`container ${c.name}: fields the stand-in does not know: ${unknown.join(', ')}`);
  const mounts: Mount[] = (c.volumeMounts ?? []).map((vm) => {
    const base = volumes.paths.get(vm.name);
    if (base === undefined) throw new Error(`container ${c.name}: volumeMount ${vm.name} names no volume`);
    const propagation = PROPAGATION[vm.mountPropagation ?? 'None'];
    if (!propagation) throw new Error(`container ${c.name}: mountPropagation ${vm.mountPropagation} is not known`);
    return {
      container_path: vm.mountPath,
      host_path: vm.subPath ? join(base, vm.subPath) : base,
      readonly: vm.readOnly === true || volumes.readOnly.has(vm.name),
      propagation,
    };
  });
  return {
    metadata: { name: c.name, attempt: 0 },
    image: { image: c.image },
    command: c.command ?? [],
    args: c.args ?? [],
    working_dir: c.workingDir ?? '',
    envs: (c.env ?? []).map((e) => ({ key: e.name, value: e.value ?? '' })),
    mounts,
    labels: {
      'io.kubernetes.container.name': c.name,
      'io.kubernetes.pod.name': pod.metadata.name,
      'io.kubernetes.pod.namespace': pod.metadata.namespace ?? 'default',
      'io.kubernetes.pod.uid': pod.metadata.uid ?? '',
    },
    annotations: {},
    log_path: `${c.name}/0.log`,
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

/**
 * Runs `pod` on `node` as its kubelet would: volumes, PullImage for each image, RunPodSandbox with the
 * RuntimeClass's handler (the RuntimeClass name is the handler here, as install-runtime writes it),
 * then CreateContainer + StartContainer for each container. A failure after the sandbox is up leaves
 * the sandbox (the caller's `leftovers`/`removePod` see it), as the kubelet would retry it.
 */
export async function runPod(node: CriNode, podYaml: string, api: ApiObjects = {}): Promise<RunningPod> {
  const pod = parsePod(podYaml);
  const unknown = Object.keys(pod.spec).filter((k) => !SPEC_FIELDS.has(k));
  if (unknown.length > 0)
    throw new Error(`pod ${pod.metadata.name}: spec fields the stand-in does not know: ${unknown.join(', ')}`);
  if (pod.spec.nodeName && pod.spec.nodeName !== node.name)
    throw new Error(`pod ${pod.metadata.name} is for node ${pod.spec.nodeName}, not ${node.name}`);
  // A UUID, as the API server assigns (restore-pod recognises the kubelet's volume dirs by it).
  const uid = pod.metadata.uid ?? randomUUID();
  pod.metadata.uid = uid;
  const namespace = pod.metadata.namespace ?? 'default';
  const volumes = await mountVolumes(node, pod, uid, api);
  const logDir = join(node.podLogs, `${namespace}_${pod.metadata.name}_${uid}`);
  await mkdir(logDir, { recursive: true });
  const sandboxConfig: PodSandboxConfig = {
    metadata: { name: pod.metadata.name, uid, namespace, attempt: 0 },
    hostname: pod.spec.hostname ?? pod.metadata.name,
    log_directory: logDir,
    labels: {
      'io.kubernetes.pod.name': pod.metadata.name,
      'io.kubernetes.pod.namespace': namespace,
      'io.kubernetes.pod.uid': uid,
    },
    annotations: pod.metadata.annotations ?? {},
    linux: {
      cgroup_parent: `${node.cgroupParent}/pod${uid}`,
      security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
    },
  };
  for (const c of pod.spec.containers) await node.cri.pullImage(c.image, sandboxConfig);
  const sandboxId = await node.cri.runPodSandbox(sandboxConfig, pod.spec.runtimeClassName ?? '');
  const running: RunningPod = { node, sandboxId, sandboxConfig, containers: {}, uid, volumesDir: volumes.volumesDir };
  for (const c of pod.spec.containers) {
    const id = await node.cri.createContainer(sandboxId, containerConfig(c, volumes, pod), sandboxConfig);
    running.containers[c.name] = id;
    await node.cri.startContainer(id);
  }
  return running;
}

/** The kubelet's pod deletion: StopPodSandbox (stops its containers) and RemovePodSandbox. */
export async function removePod(pod: RunningPod): Promise<void> {
  await pod.node.cri.stopPodSandbox(pod.sandboxId);
  await pod.node.cri.removePodSandbox(pod.sandboxId);
}
