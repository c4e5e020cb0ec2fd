#!/usr/bin/env node
// The extmount command line: parses flags, wires a command to its context, maps errors to exit codes.
import { fileURLToPath } from 'node:url';
import { ExtmountError, formatError } from '../core/errors.js';
import { loadConfig } from '../adapters/config-file.js';
import { checkStateDir } from '../adapters/fs/state-dir.js';
import { createLogger } from '../adapters/log.js';
import { extmountVersion } from '../adapters/package-info.js';
import type { CommandContext } from '../commands/context.js';
import type { DockerCliEngine } from '../core/docker/docker-cli-context.js';
import type { LiveRequestMode } from '../core/live/live-request.js';
import { describeEndpoint } from '../core/docker/docker-host.js';
import { processIO, type CommandIO } from '../commands/io.js';
import {
  commandHelp,
  EXIT_CODES,
  formatOptions,
  GLOBAL_OPTIONS,
  noPassthrough,
  parse,
  parseKeyFlags,
  parseMapFlags,
  positiveInt,
  usage,
  type CommandSpec,
} from './options.js';

/** Every command, its option table and what runs it (exported for the in-process tests). */
export const COMMANDS: Record<string, CommandSpec> = {
  detect: {
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
      const { runDetect } = await import('../commands/detect.js');
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
  },
  checkpoint: {
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
        const { runCheckpoint } = await import('../commands/checkpoint.js');
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
      const { runContainerCheckpoint } = await import('../commands/container-checkpoint.js');
      await runContainerCheckpoint(
        { ref: positionals[0]!, name: values.name as string | undefined, leaveRunning },
        ctx,
      );
    },
  },
  restore: {
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
        const { parseMigrateMaps } = await import('../core/migrate/migrate-plan.js');
        const { runRestoreImport } = await import('../commands/restore-import.js');
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
        const { runRestore } = await import('../commands/restore.js');
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
      const { runContainerRestore } = await import('../commands/container-checkpoint.js');
      await runContainerRestore({ ref: positionals[0]!, name: values.name as string | undefined, maps }, ctx);
    },
  },
  migrate: {
    summary: "move a running container to another Docker engine, binds remapped, through the engines' APIs only",
    synopsis: [
      'migrate CONTAINER --from DOCKER_HOST --to DOCKER_HOST [--map SRC=DST]... [--copy-binds] [--name NEW] [--verify-window DURATION] [--live[=postcopy|precopy|off]]',
    ],
    description: `Checks everything first (both engines experimental, image, every bind on the target, volumes);
then checkpoints the container on the source (it stays there, stopped), recreates it on the target
with the same settings, its writable layer (deletions included), volumes and checkpoint, reads the
checkpoint and layer back there (sha256 of each file, as the source sent it), starts it from the
checkpoint and checks it keeps running for the verification window; only then removes the source container. Any failure after
the checkpoint removes what was made on the target and restores the container on the source.
A re-run after an interruption finishes the move or says why it cannot.
--live=postcopy freezes the container only while its images without the memory pages move: the
target resumes it at once and pulls each page from the source's CRIU page server as the process
touches it (CRIU lazy pages, through the extmount runtime on both engines, their data on this host);
the source goes only once every page is on the target. Bare --live picks post-copy where it can run
and says why not otherwise; pre-copy needs dirty-page tracking, which is not built yet.`,
    operands: { CONTAINER: 'the running container on the source engine (name or id)' },
    options: {
      from: {
        type: 'string',
        arg: 'HOST',
        help: 'the engine the container runs on (unix:///…, tcp://HOST:PORT, ssh://USER@HOST)',
      },
      to: { type: 'string', arg: 'HOST', help: 'the engine to move it to' },
      map: {
        type: 'string',
        multiple: true,
        arg: 'SRC=DST',
        help: 'binds from SRC (and below) come from DST on the target, e.g. --map /srv/a=/srv/b',
      },
      'copy-binds': {
        type: 'boolean',
        help: "copy the binds' content to the target (folders are created there when missing)",
      },
      name: { type: 'string', arg: 'NEW', help: 'name on the target (default: the same name)' },
      'verify-window': {
        type: 'string',
        arg: 'DURATION',
        help: 'how long the restored container must keep running on the target before the source goes, e.g. 5s, 500ms (default 2s, at most 600s)',
      },
      live: {
        type: 'string',
        arg: 'MODE',
        bare: 'auto',
        help: 'postcopy: move the memory after the resume; off: stop-and-copy (default); bare: post-copy where it can run',
      },
    },
    async run(values, positionals, passthrough, ctx) {
      noPassthrough(passthrough);
      if (positionals.length !== 1) throw usage('migrate needs exactly one CONTAINER', 'migrate');
      const { parseWindow } = await import('../core/migrate/digests.js');
      const window = values['verify-window'] as string | undefined;
      const verifyMs = window === undefined ? undefined : parseWindow(window);
      if (window !== undefined && verifyMs === undefined)
        throw usage(`--verify-window "${window}": expected a duration such as 5s or 500ms, at most 600s`, 'migrate');
      if (values.from === undefined || values.to === undefined)
        throw usage('migrate needs --from DOCKER_HOST and --to DOCKER_HOST', 'migrate');
      const live = (values.live as string | undefined) ?? 'off';
      if (!['auto', 'postcopy', 'precopy', 'off'].includes(live))
        throw usage(`--live=${live}: expected postcopy, precopy or off (or --live alone)`, 'migrate');
      if (ctx.host !== undefined) throw usage('migrate takes --from and --to, not --host', 'migrate');
      if (ctx.dockerCli?.explicit) throw usage(`migrate takes --from and --to, not ${ctx.dockerCli.via}`, 'migrate');
      const { parseMigrateMaps } = await import('../core/migrate/migrate-plan.js');
      const maps = parseMigrateMaps(values.map as string[] | undefined);
      const { runMigrate } = await import('../commands/migrate.js');
      await runMigrate(
        {
          ref: positionals[0]!,
          from: values.from as string,
          to: values.to as string,
          maps,
          copyBinds: values['copy-binds'] === true,
          name: values.name as string | undefined,
          verifyMs,
          live: live as LiveRequestMode,
        },
        ctx,
      );
    },
  },
  'install-runtime': {
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
          await import('../commands/install-runtime.js');
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
        const { runInstallPodman, PODMAN_DROP_IN } = await import('../commands/install-runtime.js');
        const { SYSTEM_CONFIG } = await import('../adapters/config-file.js');
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
      const { runInstallRuntime } = await import('../commands/install-runtime.js');
      await runInstallRuntime(
        {
          apply: values.apply === true,
          name,
          daemonJson: (values['daemon-json'] as string | undefined) ?? '/etc/docker/daemon.json',
        },
        ctx,
      );
    },
  },
  'install-plugin': {
    summary: 'print (or create) the docker CLI plugin link, so "docker extmount …" works',
    synopsis: ['install-plugin [--apply]'],
    description: `Prints the symlink that makes hooks/docker-extmount a docker CLI plugin: $DOCKER_CONFIG/cli-plugins/
docker-extmount (default ~/.docker/cli-plugins/docker-extmount). With --apply, creates it (or replaces a
link to another extmount's entry); anything else already there is left alone (exit 2).
As a plugin, extmount uses the engine the docker CLI means: docker -H HOST, --context NAME, DOCKER_HOST,
DOCKER_CONTEXT, then config.json's currentContext, in that order (extmount's own --host goes after
"extmount" and overrides DOCKER_HOST, DOCKER_CONTEXT and currentContext).`,
    options: {
      apply: { type: 'boolean', help: 'create the link (nothing changes when it is already there)' },
    },
    async run(values, positionals, passthrough, ctx) {
      noPassthrough(passthrough);
      if (positionals.length > 0) throw usage(`unexpected argument ${positionals[0]}`, 'install-plugin');
      const { runInstallPlugin } = await import('../commands/install-plugin.js');
      await runInstallPlugin({ apply: values.apply === true }, ctx);
    },
  },
  'checkpoint-image': {
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
      const { runCheckpointImage } = await import('../commands/checkpoint-image.js');
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
  },
  'restore-pod': {
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
      const { parseMigrateMaps } = await import('../core/migrate/migrate-plan.js');
      const { runRestorePod } = await import('../commands/restore-pod.js');
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
  },
  show: {
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
      const { runShow } = await import('../commands/show.js');
      await runShow({ path: positionals[0]!, json: ctx.json }, ctx.io);
    },
  },
};

/** hooks/docker-extmount passes this first, then the argv the docker CLI gave the plugin. */
export const DOCKER_CLI_PLUGIN_FLAG = '--docker-cli-plugin';

export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const plugin = argv[0] === DOCKER_CLI_PLUGIN_FLAG;
  let debug = argv.includes('--debug') || (plugin && argv.includes('-D'));
  try {
    let dockerCli: DockerCliEngine | undefined;
    if (plugin) {
      // `docker [GLOBAL FLAGS] extmount ARGS…`: the engine is the one the docker CLI means.
      const { resolvePluginInvocation } = await import('../adapters/docker/docker-cli-config.js');
      const invocation = await resolvePluginInvocation(argv.slice(1), io.env);
      argv = invocation.rest;
      debug = invocation.flags.debug || argv.includes('--debug');
      dockerCli = invocation.engine;
    }
    let { name, rest } = splitCommand(argv);
    // `extmount help [COMMAND]` is `extmount [COMMAND] --help`.
    if (name === 'help') {
      const topic = splitCommand(rest);
      if (topic.name !== undefined && !COMMANDS[topic.name]) throw usage(`unknown command "${topic.name}"`);
      ({ name, rest } = { name: topic.name, rest: [...topic.rest, '--help'] });
    }
    const spec = name ? COMMANDS[name] : undefined;
    if (name && !spec) throw usage(`unknown command "${name}"`);
    const { values, positionals, passthrough } = parse(rest, { ...GLOBAL_OPTIONS, ...(spec?.options ?? {}) }, name);
    if (values.version) {
      io.out(extmountVersion());
      return 0;
    }
    if (values.help) {
      io.out(spec ? commandHelp(spec) : topHelp());
      return 0;
    }
    if (!spec) {
      // Bare `extmount` is a usage error: the help goes to stderr, as a shell user expects.
      io.err(topHelp());
      return 2;
    }
    if (dockerCli?.explicit && values.host !== undefined) {
      throw usage(`conflicting options: ${dockerCli.via} before "extmount" and --host after it`, name);
    }
    const logFormat = (values['log-format'] as string | undefined) ?? 'text';
    if (logFormat !== 'text' && logFormat !== 'json')
      throw usage(`--log-format must be text or json, got "${logFormat}"`);
    const config = await loadConfig(values.config as string | undefined);
    await checkStateDir(config.stateDir);
    const ctx: CommandContext = {
      config,
      io,
      log: await createLogger(debug ? 'debug' : config.logLevel, logFormat, (line) => io.err(line)),
      json: values.json === true,
      host: values.host as string | undefined,
      dockerCli,
    };
    if (dockerCli)
      ctx.log.debug(`docker CLI plugin: engine ${describeEndpoint(dockerCli.endpoint)} (chosen by ${dockerCli.via})`);
    await spec.run(values, positionals, passthrough, ctx);
    return 0;
  } catch (err) {
    for (const line of formatError(err, debug)) io.err(line);
    return err instanceof ExtmountError ? err.exitCode : 1;
  }
}

/** The command is the first argument that is neither an option nor the value of a global option. */
function splitCommand(argv: string[]): { name: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg === '--config' || arg === '--host' || arg === '--log-format') {
      i++;
      continue;
    }
    if (!arg.startsWith('-')) return { name: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { name: undefined, rest: argv };
}

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const list = Object.entries(COMMANDS)
    .map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `extmount ${extmountVersion()}: CRIU checkpoint/restore that keeps external bind mounts

Usage: extmount [options] COMMAND [args]

Commands:
${list}

Global options:
${formatOptions(GLOBAL_OPTIONS)}
${EXIT_CODES}
Run "extmount help COMMAND" (or "extmount COMMAND --help") for a command's own options.
As a docker CLI plugin (extmount install-plugin): docker [-H HOST | --context NAME] extmount COMMAND …
uses the engine the docker CLI would: --host, --context, DOCKER_HOST, DOCKER_CONTEXT, currentContext.`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1])) {
  // `extmount detect --json | head -1`: a closed pipe ends the output, not with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  // A command whose promise never settles would otherwise end with exit 0 once nothing is left to run.
  let done = false;
  process.once('beforeExit', () => {
    if (done) return;
    process.exitCode = 1;
    process.stderr.write(
      'extmount: internal error: the command stopped before it finished; please report it with --debug output\n',
    );
  });
  process.exitCode = await main(process.argv.slice(2));
  done = true;
  // Settled is done: a request still open to an engine must not keep the process (a post-copy
  // migration that holds its source frozen leaves dockerd's checkpoint call pending for a re-run to
  // end; dockerd carries on with it when its client goes, as a killed migrate showed). stdout and
  // stderr are synchronous on Linux for files, pipes and terminals: nothing written is lost.
  process.exit();
}
