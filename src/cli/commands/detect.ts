// extmount detect: its options and help, and argv → the command's call (the command loads only when it runs).
import { noPassthrough, parseKeyFlags, positiveInt, usage, type CommandSpec } from '../options.js';

export const detect: CommandSpec = {
  summary: 'find external mounts and the CRIU options they need',
  synopsis: ['detect --pid PID | CONTAINER | --mountinfo FILE [--root-mount ID]  [--key MOUNTPOINT=KEY]...'],
  description: `Reads the task's mountinfo (and the container's config), classifies every mount, and prints the
external ones with their key, host path and the CRIU dump/restore options.`,
  operands: { CONTAINER: 'a running Docker container (name or id) on this host' },
  options: {
    pid: { type: 'string', arg: 'PID', help: 'a process tree on this host' },
    mountinfo: {
      type: 'string',
      arg: 'FILE',
      help: 'a saved mountinfo (offline; host paths assume the device is mounted at /)',
    },
    'root-mount': { type: 'string', arg: 'ID', help: "the tree's root mount when FILE is not the task's own view" },
    key: {
      type: 'string',
      multiple: true,
      arg: 'MP=KEY',
      help: 'use KEY for the external mount at MP (e.g. --key /bar=barmount)',
    },
  },
  async run(values, positionals, passthrough, ctx) {
    noPassthrough(passthrough);
    const { runDetect } = await import('../../commands/detect.js');
    const chosen = [values.pid !== undefined, values.mountinfo !== undefined, positionals.length > 0].filter(
      Boolean,
    ).length;
    if (chosen !== 1 || positionals.length > 1)
      throw usage('detect needs exactly one of --pid PID, CONTAINER or --mountinfo FILE', 'detect');
    if (values['root-mount'] !== undefined && values.mountinfo === undefined)
      throw usage('--root-mount goes with --mountinfo FILE', 'detect');
    const keys = parseKeyFlags(values.key as string[] | undefined);
    const source =
      values.pid !== undefined
        ? { kind: 'pid' as const, pid: positiveInt(values.pid as string, '--pid') }
        : values.mountinfo !== undefined
          ? {
              kind: 'file' as const,
              path: values.mountinfo as string,
              ...(values['root-mount'] !== undefined
                ? { rootMountId: positiveInt(values['root-mount'] as string, '--root-mount') }
                : {}),
            }
          : { kind: 'container' as const, ref: positionals[0]! };
    await runDetect({ source, keys }, ctx);
  },
};
