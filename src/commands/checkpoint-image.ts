// `extmount checkpoint-image ARCHIVE --tag REF [--push] [--output FILE]`: the checkpoint image a restore
// Pod names, made from a kubelet/containerd, CRI-O or Podman checkpoint archive without buildah: one
// uncompressed layer holding the archive's entries, the annotations containerd and CRI-O read, pushed
// over the registry API and/or written as an OCI image layout tar (ctr -n k8s.io images import).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, statfs, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { ExtmountError, fileError } from '../core/errors.js';
import {
  checkpointAnnotations,
  checkpointInfo,
  CONFIG_DUMP,
  MAX_DUMP_SIZE,
  parseCheckpointDumps,
  pullableBaseImage,
  SPEC_DUMP,
  type CheckpointInfo,
} from '../core/kube/checkpoint-dumps.js';
import {
  blobDescriptor,
  formatImageRef,
  goArch,
  imageConfig,
  imageManifest,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  ociLayoutTar,
  parseImageRef,
} from '../core/kube/oci-image.js';
import {
  nullSink,
  openCheckpointSource,
  readCheckpointFiles,
  streamLayer,
  type CheckpointSource,
} from '../adapters/kube/checkpoint-source.js';
import { RegistryClient } from '../adapters/kube/registry.js';
import type { CommandContext } from './context.js';

export interface CheckpointImageOptions {
  archive: string;
  tag: string;
  push: boolean;
  output: string | undefined;
  insecure: boolean;
}

/** The checkpoint's dumps and what they say: the engine, the container, the base image a restore pulls. */
export async function readCheckpointInfo(
  source: CheckpointSource,
): Promise<{ info: CheckpointInfo; dumps: ReturnType<typeof parseCheckpointDumps> }> {
  const files = await readCheckpointFiles(source, (p) => p === CONFIG_DUMP || p === SPEC_DUMP, MAX_DUMP_SIZE, 2);
  const config = files.get(CONFIG_DUMP);
  const spec = files.get(SPEC_DUMP);
  if (!config || !spec) {
    throw new ExtmountError(
      'bad-input',
      `${source.path} has no ${config ? SPEC_DUMP : CONFIG_DUMP}: not a container checkpoint archive`,
      {
        hint: 'give the archive the kubelet checkpoint call (/var/lib/kubelet/checkpoints/…), CRI-O or podman container checkpoint --export wrote',
      },
    );
  }
  const dumps = parseCheckpointDumps(config, spec);
  return { info: checkpointInfo(dumps), dumps };
}

export async function runCheckpointImage(options: CheckpointImageOptions, ctx: CommandContext): Promise<void> {
  const ref = parseImageRef(options.tag);
  if (ref.reference.startsWith('sha256:'))
    throw new ExtmountError('usage', `--tag ${options.tag}: give a tag, not a digest`, {
      hint: 'e.g. --tag 127.0.0.1:5000/app-checkpoint:1',
    });
  const source = await openCheckpointSource(options.archive);
  try {
    const { info } = await readCheckpointInfo(source);
    const baseImage = pullableBaseImage(info);
    const annotations = checkpointAnnotations(info);
    // First pass: the layer's digest and size, nothing written anywhere.
    const layerSum = await streamLayer(source, nullSink());
    const layer = { mediaType: OCI_LAYER, ...layerSum };
    const config = blobDescriptor(
      OCI_CONFIG,
      imageConfig(layer.digest, goArch(process.arch), validTime(info.checkpointedAt)),
    );
    const manifest = blobDescriptor(OCI_MANIFEST, imageManifest(config, layer, annotations));
    ctx.log.debug({ layer, config: config.digest, manifest: manifest.digest }, 'checkpoint image');
    const secondPass = async (sink: Writable) => {
      const again = await streamLayer(source, sink);
      if (again.digest !== layer.digest) {
        throw new ExtmountError(
          'bad-input',
          `${options.archive} changed while it was read (layer ${again.digest}, was ${layer.digest})`,
          { hint: 'run it again once nothing writes the archive' },
        );
      }
    };
    if (options.output !== undefined)
      await writeLayout(options.output, formatImageRef(ref), { manifest, config, layer, annotations }, secondPass);
    if (options.push) {
      const registry = new RegistryClient(ref, options.insecure, ctx.io.env);
      await registry.login('pull,push');
      if (!(await registry.hasBlob(layer.digest))) {
        // The second pass streams straight into the upload: nothing of the layer is held or written here.
        const body = new PassThrough();
        const stop = (err: unknown) => {
          body.destroy(err as Error);
          throw err;
        };
        await Promise.all([
          secondPass(body).catch(stop),
          registry.uploadBlob(layer.digest, layer.size, body).catch(stop),
        ]);
      }
      await registry.pushBlob(config.digest, config.bytes);
      const said = await registry.putManifest(ref.reference, OCI_MANIFEST, manifest.bytes);
      if (said && said !== manifest.digest)
        ctx.log.warn(`the registry says the manifest is ${said}, extmount computed ${manifest.digest}`);
    }
    const report = {
      ref: formatImageRef(ref),
      digest: manifest.digest,
      annotations,
      baseImage,
      layer: { digest: layer.digest, size: layer.size },
      pushed: options.push,
      output: options.output ?? null,
    };
    if (ctx.json) {
      ctx.io.out(JSON.stringify(report, null, 2));
      return;
    }
    ctx.io.out(`${formatImageRef(ref)}@${manifest.digest}`);
    ctx.io.err(
      `checkpoint of ${info.engine} container ${info.container}${info.pod ? ` (pod ${info.namespace}/${info.pod})` : ''}, base image ${baseImage}; ${[
        options.push ? `pushed to ${ref.registry}` : '',
        options.output ? `OCI layout in ${options.output} (ctr -n k8s.io images import ${options.output})` : '',
      ]
        .filter(Boolean)
        .join('; ')}`,
    );
  } finally {
    await source.close();
  }
}

function validTime(value: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) ? value : '';
}

/**
 * The OCI layout tar written beside FILE under a name nobody can plant, fsynced, renamed over FILE;
 * refused before it would leave less than a reserve free there.
 */
async function writeLayout(
  file: string,
  name: string,
  image: {
    manifest: ReturnType<typeof blobDescriptor>;
    config: ReturnType<typeof blobDescriptor>;
    layer: { mediaType: string; digest: string; size: number };
    annotations: Record<string, string>;
  },
  layerInto: (sink: Writable) => Promise<void>,
): Promise<void> {
  const { before, after } = ociLayoutTar(
    name,
    image.manifest,
    image.config,
    image.layer,
    image.annotations,
    Math.floor(Date.now() / 1000),
  );
  const total = before.length + image.layer.size + after.length;
  const fs = await statfs(dirname(file)).catch((err: unknown) => Promise.reject(fileError('write', file, err)));
  const reserve = Math.min(1 << 30, Math.floor((fs.blocks * fs.bsize) / 20));
  if (total > fs.bavail * fs.bsize - reserve) {
    throw new ExtmountError(
      'bad-input',
      `${file}: the image needs ${total} bytes, ${dirname(file)} has ${fs.bavail * fs.bsize} free (keeping ${reserve} in reserve)`,
      { hint: 'write it elsewhere, or free space' },
    );
  }
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  ).catch((err: unknown) => Promise.reject(fileError('write', file, err)));
  try {
    await handle.write(before);
    let written = 0;
    await layerInto(
      new Writable({
        write(chunk: Buffer, _enc, callback) {
          written += chunk.length;
          if (written > image.layer.size)
            return callback(
              new ExtmountError('bad-input', `${file}: the archive grew while it was read`, {
                hint: 'run it again once nothing writes the archive',
              }),
            );
          handle.write(chunk).then(() => callback(), callback);
        },
      }),
    );
    await handle.write(after);
    await handle.sync();
    await handle.close();
    await rename(temp, file);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err instanceof ExtmountError ? err : fileError('write', file, err);
  }
}
