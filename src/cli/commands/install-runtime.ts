// extmount install-runtime: its options and help, and argv → the command's call (the command loads only when it runs).
import { noPassthrough, usage, type CommandSpec } from '../options.js';

export const installRuntime: CommandSpec = {
  summary: 'print (or write) the dockerd, Podman or containerd (Kubernetes) runtime entry for hooks/extmount-runc',
  synopsis: [
    'install-runtime [--apply] [--name NAME] [--daemon-json FILE]',
    'install-runtime --podman [--apply] [--name NAME] [--containers-conf FILE] [--runtime-config FILE]',
    'install-runtime --containerd [--apply] [--name NAME] [--containerd-config FILE] [--drop-in FILE]',
  ],
  description: `Prints the "runtimes" entry that registers hooks/extmount-runc with dockerd. With --apply, merges
it into FILE (default /etc/docker/daemon.json), keeping a backup; then reload dockerd (SIGHUP).
With --podman: the containers.conf drop-in ([engine.runtimes] NAME = ["…/hooks/extmount-runc"], default
/etc/containers/containers.conf.d/extmount.conf) and the extmount config the wrapper reads under Podman,
which passes the runtime no environment (default /etc/extmount/config.json: "runc", "node" and "criu" as
absolute paths; other fields kept, a backup kept). A drop-in extmount did not write, or a config that is
not a valid extmount config, is refused (exit 2, nothing changed).
With --containerd (containerd 2.x, a Kubernetes node): the drop-in (config version 3, default
/etc/containerd/conf.d/extmount.toml) declaring the CRI runtime handler NAME (runc v2 shim, options.BinaryName
= hooks/extmount-runc), the top-level imports = [...] of the main config (default /etc/containerd/config.toml;
a backup kept) that loads it, and the RuntimeClass to kubectl apply. A main config that is not version 3 or
whose imports extmount cannot edit safely, or a drop-in extmount did not write, is refused (exit 2).`,
  options: {
    apply: { type: 'boolean', help: 'write the entry (daemon.json: merged, a timestamped backup is kept)' },
    name: { type: 'string', arg: 'NAME', help: 'runtime name (default: extmount)' },
    'daemon-json': {
      type: 'string',
      arg: 'FILE',
      help: 'the daemon configuration to merge into (default: /etc/docker/daemon.json)',
    },
    podman: {
      type: 'boolean',
      help: 'register with Podman (containers.conf drop-in and extmount config) instead of dockerd',
    },
    'containers-conf': {
      type: 'string',
      arg: 'FILE',
      help: 'with --podman: the drop-in to write (default: /etc/containers/containers.conf.d/extmount.conf)',
    },
    'runtime-config': {
      type: 'string',
      arg: 'FILE',
      help: 'with --podman: the extmount config to write (default: /etc/extmount/config.json)',
    },
    containerd: {
      type: 'boolean',
      help: "register a CRI runtime handler with containerd 2.x (a drop-in and the main config's imports) and print its RuntimeClass",
    },
    'containerd-config': {
      type: 'string',
      arg: 'FILE',
      help: 'with --containerd: the main config whose imports load the drop-in (default: /etc/containerd/config.toml)',
    },
    'drop-in': {
      type: 'string',
      arg: 'FILE',
      help: 'with --containerd: the drop-in to write (default: /etc/containerd/conf.d/extmount.toml)',
    },
  },
  async run(values, positionals, passthrough, ctx) {
    noPassthrough(passthrough);
    if (positionals.length > 0) throw usage(`unexpected argument ${positionals[0]}`, 'install-runtime');
    const name = (values.name as string | undefined) ?? 'extmount';
    if (values.containerd === true) {
      if (values.podman === true) throw usage('--containerd and --podman: choose one', 'install-runtime');
      for (const flag of ['daemon-json', 'containers-conf', 'runtime-config']) {
        if (values[flag] !== undefined) throw usage(`--${flag} does not go with --containerd`, 'install-runtime');
      }
      const { runInstallContainerd, CONTAINERD_CONFIG, CONTAINERD_DROP_IN } =
        await import('../../commands/install-runtime.js');
      await runInstallContainerd(
        {
          apply: values.apply === true,
          name,
          containerdConfig: (values['containerd-config'] as string | undefined) ?? CONTAINERD_CONFIG,
          dropIn: (values['drop-in'] as string | undefined) ?? CONTAINERD_DROP_IN,
        },
        ctx,
      );
      return;
    }
    for (const flag of ['containerd-config', 'drop-in']) {
      if (values[flag] !== undefined) throw usage(`--${flag} goes with --containerd`, 'install-runtime');
    }
    if (values.podman === true) {
      if (values['daemon-json'] !== undefined)
        throw usage(
          '--daemon-json is for dockerd; --podman writes --containers-conf and --runtime-config',
          'install-runtime',
        );
      const { runInstallPodman, PODMAN_DROP_IN } = await import('../../commands/install-runtime.js');
      const { SYSTEM_CONFIG } = await import('../../adapters/config-file.js');
      await runInstallPodman(
        {
          apply: values.apply === true,
          name,
          containersConf: (values['containers-conf'] as string | undefined) ?? PODMAN_DROP_IN,
          runtimeConfig: (values['runtime-config'] as string | undefined) ?? SYSTEM_CONFIG,
        },
        ctx,
      );
      return;
    }
    for (const flag of ['containers-conf', 'runtime-config']) {
      if (values[flag] !== undefined) throw usage(`--${flag} goes with --podman`, 'install-runtime');
    }
    const { runInstallRuntime } = await import('../../commands/install-runtime.js');
    await runInstallRuntime(
      {
        apply: values.apply === true,
        name,
        daemonJson: (values['daemon-json'] as string | undefined) ?? '/etc/docker/daemon.json',
      },
      ctx,
    );
  },
};
