// A checkpoint archive as containerd 2.1's CRI CheckpointContainer writes it (internal/cri/server/
// container_checkpoint_linux.go: checkpoint/ with CRIU images, config.dump = checkpointctl's
// ContainerConfig, spec.dump = the OCI spec with the CRI annotations, status.dump = the CRI
// ContainerStatus, rootfs-diff.tar, container.log), for a Pod with every volume shape a kubelet makes.
import { encodeEntry, encodeFileEntry, END_OF_ARCHIVE } from '../../src/core/migrate/migrate-tar.js';

export const POD_UID = '5f0c9d8e-4b1a-4c2d-9e3f-0a1b2c3d4e5f';
const SANDBOX = 'a3f1c2d4e5b60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
const CONTAINER = '9e8d7c6b5a49382716051f2e3d4c5b6a79880716253443526170819a0b1c2d3e';
const KUBELET = `/var/lib/kubelet/pods/${POD_UID}`;

export interface ArchiveOptions {
  rootfsImageRef?: string;
  extraMounts?: unknown[];
  /** CRIU images under checkpoint/ (default: a stand-in inventory.img). */
  images?: Record<string, Buffer>;
}

export function containerdConfigDump(options: ArchiveOptions = {}): object {
  return {
    id: CONTAINER,
    name: `counter_counter-pod_default_${POD_UID}_0`,
    rootfsImage: '127.0.0.1:5000/extmount-test:1',
    rootfsImageRef: options.rootfsImageRef ?? `127.0.0.1:5000/extmount-test@sha256:${'4'.repeat(64)}`,
    rootfsImageName: '127.0.0.1:5000/extmount-test:1',
    runtime: 'io.containerd.runc.v2',
    createdTime: '2026-12-07T01:00:00.123456789Z',
    checkpointedTime: '2026-12-07T01:05:00.5Z',
    restoredTime: '0001-01-01T00:00:00Z',
    restored: false,
  };
}

export function containerdSpecDump(options: ArchiveOptions = {}): object {
  const bind = (source: string, destination: string, ...opts: string[]) => ({
    destination,
    type: 'bind',
    source,
    options: ['rbind', ...opts],
  });
  return {
    ociVersion: '1.2.0',
    process: {
      user: { uid: 0, gid: 0 },
      args: ['sh', '-c', 'while :; do date >> /data/log; sleep 1; done'],
      env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'HOSTNAME=counter-pod',
        'TOKEN=abc=def',
        'KUBERNETES_SERVICE_HOST=10.96.0.1',
        'KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443',
      ],
      cwd: '/work',
    },
    root: { path: 'rootfs' },
    hostname: 'counter-pod',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
      bind(`${KUBELET}/etc-hosts`, '/etc/hosts', 'rprivate', 'rw'),
      bind(`${KUBELET}/containers/counter/1a2b3c4d`, '/dev/termination-log', 'rprivate', 'rw'),
      bind(
        `/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/${SANDBOX}/hostname`,
        '/etc/hostname',
        'rprivate',
        'rw',
      ),
      bind(
        `/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/${SANDBOX}/resolv.conf`,
        '/etc/resolv.conf',
        'rprivate',
        'rw',
      ),
      bind(`/run/containerd/io.containerd.grpc.v1.cri/sandboxes/${SANDBOX}/shm`, '/dev/shm', 'rprivate', 'rw'),
      bind('/srv/a/data', '/data', 'rprivate', 'rw'),
      bind('/srv/a/prop', '/prop', 'rslave', 'rw'),
      bind('/srv/a/shared', '/shared', 'rshared', 'rw'),
      bind('/etc/a/app.conf', '/etc/app.conf', 'rprivate', 'ro'),
      bind(`${KUBELET}/volumes/kubernetes.io~empty-dir/cache`, '/cache', 'rprivate', 'rw'),
      bind(`${KUBELET}/volumes/kubernetes.io~configmap/app-config`, '/etc/app', 'rprivate', 'ro'),
      bind(`${KUBELET}/volumes/kubernetes.io~secret/tls`, '/etc/tls', 'rprivate', 'ro'),
      bind(
        `${KUBELET}/volumes/kubernetes.io~projected/kube-api-access-x7k2p`,
        '/var/run/secrets/kubernetes.io/serviceaccount',
        'rprivate',
        'ro',
      ),
      ...(options.extraMounts ?? []),
    ],
    annotations: {
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': 'counter',
      'io.kubernetes.cri.image-name': '127.0.0.1:5000/extmount-test:1',
      'io.kubernetes.cri.sandbox-id': SANDBOX,
      'io.kubernetes.cri.sandbox-name': 'counter-pod',
      'io.kubernetes.cri.sandbox-namespace': 'default',
      'io.kubernetes.cri.sandbox-uid': POD_UID,
    },
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
  };
}

/** The archive's bytes (a plain tar, as containerd writes it). */
export function containerdArchive(options: ArchiveOptions = {}): Buffer {
  const mtime = 1_796_000_000;
  const file = (name: string, data: string | Buffer) =>
    encodeFileEntry({ name, mode: 0o600, uid: 0, gid: 0, mtime }, Buffer.from(data));
  const status = {
    id: CONTAINER,
    metadata: { name: 'counter' },
    state: 1,
    image: { image: '127.0.0.1:5000/extmount-test:1' },
    imageRef: containerdConfigDump(options),
  };
  return Buffer.concat([
    encodeEntry({ name: 'checkpoint', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime, devmajor: 0, devminor: 0 }),
    ...Object.entries(options.images ?? { 'inventory.img': Buffer.from('544e0000', 'hex') }).map(([name, data]) =>
      file(`checkpoint/${name}`, data),
    ),
    file('checkpoint/pages-1.img', Buffer.alloc(10_000, 7)),
    file('checkpoint/extmount.yaml', 'version: 1\n'),
    file('config.dump', JSON.stringify(containerdConfigDump(options))),
    file('spec.dump', JSON.stringify(containerdSpecDump(options))),
    file('status.dump', JSON.stringify(status)),
    file('status', '{"Pid":1234}'),
    file('rootfs-diff.tar', Buffer.alloc(1024)),
    file('container.log', '2026-12-07T01:00:01Z stdout F hello\n'),
    END_OF_ARCHIVE,
  ]);
}
