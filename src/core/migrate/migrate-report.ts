// What a migration reports when it is done: where the container runs, how long it was down, what moved.
import type { LiveMode, LiveRequestMode } from '../live/live-request.js';
import type { RootfsPlan } from './migrate-plan.js';

export type TransferKind = 'image' | 'checkpoint' | 'rootfs' | 'volumes' | 'binds';

export interface MigratedMount {
  destination: string;
  kind: 'bind' | 'volume';
  /** Host path or volume name on the source. */
  source: string;
  /** Host path or volume name on the target. */
  target: string;
  /** Its content was copied (volumes always; binds with --copy-binds). */
  copied: boolean;
}

export interface MigrationReport {
  container: { name: string; sourceId: string; targetId: string };
  from: string;
  to: string;
  checkpoint: string;
  /** How this run ended up: a full migration, the rest of an interrupted one, or only its last step. */
  mode: 'migrated' | 'resumed' | 'finished';
  /** From the freeze on the source to the process running on the target; null when a previous run froze it. */
  downtimeMs: number | null;
  durationMs: number;
  /**
   * Where the downtime went (ms): checkpoint on the source; prepare (read the changes, create volumes
   * and the container); copy (layer, checkpoint, volumes, binds, in parallel); digest (the
   * checkpoint and layer read back on the target); start from the checkpoint. verify (the process
   * stays up) follows the downtime. null when nothing was moved.
   */
  timings: { checkpoint: number; prepare: number; copy: number; digest: number; start: number; verify: number } | null;
  /**
   * What was checked before the source was removed: checkpoint and layer files read back on the
   * target with the sha256 and size the source sent (null: not checked by this run; layerFiles
   * null also when the target is not overlay2), then windowMs of the restored process staying up.
   */
  verified: { checkpointFiles: number | null; layerFiles: number | null; windowMs: number };
  bytes: Record<TransferKind, number> & { total: number };
  rootfs: { copied: number; deleted: number; skipped: number };
  mounts: MigratedMount[];
  /** Named volumes whose content was copied and that stay on the source engine. */
  volumesLeftOnSource: string[];
  /**
   * How the memory moved (--live): postcopy (after the resume, pulled from the source's page server)
   * or off (stop-and-copy: in the checkpoint), why, and the pages the target got in the images before
   * it resumed and pulled after. null when this run moved nothing (it only finished an earlier one).
   */
  live: { mode: LiveMode; why: string; pagesBeforeResume: number; pagesAfterResume: number } | null;
}

export function emptyBytes(): MigrationReport['bytes'] {
  return { image: 0, checkpoint: 0, rootfs: 0, volumes: 0, binds: 0, total: 0 };
}

/** The report for a person; LIVE_REQUESTED is the --live the run was given: its memory line is shown unless that was off. */
export function formatReport(r: MigrationReport, liveRequested: LiveRequestMode): string {
  const moved = (['image', 'checkpoint', 'rootfs', 'volumes', 'binds'] as const)
    .filter((k) => r.bytes[k] > 0)
    .map((k) => `${k} ${formatBytes(r.bytes[k])}`)
    .join(', ');
  const lines = [
    `${r.container.name} now runs on ${r.to} (container ${r.container.targetId.slice(0, 12)}), restored from checkpoint ${r.checkpoint}`,
    r.mode === 'finished'
      ? '  a previous run had already started it there; this run verified it and removed the source container'
      : `  downtime: ${r.downtimeMs === null ? 'unknown (frozen by an earlier, interrupted run)' : formatDuration(r.downtimeMs)}${r.timings ? ` (checkpoint ${formatDuration(r.timings.checkpoint)}, prepare ${formatDuration(r.timings.prepare)}, copy ${formatDuration(r.timings.copy)}, digest ${formatDuration(r.timings.digest)}, start ${formatDuration(r.timings.start)})` : ''}, total ${formatDuration(r.durationMs)}`,
    ...(r.live?.mode === 'postcopy'
      ? [
          `  memory: post-copy, ${r.live.pagesAfterResume} page(s) (${formatBytes(r.live.pagesAfterResume * 4096)}) pulled after the resume, ${r.live.pagesBeforeResume} in the images before it`,
        ]
      : r.live && liveRequested !== 'off'
        ? [`  memory: ${r.live.why}`]
        : []),
    `  moved: ${formatBytes(r.bytes.total)}${moved ? ` (${moved})` : ''}`,
    `  writable layer: ${r.rootfs.copied} path(s) copied, ${r.rootfs.deleted} deletion(s) applied, ${r.rootfs.skipped} runtime/mount path(s) left to the engine`,
    ...r.mounts.map(
      (m) => `  ${m.kind} ${m.destination}: ${m.source} → ${m.target}${m.copied ? ' (content copied)' : ''}`,
    ),
    `  verified before the source was removed: ${formatVerified(r.verified)}`,
    `  the source container on ${r.from} (${r.container.sourceId.slice(0, 12)}) was removed`,
  ];
  if (r.volumesLeftOnSource.length > 0) lines.push(`  volumes left on ${r.from}: ${r.volumesLeftOnSource.join(', ')}`);
  return lines.join('\n');
}

function formatVerified(v: MigrationReport['verified']): string {
  const files = [
    v.checkpointFiles === null ? undefined : `${v.checkpointFiles} checkpoint file(s)`,
    v.layerFiles === null ? undefined : `${v.layerFiles} layer file(s)`,
  ].filter((x) => x !== undefined);
  const window = `${formatDuration(v.windowMs)} running on the target`;
  return files.length > 0 ? `${files.join(' and ')} as sent (sha256), then ${window}` : window;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatRate(bytes: number, ms: number): string {
  return ms <= 0 ? '-' : `${formatBytes(Math.round((bytes * 1000) / ms))}/s`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** What of the migration's plan the report shows (MigrationPlan has it). */
export interface ReportedPlan {
  targetName: string;
  container: { Id: string };
  source: { where: string };
  target: { where: string };
  binds: ReadonlyArray<{ destination: string; source: string; target: string }>;
  volumes: ReadonlyArray<{ destination: string; name: string }>;
  copyBinds: boolean;
}

/** How a run ended, for migrationReport. */
export interface RunOutcome {
  targetId: string;
  checkpoint: string;
  mode: MigrationReport['mode'];
  downtimeMs: number | null;
  durationMs: number;
  rootfs: RootfsPlan | undefined;
  timings: MigrationReport['timings'] | undefined;
  verified: MigrationReport['verified'];
  live?: MigrationReport['live'];
  bytes: MigrationReport['bytes'];
}

export function migrationReport(plan: ReportedPlan, r: RunOutcome): MigrationReport {
  return {
    container: { name: plan.targetName, sourceId: plan.container.Id, targetId: r.targetId },
    from: plan.source.where,
    to: plan.target.where,
    checkpoint: r.checkpoint,
    mode: r.mode,
    downtimeMs: r.downtimeMs,
    durationMs: r.durationMs,
    timings: r.timings ?? null,
    verified: r.verified,
    bytes: { ...r.bytes },
    rootfs: {
      copied: r.rootfs?.fetch.length ?? 0,
      deleted: r.rootfs?.deletions.length ?? 0,
      skipped: r.rootfs?.skipped ?? 0,
    },
    mounts: [
      ...plan.binds.map((b) => ({
        destination: b.destination,
        kind: 'bind' as const,
        source: b.source,
        target: b.target,
        copied: plan.copyBinds,
      })),
      ...plan.volumes.map((v) => ({
        destination: v.destination,
        kind: 'volume' as const,
        source: v.name,
        target: v.name,
        copied: true,
      })),
    ],
    volumesLeftOnSource: plan.volumes.map((v) => v.name),
    live: r.live ?? null,
  };
}
