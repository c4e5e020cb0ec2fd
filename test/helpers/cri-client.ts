// A typed CRI client (runtime.v1) over a containerd socket: the calls the kubelet makes, nothing else.
// The proto is the one Debian ships (golang-github-kubernetes-cri-api-dev); its only gogoproto uses
// are file-level Go codegen options, stripped before loading so that no gogo.proto or
// google/protobuf/descriptor.proto has to resolve (they change nothing on the wire).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const CRI_API_PROTO = '/usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto';

/** api.proto without its gogoproto import and file options; anything else of gogo's left is refused. */
export function stripGogo(proto: string): string {
  const out = proto
    .split('\n')
    .filter((line) => !/^import "github\.com\/gogo\/protobuf\/gogoproto\/gogo\.proto";\s*$/.test(line))
    .filter((line) => !/^option \(gogoproto\.[a-z_]+\) = +(true|false);\s*$/.test(line))
    .join('\n');
  if (out.includes('gogoproto'))
    throw new Error('the CRI api.proto uses gogoproto beyond file options: the client cannot load it as is');
  return out;
}

export type MountPropagation = 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';

export interface Mount {
  container_path: string;
  host_path: string;
  readonly?: boolean;
  propagation?: MountPropagation;
}

export interface KeyValue {
  key: string;
  value: string;
}

/** NamespaceMode: POD shares the sandbox's, CONTAINER has its own (the kubelet's pid default), NODE the host's. */
export interface NamespaceOptions {
  network?: 'POD' | 'CONTAINER' | 'NODE';
  pid?: 'POD' | 'CONTAINER' | 'NODE';
  ipc?: 'POD' | 'CONTAINER' | 'NODE';
}

export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt?: number };
  hostname?: string;
  log_directory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroup_parent?: string; security_context?: { namespace_options?: NamespaceOptions } };
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: KeyValue[];
  mounts?: Mount[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  log_path?: string;
  linux?: { security_context?: { namespace_options?: NamespaceOptions } };
}

export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface ContainerStatus {
  id: string;
  state: ContainerState;
  exit_code: number;
  reason: string;
  message: string;
  image_ref: string;
  mounts: Mount[];
}

export interface PodSandbox {
  id: string;
  metadata: { name: string; uid: string; namespace: string };
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
}

/** A failed call: the gRPC status code (grpc.status) and containerd's message. */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly details: string,
  ) {
    super(`CRI ${method}: ${grpc.status[code] ?? code}: ${details}`);
  }
}

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: unknown) => void,
) => void;

let definition: Promise<grpc.GrpcObject> | undefined;

async function loadCri(): Promise<grpc.GrpcObject> {
  const dir = await mkdtemp(join(tmpdir(), 'extmount-cri-proto-'));
  try {
    const file = join(dir, 'api.proto');
    await writeFile(file, stripGogo(readFileSync(CRI_API_PROTO, 'utf8')));
    // keepCase: fields as the proto spells them (container_id), as kubelet sources and containerd logs do.
    const pkg = await protoLoader.load(file, {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    return grpc.loadPackageDefinition(pkg);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export class CriClient {
  private constructor(
    private readonly runtime: grpc.Client,
    private readonly image: grpc.Client,
  ) {}

  static async connect(socket: string): Promise<CriClient> {
    definition ??= loadCri();
    const v1 = ((await definition).runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
    const address = `unix://${socket}`;
    const Runtime = v1.RuntimeService as grpc.ServiceClientConstructor;
    const Image = v1.ImageService as grpc.ServiceClientConstructor;
    const credentials = grpc.credentials.createInsecure();
    return new CriClient(new Runtime(address, credentials), new Image(address, credentials));
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }

  private call<T>(client: grpc.Client, method: string, req: unknown, timeoutMs = 120_000): Promise<T> {
    const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
    return new Promise((resolve, reject) => {
      fn(req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new CriError(method, err.code, err.details));
        else resolve(res as T);
      });
    });
  }

  version(): Promise<{ runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call(this.runtime, 'Version', {}, 5_000);
  }

  /** Whether the runtime and its network are ready (the kubelet's node readiness). */
  async ready(): Promise<boolean> {
    const res = await this.call<{ status: { conditions: Array<{ type: string; status: boolean }> } }>(
      this.runtime,
      'Status',
      {},
      5_000,
    );
    return res.status.conditions.every((c) => c.status);
  }

  async pullImage(image: string, sandboxConfig?: PodSandboxConfig): Promise<string> {
    const res = await this.call<{ image_ref: string }>(this.image, 'PullImage', {
      image: { image },
      sandbox_config: sandboxConfig,
    });
    return res.image_ref;
  }

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler: string): Promise<string> {
    const res = await this.call<{ pod_sandbox_id: string }>(this.runtime, 'RunPodSandbox', {
      config,
      runtime_handler: runtimeHandler,
    });
    return res.pod_sandbox_id;
  }

  async createContainer(
    podSandboxId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig,
  ): Promise<string> {
    const res = await this.call<{ container_id: string }>(this.runtime, 'CreateContainer', {
      pod_sandbox_id: podSandboxId,
      config,
      sandbox_config: sandboxConfig,
    });
    return res.container_id;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call(this.runtime, 'StartContainer', { container_id: containerId });
  }

  async containerStatus(containerId: string): Promise<ContainerStatus> {
    const res = await this.call<{ status: ContainerStatus }>(this.runtime, 'ContainerStatus', {
      container_id: containerId,
    });
    return res.status;
  }

  /** The kubelet's checkpoint (KEP-2008): a tar at `location`; `timeout` in seconds, as the kubelet passes it. */
  async checkpointContainer(containerId: string, location: string, timeout = 60): Promise<void> {
    await this.call(
      this.runtime,
      'CheckpointContainer',
      { container_id: containerId, location, timeout },
      (timeout + 30) * 1000,
    );
  }

  /** An exec probe's call: the command's exit code and output. */
  async execSync(
    containerId: string,
    cmd: string[],
    timeout = 10,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const res = await this.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>(
      this.runtime,
      'ExecSync',
      { container_id: containerId, cmd, timeout },
      (timeout + 10) * 1000,
    );
    return { exitCode: res.exit_code, stdout: res.stdout.toString('utf8'), stderr: res.stderr.toString('utf8') };
  }

  async listPodSandboxes(): Promise<PodSandbox[]> {
    const res = await this.call<{ items: PodSandbox[] }>(this.runtime, 'ListPodSandbox', {});
    return res.items;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.call(this.runtime, 'StopPodSandbox', { pod_sandbox_id: podSandboxId });
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.call(this.runtime, 'RemovePodSandbox', { pod_sandbox_id: podSandboxId });
  }
}
