// extmount restore-pod: its options and help, and argv → the command's call (the command loads only when it runs).
import { noPassthrough, usage, type CommandSpec } from '../options.js';

export const restorePod: CommandSpec = {
  summary: 'print the Kubernetes Pod that restores a checkpoint image on a node, hostPaths remapped',
  synopsis: [
    'restore-pod ARCHIVE --image REF --node NAME [--map SRC=DST]... [--pod FILE] [--handler NAME]',
    'restore-pod REF --node NAME [--map SRC=DST]... [--pod FILE] [--handler NAME] [--insecure]',
  ],
  description: `Prints the restore Pod (YAML; JSON with --json): the checkpointed container's command, env and working
dir from the archive's spec.dump (or the Pod FILE given, e.g. kubectl get pod NAME -o yaml), image = the
checkpoint image, nodeName, runtimeClassName (default extmount), every hostPath source remapped (--map
SRC=DST: SRC and below come from DST) with its propagation (rslave: HostToContainer, rshared:
Bidirectional) and read-only kept, and the kubelet's own volumes (emptyDir, configMap, secret, the
service-account token) declared again for the new node's kubelet to make. REF: the checkpoint image is read
from its registry. A volume the archive cannot describe (a subPath, a CSI or other plugin volume) is
refused (exit 2): give the Pod with --pod FILE.`,
  operands: {
    ARCHIVE: 'a checkpoint archive, or an OCI layout tar from checkpoint-image --output',
    REF: 'a checkpoint image in a registry',
  },
  options: {
    node: { type: 'string', arg: 'NAME', help: 'the node to restore on (spec.nodeName)' },
    map: {
      type: 'string',
      multiple: true,
      arg: 'SRC=DST',
      help: 'hostPaths from SRC (and below) come from DST on that node',
    },
    pod: { type: 'string', arg: 'FILE', help: "the original Pod (YAML or JSON): its spec instead of the archive's" },
    handler: { type: 'string', arg: 'NAME', help: 'the RuntimeClass (default: extmount)' },
    image: {
      type: 'string',
      arg: 'REF',
      help: 'with an ARCHIVE: the checkpoint image made from it (checkpoint-image prints it)',
    },
    insecure: { type: 'boolean', help: 'with a REF: plain http to a registry that is not on loopback' },
  },
  async run(values, positionals, passthrough, ctx) {
    noPassthrough(passthrough);
    if (positionals.length !== 1) throw usage('restore-pod needs exactly one ARCHIVE or REF', 'restore-pod');
    if (values.node === undefined) throw usage('restore-pod needs --node NAME', 'restore-pod');
    const { parseMigrateMaps } = await import('../../core/migrate/migrate-plan.js');
    const { runRestorePod } = await import('../../commands/restore-pod.js');
    await runRestorePod(
      {
        source: positionals[0]!,
        node: values.node as string,
        maps: parseMigrateMaps(values.map as string[] | undefined, 'restore-pod'),
        podFile: values.pod as string | undefined,
        handler: (values.handler as string | undefined) ?? 'extmount',
        image: values.image as string | undefined,
        insecure: values.insecure === true,
      },
      ctx,
    );
  },
};
