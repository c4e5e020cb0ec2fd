// `extmount migrate CONTAINER --from HOST --to HOST`: moves a running container between engines through their APIs only.
import type { RemapRule } from '../core/config.js';
import { resolveDockerHost } from '../core/docker/docker-host.js';
import { formatReport } from '../core/migrate/migrate-report.js';
import { connectEngine } from '../adapters/docker/docker.js';
import { faultsFromEnv } from '../migrate/faults.js';
import { migrate } from '../migrate/migrate.js';
import { createProgress } from '../migrate/progress.js';
import type { CommandContext } from './context.js';
import type { LiveRequestMode } from '../core/live/live-request.js';

export interface MigrateOptions {
  ref: string;
  from: string;
  to: string;
  maps: RemapRule[];
  copyBinds: boolean;
  name: string | undefined;
  /** The verification window (default: migrate's). */
  verifyMs?: number | undefined;
  live: LiveRequestMode;
}

export async function runMigrate(options: MigrateOptions, ctx: CommandContext): Promise<void> {
  const source = connectEngine(resolveDockerHost(options.from, ctx.io.env));
  const target = connectEngine(resolveDockerHost(options.to, ctx.io.env));
  const faults = faultsFromEnv(ctx.io.env);
  // Progress is for a person watching: only on a terminal, and never on stdout.
  const progress = createProgress(process.stderr.isTTY ? { write: (text) => process.stderr.write(text) } : {});
  const report = await migrate(
    {
      ref: options.ref,
      maps: options.maps,
      copyBinds: options.copyBinds,
      live: options.live,
      ...(options.name !== undefined ? { name: options.name } : {}),
    },
    source,
    target,
    {
      config: ctx.config,
      log: ctx.log,
      faults,
      progress,
      ...(options.verifyMs !== undefined ? { verifyMs: options.verifyMs } : {}),
    },
  );
  ctx.io.out(ctx.json ? JSON.stringify(report, null, 2) : formatReport(report, options.live));
}
