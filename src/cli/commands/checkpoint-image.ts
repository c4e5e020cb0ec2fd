// extmount checkpoint-image: its options and help, and argv → the command's call (the command loads only when it runs).
import { noPassthrough, usage, type CommandSpec } from '../options.js';

export const checkpointImage: CommandSpec = {
  summary:
    'make the checkpoint image a Kubernetes restore Pod names, from a checkpoint archive (push it, or write an OCI layout)',
  synopsis: ['checkpoint-image ARCHIVE --tag REF [--push [--insecure]] [--output FILE]'],
  description: `Reads a kubelet/containerd, CRI-O or Podman checkpoint archive (plain, gzip or zstd) and makes an OCI image
of one uncompressed layer holding the archive's entries, with the annotations containerd and CRI-O read to
restore from it (org.criu.checkpoint.container.name and the rest of checkpointctl build's set). --push
sends it to REF's registry over the registry v2 API (plain http only for 127.0.0.1/localhost or with
--insecure; credentials from the docker CLI's config.json auths); --output writes an OCI image layout tar
(ctr -n k8s.io images import FILE). Refuses (exit 2) an archive whose base image has no repo digest
(containerd pulls it by digest before every restore). Prints REF@DIGEST.`,
  operands: { ARCHIVE: 'the checkpoint archive (e.g. /var/lib/kubelet/checkpoints/checkpoint-POD_NS-CTR-TIME.tar)' },
  options: {
    tag: { type: 'string', arg: 'REF', help: 'the image reference, e.g. 127.0.0.1:5000/app-checkpoint:1' },
    push: { type: 'boolean', help: "push the image to REF's registry" },
    output: { type: 'string', arg: 'FILE', help: 'write the image as an OCI image layout tar' },
    insecure: { type: 'boolean', help: 'with --push: plain http to a registry that is not on loopback' },
  },
  async run(values, positionals, passthrough, ctx) {
    noPassthrough(passthrough);
    if (positionals.length !== 1) throw usage('checkpoint-image needs exactly one ARCHIVE', 'checkpoint-image');
    if (values.tag === undefined) throw usage('checkpoint-image needs --tag REF', 'checkpoint-image');
    if (values.push !== true && values.output === undefined)
      throw usage('checkpoint-image needs --push, --output FILE or both', 'checkpoint-image');
    if (values.insecure === true && values.push !== true)
      throw usage('--insecure goes with --push', 'checkpoint-image');
    const { runCheckpointImage } = await import('../../commands/checkpoint-image.js');
    await runCheckpointImage(
      {
        archive: positionals[0]!,
        tag: values.tag as string,
        push: values.push === true,
        output: values.output as string | undefined,
        insecure: values.insecure === true,
      },
      ctx,
    );
  },
};
