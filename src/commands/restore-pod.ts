// `extmount restore-pod ARCHIVE|REF --node NAME [--map SRC=DST]… [--pod FILE] [--handler NAME]`: prints the
// Pod that restores a checkpoint on another node (YAML), from the archive (or its checkpoint image in a
// registry, or an OCI layout tar).
import { stat } from 'node:fs/promises';
import { parse as parseYaml, stringify } from 'yaml';
import type { RemapRule } from '../core/config.js';
import { ExtmountError } from '../core/errors.js';
import { isRecord } from '../core/json.js';
import { DOCKER_MANIFEST, formatImageRef, OCI_INDEX, OCI_MANIFEST, parseImageRef } from '../core/kube/oci-image.js';
import { restorePodFromDumps, restorePodFromFile } from '../core/kube/restore-pod.js';
import {
  openCheckpointSource,
  registryCheckpointSource,
  type CheckpointSource,
} from '../adapters/kube/checkpoint-source.js';
import { RegistryClient } from '../adapters/kube/registry.js';
import { READ_LIMITS, readUntrusted } from '../adapters/fs/untrusted-file.js';
import { readCheckpointInfo } from './checkpoint-image.js';
import type { CommandContext } from './context.js';

export interface RestorePodOptions {
  source: string;
  node: string;
  maps: RemapRule[];
  podFile: string | undefined;
  handler: string;
  /** The image the Pod names (default: REF itself; an ARCHIVE needs it). */
  image: string | undefined;
  insecure: boolean;
}

export async function runRestorePod(options: RestorePodOptions, ctx: CommandContext): Promise<void> {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(options.node))
    throw new ExtmountError('usage', `--node ${options.node}: not a Kubernetes node name`);
  const isFile = await stat(options.source).then(
    (s) => s.isFile(),
    () => false,
  );
  let image = options.image;
  let source: CheckpointSource;
  if (isFile) {
    source = await openCheckpointSource(options.source);
  } else {
    if (/^\.{0,2}\//.test(options.source) || /\.(tar|gz|zst|tgz)$/.test(options.source)) {
      throw new ExtmountError('bad-input', `${options.source}: no such file`, {
        hint: 'give a checkpoint archive, or a checkpoint image REF',
      });
    }
    const ref = parseImageRef(options.source);
    image ??= formatImageRef(ref);
    source = await registrySource(ref, options.insecure, ctx);
  }
  try {
    if (image === undefined) {
      throw new ExtmountError(
        'usage',
        `${options.source} is an archive: give --image REF, the checkpoint image made from it`,
        { hint: 'extmount checkpoint-image ARCHIVE --tag REF --push prints it' },
      );
    }
    const { info, dumps } = await readCheckpointInfo(source);
    const input = { info, image, node: options.node, handler: options.handler, maps: options.maps };
    let result;
    if (options.podFile !== undefined) {
      const { bytes } = await readUntrusted(options.podFile, READ_LIMITS.ociConfig);
      let doc: unknown;
      try {
        doc = parseYaml(bytes.toString('utf8'));
      } catch (err) {
        throw new ExtmountError(
          'bad-input',
          `${options.podFile} is not YAML or JSON (${(err as Error).message.split('\n')[0]})`,
        );
      }
      result = restorePodFromFile(doc, options.podFile, input);
    } else {
      result = restorePodFromDumps({ ...input, spec: dumps.spec });
    }
    for (const w of result.warnings) ctx.io.err(`extmount: warning: ${w}`);
    ctx.io.out(ctx.json ? JSON.stringify(result.pod, null, 2) : stringify(result.pod).trimEnd());
  } finally {
    await source.close();
  }
}

async function registrySource(
  ref: ReturnType<typeof parseImageRef>,
  insecure: boolean,
  ctx: CommandContext,
): Promise<CheckpointSource> {
  const registry = new RegistryClient(ref, insecure, ctx.io.env);
  const cannot = (why: string) =>
    new ExtmountError('bad-input', `${formatImageRef(ref)}: ${why}`, {
      hint: 'give the checkpoint archive instead, or an image extmount checkpoint-image made',
    });
  await registry.login('pull');
  let manifest = await registry.getManifest(ref.reference, [OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX]);
  if (Array.isArray(manifest.json.manifests)) {
    const first = manifest.json.manifests.find(
      (m) => isRecord(m) && (!isRecord(m.platform) || m.platform.os === 'linux'),
    );
    if (!isRecord(first) || typeof first.digest !== 'string') throw cannot('an image index without a linux image');
    manifest = await registry.getManifest(first.digest, [OCI_MANIFEST, DOCKER_MANIFEST]);
  }
  const annotations = isRecord(manifest.json.annotations) ? manifest.json.annotations : {};
  if (
    typeof annotations['org.criu.checkpoint.container.name'] !== 'string' &&
    typeof annotations['io.kubernetes.cri-o.annotations.checkpoint.name'] !== 'string'
  ) {
    throw cannot('not a checkpoint image (no org.criu.checkpoint.container.name annotation)');
  }
  const layer = Array.isArray(manifest.json.layers) ? manifest.json.layers[0] : undefined;
  if (!isRecord(layer) || typeof layer.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(layer.digest))
    throw cannot('a manifest without a layer');
  return registryCheckpointSource(
    formatImageRef(ref),
    { digest: layer.digest, mediaType: typeof layer.mediaType === 'string' ? layer.mediaType : '' },
    (d) => registry.getBlob(d),
  );
}
