// extmount migrate: its options and help, and argv → the command's call (the command loads only when it runs).
import type { LiveRequestMode } from '../../core/live/live-request.js';
import { noPassthrough, usage, type CommandSpec } from '../options.js';

export const migrate: CommandSpec = {
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
    const { parseWindow } = await import('../../core/migrate/digests.js');
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
    const { parseMigrateMaps } = await import('../../core/migrate/migrate-plan.js');
    const maps = parseMigrateMaps(values.map as string[] | undefined);
    const { runMigrate } = await import('../../commands/migrate.js');
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
};
