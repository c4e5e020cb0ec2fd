// The result of `extmount detect`: the JSON object of the CLI contract, and its human table.
import type { Classification } from './classify.js';
import type { MountPlan } from './plan.js';
import { toArgv, type CriuOptions, type CriuVersion } from './render.js';

export interface DetectReport {
  external: Array<{
    mountpoint: string;
    key: string;
    hostPath: string | null;
    kind: string;
    readOnly: boolean;
    propagation: string;
    reason: string;
    volumeName?: string;
    fileType?: string;
  }>;
  mounts: Array<{
    mountId: number;
    parentId: number;
    mountpoint: string;
    root: string;
    fstype: string;
    source: string;
    class: string;
    reason: string;
  }>;
  criu: { version: string | null; dump: string[]; restore: string[] };
}

export function buildDetectReport(
  classification: Classification,
  plan: MountPlan,
  criu: { version: CriuVersion | null; options: CriuOptions },
): DetectReport {
  return {
    external: plan.mounts.map((m) => ({
      mountpoint: m.mountpoint,
      key: m.key,
      hostPath: m.hostPath,
      kind: m.kind,
      readOnly: m.readOnly,
      propagation: m.propagation,
      reason: m.reason,
      ...(m.volumeName !== undefined ? { volumeName: m.volumeName } : {}),
      ...(m.fileType !== undefined ? { fileType: m.fileType } : {}),
    })),
    mounts: classification.mounts.map((c) => ({
      mountId: c.mount.mountId,
      parentId: c.mount.parentId,
      mountpoint: c.mountpoint,
      root: c.mount.root,
      fstype: c.mount.fstype,
      source: c.mount.source,
      class: c.class,
      reason: c.reason,
    })),
    criu: {
      version: criu.version?.text ?? null,
      dump: toArgv(criu.options.dump),
      restore: toArgv(criu.options.restore),
    },
  };
}

export function formatDetectReport(report: DetectReport): string {
  const lines: string[] = [];
  lines.push(
    ...table(
      ['ID', 'PARENT', 'MOUNTPOINT', 'FSTYPE', 'CLASS', 'REASON'],
      report.mounts.map((m) => [String(m.mountId), String(m.parentId), m.mountpoint, m.fstype, m.class, m.reason]),
    ),
  );
  lines.push('');
  if (report.external.length === 0) {
    lines.push('No external mounts: CRIU can dump this tree without mappings.');
  } else {
    lines.push(`External mounts (${report.external.length}):`);
    lines.push(
      ...table(
        ['MOUNTPOINT', 'KEY', 'KIND', 'HOST PATH', 'MODE', 'PROPAGATION'],
        report.external.map((e) => [
          e.mountpoint,
          e.key,
          e.kind,
          e.hostPath ?? '(not found)',
          e.readOnly ? 'ro' : 'rw',
          e.propagation,
        ]),
      ).map((l) => `  ${l}`),
    );
  }
  lines.push('');
  lines.push(`CRIU ${report.criu.version ?? '(not found; options for CRIU >= 2.8)'}:`);
  lines.push(`  dump:    ${report.criu.dump.map(shellQuote).join(' ') || '(no options needed)'}`);
  lines.push(`  restore: ${report.criu.restore.map(shellQuote).join(' ') || '(no options needed)'}`);
  return lines.join('\n');
}

/** Columns padded to their widest cell; the last column is left as it is. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(header), ...rows.map(render)];
}

/** For display only (copy-paste into a shell); extmount itself never runs a shell. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
