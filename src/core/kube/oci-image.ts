// A checkpoint image as OCI data: the image reference, the image config, the manifest with its
// annotations, and an OCI image layout (index.json, oci-layout, blobs/sha256/…) that
// `ctr -n k8s.io images import` reads. The one layer is the checkpoint archive's content, uncompressed,
// entries as the archive has them (what `buildah add` of the archive makes, checkpointctl build).
import { createHash } from 'node:crypto';
import { ExtmountError } from '../errors.js';
import { encodeFileEntry, encodeFileHeader, END_OF_ARCHIVE, paddedSize } from '../migrate/migrate-tar.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ImageRef {
  /** host[:port] as given (docker.io for a bare name). */
  registry: string;
  /** The repository path (library/NAME for a bare docker.io name). */
  repository: string;
  /** A tag or a sha256 digest. */
  reference: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** NAME[:TAG|@DIGEST] as the docker CLI reads it (distribution/reference): a first part with "." or ":" or "localhost" is a registry. */
export function parseImageRef(ref: string): ImageRef {
  const badRef = () =>
    new ExtmountError('usage', `${JSON.stringify(ref)} is not an image reference`, {
      hint: 'write REGISTRY/REPOSITORY:TAG, e.g. 127.0.0.1:5000/app-checkpoint:1',
    });
  if (ref.length > 512 || /[\s\0]/.test(ref)) throw badRef();
  let rest = ref;
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at !== -1) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[0-9a-f]{64}$/.test(reference)) throw badRef();
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(reference)) throw badRef();
    }
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost'))
    registry = parts.shift()!;
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (
    !/^[A-Za-z0-9.-]+(:[0-9]+)?$|^\[[0-9a-fA-F:]+\](:[0-9]+)?$/.test(registry) ||
    parts.length === 0 ||
    !parts.every((p) => COMPONENT.test(p))
  )
    throw badRef();
  return { registry, repository: parts.join('/'), reference };
}

export function formatImageRef(ref: ImageRef, digest?: string): string {
  const name = `${ref.registry}/${ref.repository}`;
  return digest
    ? `${name}@${digest}`
    : ref.reference.startsWith('sha256:')
      ? `${name}@${ref.reference}`
      : `${name}:${ref.reference}`;
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function blobDescriptor(mediaType: string, bytes: Buffer): Descriptor & { bytes: Buffer } {
  return { mediaType, digest: sha256(bytes), size: bytes.length, bytes };
}

/** GOARCH names, as image configs and containerd's platform matcher spell them. */
export function goArch(nodeArch: string): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    ia32: '386',
  };
  return map[nodeArch] ?? nodeArch;
}

/**
 * The image config: the one layer's diff id and the node platform (containerd matches a manifest's
 * config against the sandbox platform before it reads the layer: CRImportCheckpoint, i.RootFS).
 */
export function imageConfig(layerDigest: string, arch: string, created: string): Buffer {
  const config: Record<string, unknown> = {
    ...(created ? { created } : {}),
    architecture: arch,
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [layerDigest] },
    history: [{ ...(created ? { created } : {}), created_by: 'extmount checkpoint-image' }],
  };
  return Buffer.from(JSON.stringify(config));
}

export function imageManifest(config: Descriptor, layer: Descriptor, annotations: Record<string, string>): Buffer {
  const strip = (d: Descriptor): Descriptor => ({ mediaType: d.mediaType, digest: d.digest, size: d.size });
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: strip(config),
      layers: [strip(layer)],
      annotations,
    }),
  );
}

/**
 * The OCI image layout as tar pieces around the layer's bytes: `before` (oci-layout, index.json,
 * config and manifest blobs, the layer's header), then the layer's `size` bytes, then `after` (its
 * padding and the end of the archive). index.json names the image (org.opencontainers.image.ref.name,
 * which ctr import takes as the image name) and repeats the manifest's annotations.
 */
export function ociLayoutTar(
  ref: string,
  manifest: Descriptor & { bytes: Buffer },
  config: Descriptor & { bytes: Buffer },
  layer: Descriptor,
  annotations: Record<string, string>,
  mtime: number,
): { before: Buffer; after: Buffer } {
  const file = (name: string, data: Buffer) => encodeFileEntry({ name, mode: 0o644, uid: 0, gid: 0, mtime }, data);
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      {
        mediaType: OCI_MANIFEST,
        digest: manifest.digest,
        size: manifest.size,
        annotations: { ...annotations, 'org.opencontainers.image.ref.name': ref },
      },
    ],
  };
  const blob = (d: Descriptor) => `blobs/sha256/${d.digest.slice('sha256:'.length)}`;
  const before = Buffer.concat([
    file('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }))),
    file('index.json', Buffer.from(JSON.stringify(index))),
    file(blob(config), config.bytes),
    file(blob(manifest), manifest.bytes),
    encodeFileHeader({ name: blob(layer), mode: 0o644, uid: 0, gid: 0, mtime }, layer.size),
  ]);
  return { before, after: Buffer.concat([Buffer.alloc(paddedSize(layer.size) - layer.size), END_OF_ARCHIVE]) };
}
