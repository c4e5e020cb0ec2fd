// `extmount detect`: finds a task's external mounts and the CRIU options they need.
import { classifyMounts, type Classification } from '../core/mounts/classify.js';
import type { ContainerInfo } from '../core/mounts/container.js';
import { buildDetectReport, formatDetectReport, type DetectReport } from '../core/mounts/detect-report.js';
import { ExtmountError } from '../core/errors.js';
import { parseMountinfo, type MountInfo } from '../core/mounts/mountinfo.js';
import { planExternalMounts, type MountPlan } from '../core/mounts/plan.js';
import { planCriuOptions, type CriuOptions, type CriuVersion } from '../core/mounts/render.js';
import { criuVersion } from '../adapters/criu/criu-version.js';
import { hostMountTable, processMountTable } from '../adapters/procfs/mount-table.js';
import { fileTypesOf, readMountinfoFile } from '../adapters/procfs/procfs.js';
import type { CommandContext } from './context.js';

export type DetectSource =
  | { kind: 'pid'; pid: number }
  | { kind: 'container'; ref: string }
  | { kind: 'file'; path: string; rootMountId?: number };

export interface DetectOptions {
  source: DetectSource;
  /** Mountpoint → key overrides (--key MOUNTPOINT=KEY). */
  keys: ReadonlyMap<string, string>;
}

export async function runDetect(options: DetectOptions, ctx: CommandContext): Promise<void> {
  const report = await detect(options, ctx);
  ctx.io.out(ctx.json ? JSON.stringify(report, null, 2) : formatDetectReport(report));
}

export async function detect(options: DetectOptions, ctx: CommandContext): Promise<DetectReport> {
  const analysis = await analyzeTask(options, ctx);
  return buildDetectReport(analysis.classification, analysis.plan, {
    version: analysis.version,
    options: analysis.criuOptions,
  });
}

export interface TaskAnalysis {
  classification: Classification;
  plan: MountPlan;
  /** null when CRIU is not installed here (options are then rendered for CRIU >= 2.8). */
  version: CriuVersion | null;
  criuOptions: CriuOptions;
  container: ContainerInfo | undefined;
}

/** The whole pipeline for one task: mountinfo → classification → plan → CRIU options. */
export async function analyzeTask(options: DetectOptions, ctx: CommandContext): Promise<TaskAnalysis> {
  const { source } = options;
  let mounts: MountInfo[];
  let hostMounts: MountInfo[] | undefined;
  let container: ContainerInfo | undefined;
  switch (source.kind) {
    case 'pid':
      mounts = await processMountTable(source.pid);
      hostMounts = await hostMountTable();
      break;
    case 'container':
      // The Docker client (dockerode, ssh2, grpc) is loaded only when a container is asked for.
      container = await (await import('./docker-target.js')).localContainer(ctx, source.ref);
      mounts = await processMountTable(container.pid);
      hostMounts = await hostMountTable();
      break;
    case 'file':
      mounts = parseMountinfo(await readMountinfoFile(source.path), source.path);
      // A saved host-view mountinfo (--root-mount) holds the host's mounts as well as the tree's.
      if (source.rootMountId !== undefined) hostMounts = mounts;
      break;
  }
  const classification = classifyMounts(mounts, {
    ...(source.kind === 'file' && source.rootMountId !== undefined ? { rootMountId: source.rootMountId } : {}),
    ...(hostMounts ? { hostMounts } : {}),
    ...(container ? { container } : {}),
  });
  const hostPaths = classification.mounts.flatMap((c) => (c.external?.hostPath ? [c.external.hostPath] : []));
  const plan = planExternalMounts(classification, {
    keys: options.keys,
    rootHostPath: source.kind === 'pid' ? classification.rootHostPath : null,
    // Offline, the paths belong to another machine: do not look at this one's files.
    ...(source.kind !== 'file' ? { fileTypes: await fileTypesOf(hostPaths) } : {}),
  });
  const version = await findCriuVersion(ctx);
  const criuOptions = planCriuOptions(plan, version ?? { major: 4, minor: 0, patch: 0, text: 'unknown' }, {
    includeRoot: source.kind === 'pid',
  });
  return { classification, plan, version, criuOptions, container };
}

async function findCriuVersion(ctx: CommandContext): Promise<CriuVersion | null> {
  try {
    return await criuVersion(ctx.config.criu, { stateDir: ctx.config.stateDir });
  } catch (err) {
    if (!(err instanceof ExtmountError)) throw err;
    ctx.log.warn(`${err.message}: showing options for CRIU >= 2.8`);
    return null;
  }
}
