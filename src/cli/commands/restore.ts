// extmount restore: its options and help, and argv → the command's call (the command loads only when it runs).
import { noPassthrough, parseMapFlags, usage, type CommandSpec } from '../options.js';

export const restore: CommandSpec = {
  summary: 'restore a checkpoint (or a Podman checkpoint archive), with external mounts mapped and checked first',
  synopsis: [
    'restore --images-dir DIR [--map KEY=PATH]... [--foreground] [-- CRIU_ARGS...]',
    'restore CONTAINER [--name NAME] [--map KEY=PATH]...',
    'restore --import ARCHIVE [--map SRC=DST]... [--name NAME] [-- PODMAN_ARGS...]',
  ],
  description: `Reads the manifest (DIR/extmount.yaml), resolves every external mount (--map, then the config's
remap rules, then the recorded host path), checks each target before CRIU runs (exists, same
type, allowed by hostPaths, no symlinks), then runs criu restore. Prints the restored pid.
With --import: a \`podman container checkpoint --export\` archive, its binds remapped (--map, then the
config's remap rules) and checked on this host, restored by \`podman container restore --import\`
from a copy (the archive is not changed). Prints the container's ID.`,
  operands: {
    CONTAINER: 'a Docker container with a checkpoint',
    CRIU_ARGS: 'after "--": passed to criu restore as they are',
    PODMAN_ARGS: 'after "--" with --import: passed to podman container restore as they are',
  },
  options: {
    'images-dir': { type: 'string', arg: 'DIR', help: 'images written by extmount checkpoint --pid' },
    map: {
      type: 'string',
      multiple: true,
      arg: 'KEY=PATH',
      help: 'restore the external mount KEY from PATH; with --import SRC=DST: binds from SRC (and below) come from DST',
    },
    import: {
      type: 'string',
      arg: 'ARCHIVE',
      help: 'a Podman checkpoint archive (podman container checkpoint --export) to restore here',
    },
    foreground: { type: 'boolean', help: 'wait for the restored tree instead of detaching' },
    name: {
      type: 'string',
      arg: 'NAME',
      help: "checkpoint name for a container (default: its newest); with --import: the restored container's new name",
    },
  },
  async run(values, positionals, passthrough, ctx) {
    if (values.import !== undefined) {
      if (positionals.length > 0 || values['images-dir'] !== undefined)
        throw usage('--import ARCHIVE goes alone: no CONTAINER, no --images-dir', 'restore');
      if (values.foreground !== undefined) throw usage('--foreground goes with --images-dir', 'restore');
      if (ctx.host !== undefined)
        throw usage("--import runs this host's podman; --host names a Docker engine", 'restore');
      const { parseMigrateMaps } = await import('../../core/migrate/migrate-plan.js');
      const { runRestoreImport } = await import('../../commands/restore-import.js');
      await runRestoreImport(
        {
          archive: values.import as string,
          maps: parseMigrateMaps(values.map as string[] | undefined, 'restore'),
          name: values.name as string | undefined,
          podmanArgs: passthrough,
        },
        ctx,
      );
      return;
    }
    const maps = parseMapFlags(values.map as string[] | undefined);
    if (values['images-dir'] !== undefined) {
      if (positionals.length > 0) throw usage('restore takes --images-dir DIR or CONTAINER, not both', 'restore');
      if (values.name !== undefined) throw usage('--name goes with a CONTAINER, not --images-dir', 'restore');
      const { runRestore } = await import('../../commands/restore.js');
      await runRestore(
        {
          imagesDir: values['images-dir'] as string,
          maps,
          foreground: values.foreground === true,
          criuArgs: passthrough,
        },
        ctx,
      );
      return;
    }
    if (positionals.length !== 1) throw usage('restore needs --images-dir DIR or one CONTAINER', 'restore');
    if (values.foreground !== undefined) throw usage('--foreground goes with --images-dir', 'restore');
    noPassthrough(passthrough);
    const { runContainerRestore } = await import('../../commands/container-checkpoint.js');
    await runContainerRestore({ ref: positionals[0]!, name: values.name as string | undefined, maps }, ctx);
  },
};
