// extmount checkpoint: its options and help, and argv → the command's call (the command loads only when it runs).
import { noPassthrough, parseKeyFlags, positiveInt, usage, type CommandSpec } from '../options.js';

export const checkpoint: CommandSpec = {
  summary: 'checkpoint a process tree (--pid) or a Docker container, keeping external mounts',
  synopsis: [
    'checkpoint --pid PID --images-dir DIR [--key MP=KEY]... [--leave-running] [-- CRIU_ARGS...]',
    'checkpoint CONTAINER [--name NAME] [--leave-running]',
  ],
  description: `--pid: runs criu dump on the tree rooted at PID with the options extmount detect derives, and
writes DIR/extmount.yaml (the manifest restore reads). CRIU_ARGS go to criu as they are.
CONTAINER: docker checkpoint create through the engine's API (the container must run under the
extmount runtime when it has mounts runc does not map itself).`,
  operands: {
    CONTAINER: 'a running Docker container (name or id)',
    CRIU_ARGS: 'after "--": passed to criu dump as they are',
  },
  options: {
    pid: { type: 'string', arg: 'PID', help: 'the root of the process tree' },
    'images-dir': { type: 'string', arg: 'DIR', help: 'where CRIU writes the images (created if missing)' },
    key: { type: 'string', multiple: true, arg: 'MP=KEY', help: 'use KEY for the external mount at MP' },
    'leave-running': { type: 'boolean', help: 'keep the tree (or container) running after the dump' },
    name: { type: 'string', arg: 'NAME', help: 'checkpoint name for a container (default: extmount-<time>)' },
  },
  async run(values, positionals, passthrough, ctx) {
    const leaveRunning = values['leave-running'] === true;
    if (values.pid !== undefined) {
      if (positionals.length > 0) throw usage('checkpoint takes --pid PID or CONTAINER, not both', 'checkpoint');
      if (values.name !== undefined) throw usage('--name goes with a CONTAINER, not --pid', 'checkpoint');
      if (values['images-dir'] === undefined) throw usage('checkpoint --pid needs --images-dir DIR', 'checkpoint');
      const { runCheckpoint } = await import('../../commands/checkpoint.js');
      await runCheckpoint(
        {
          pid: positiveInt(values.pid as string, '--pid'),
          imagesDir: values['images-dir'] as string,
          keys: parseKeyFlags(values.key as string[] | undefined),
          leaveRunning,
          criuArgs: passthrough,
        },
        ctx,
      );
      return;
    }
    if (positionals.length !== 1) throw usage('checkpoint needs --pid PID or one CONTAINER', 'checkpoint');
    if (values['images-dir'] !== undefined || values.key !== undefined)
      throw usage('--images-dir and --key go with --pid', 'checkpoint');
    noPassthrough(passthrough);
    const { runContainerCheckpoint } = await import('../../commands/container-checkpoint.js');
    await runContainerCheckpoint({ ref: positionals[0]!, name: values.name as string | undefined, leaveRunning }, ctx);
  },
};
