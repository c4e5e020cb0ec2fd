// extmount show: its options and help, and argv → the command's call (the command loads only when it runs).
import { noPassthrough, usage, type CommandSpec } from '../options.js';

export const show: CommandSpec = {
  summary: 'decode CRIU images (mountpoints, inventory) without crit, also inside checkpoint archives and images',
  synopsis: ['show PATH'],
  description: `Prints the mounts recorded in CRIU images (mnt_id, parent, root, mountpoint, fstype, source,
external key, sharing) and the inventory, without crit. PATH may also be a checkpoint archive (kubelet/
containerd, CRI-O or Podman; plain, gzip or zstd) or a checkpoint image's OCI layout tar: its checkpoint/
images are read in place.`,
  operands: { PATH: 'a CRIU images directory, one image file, a checkpoint archive or an OCI layout tar' },
  options: {},
  async run(_values, positionals, passthrough, ctx) {
    noPassthrough(passthrough);
    if (positionals.length !== 1) throw usage('show needs exactly one PATH', 'show');
    const { runShow } = await import('../../commands/show.js');
    await runShow({ path: positionals[0]!, json: ctx.json }, ctx.io);
  },
};
