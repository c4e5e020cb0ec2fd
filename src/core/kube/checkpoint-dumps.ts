// What a container checkpoint archive (kubelet/containerd, CRI-O or Podman) says about itself: the engine,
// the container and pod, the base image a restore pulls, and the annotations a checkpoint image carries.
//
// The archive's config.dump is checkpointctl's ContainerConfig (lib/metadata.go: id, name, rootfsImage,
// rootfsImageRef, rootfsImageName, runtime, createdTime, checkpointedTime); spec.dump is the OCI spec.
// The engine is told apart as checkpointctl does (internal/container.go getContainerInfo): spec.dump's
// "io.container.manager" annotation is "libpod" (Podman) or "cri-o", anything else is containerd.
import { ExtmountError } from '../errors.js';
import { isRecord } from '../json.js';

export const CONFIG_DUMP = 'config.dump';
export const SPEC_DUMP = 'spec.dump';
export const STATUS_DUMP = 'status.dump';
/** Every engine's dumps are tens of KiB; a larger one is refused before it is parsed. */
export const MAX_DUMP_SIZE = 8 << 20;

export type CheckpointEngine = 'containerd' | 'CRI-O' | 'Podman';

export interface CheckpointDumps {
  config: Record<string, unknown>;
  spec: Record<string, unknown>;
}

export interface CheckpointInfo {
  engine: CheckpointEngine;
  /** The container's name as Kubernetes (or Podman) knows it. */
  container: string;
  pod: string;
  namespace: string;
  rootfsImage: string;
  rootfsImageName: string;
  rootfsImageRef: string;
  runtime: string;
  checkpointedAt: string;
}

function bad(what: string): ExtmountError {
  return new ExtmountError('bad-input', `the checkpoint archive's ${what}`, {
    hint: 'give an archive the kubelet (CRI CheckpointContainer), CRI-O or podman container checkpoint --export wrote',
  });
}

export function parseCheckpointDumps(config: Buffer, spec: Buffer): CheckpointDumps {
  const parse = (bytes: Buffer, name: string): Record<string, unknown> => {
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw bad(`${name} is not JSON (${(err as Error).message})`);
    }
    if (!isRecord(value)) throw bad(`${name} is not a JSON object`);
    return value;
  };
  return { config: parse(config, CONFIG_DUMP), spec: parse(spec, SPEC_DUMP) };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function specAnnotations(spec: Record<string, unknown>): Record<string, string> {
  const annotations = spec.annotations;
  if (!isRecord(annotations)) return {};
  return Object.fromEntries(Object.entries(annotations).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

export function checkpointInfo(dumps: CheckpointDumps): CheckpointInfo {
  const a = specAnnotations(dumps.spec);
  const c = dumps.config;
  const common = {
    rootfsImage: text(c.rootfsImage),
    rootfsImageName: text(c.rootfsImageName),
    rootfsImageRef: text(c.rootfsImageRef),
    runtime: text(c.runtime),
    checkpointedAt: text(c.checkpointedTime),
  };
  switch (a['io.container.manager']) {
    case 'libpod':
      return { engine: 'Podman', container: text(c.name), pod: '', namespace: '', ...common };
    case 'cri-o': {
      let name = '';
      try {
        const meta: unknown = JSON.parse(a['io.kubernetes.cri-o.Metadata'] ?? '');
        if (isRecord(meta)) name = text(meta.name);
      } catch {
        throw bad('spec.dump has no readable io.kubernetes.cri-o.Metadata annotation');
      }
      return {
        engine: 'CRI-O',
        container: name,
        pod: a['io.kubernetes.pod.name'] ?? '',
        namespace: a['io.kubernetes.pod.namespace'] ?? '',
        ...common,
      };
    }
    default:
      return {
        engine: 'containerd',
        container: a['io.kubernetes.cri.container-name'] ?? '',
        pod: a['io.kubernetes.cri.sandbox-name'] ?? '',
        namespace: a['io.kubernetes.cri.sandbox-namespace'] ?? '',
        ...common,
      };
  }
}

/** NAME@sha256:HEX: a reference any node can pull by digest. */
const REPO_DIGEST = /^[a-z0-9][a-z0-9._\-/:]*@sha256:[0-9a-f]{64}$/;
/** A bare image id ("sha256:…" or 64 hex): only the store it came from knows it. */
const BARE_ID = /^(sha256:)?[0-9a-f]{64}$/;

/**
 * The image a restore pulls before it restores (containerd 2.1 pulls config.dump's rootfsImageRef,
 * CRImportCheckpoint; Podman and CRI-O look up rootfsImageName). An image known only by its id (`ctr
 * import`, a local build) cannot be pulled on another node: refused (exit 2) before anyone tries.
 */
export function pullableBaseImage(info: CheckpointInfo): string {
  const refuse = (what: string) =>
    new ExtmountError('bad-input', `the checkpoint's base image ${what} cannot be pulled on another node`, {
      hint: 'push the base image to a registry, run the container from that registry (so its image has a repo digest), and checkpoint again',
    });
  if (info.engine === 'containerd' || info.rootfsImageRef !== '') {
    if (REPO_DIGEST.test(info.rootfsImageRef)) return info.rootfsImageRef;
    if (info.engine === 'containerd')
      throw refuse(`(rootfsImageRef ${JSON.stringify(info.rootfsImageRef)}, no repo digest)`);
  }
  const name = info.rootfsImageName;
  if (name === '' || BARE_ID.test(name) || !/^[a-z0-9][a-z0-9._\-/:@]*$/.test(name))
    throw refuse(`${JSON.stringify(name || info.rootfsImage)}`);
  return name;
}

/**
 * The annotations a checkpoint image's manifest carries: checkpointctl's `build` set (lib/annotations.go,
 * internal/oci_image_build.go), which containerd 2.1 (checkIfCheckpointOCIImage: the manifest's
 * org.criu.checkpoint.container.name) and CRI-O read, and CRI-O's older name key
 * (io.kubernetes.cri-o.annotations.checkpoint.name, as the Kubernetes docs' buildah recipe sets it).
 */
export function checkpointAnnotations(info: CheckpointInfo): Record<string, string> {
  const out: Record<string, string> = {
    'org.criu.checkpoint.engine.name': info.engine,
    'org.criu.checkpoint.container.name': info.container,
    'org.criu.checkpoint.pod.name': info.pod,
    'org.criu.checkpoint.pod.namespace': info.namespace,
    'org.criu.checkpoint.rootfsImageUserRequested': info.rootfsImage,
    'org.criu.checkpoint.rootfsImageName': info.rootfsImageName,
    'org.criu.checkpoint.rootfsImageID': info.rootfsImageRef,
    'org.criu.checkpoint.runtime.name': info.runtime,
    'io.kubernetes.cri-o.annotations.checkpoint.name': info.container,
  };
  if (info.container === '') throw bad('dumps name no container (spec.dump annotations, config.dump "name")');
  return out;
}
