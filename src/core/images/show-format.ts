// Renders decoded CRIU images as text: a mount table marking external mounts, one-line summaries otherwise.

import type { CriuImage, InventoryEntry, MountEntry } from './criu-image.js';

const mountColumns = [
  'mnt_id',
  'parent',
  'root',
  'mountpoint',
  'fstype',
  'source',
  'ext key',
  'shared/master',
] as const;

/** The table `criu show -f mountpoints.img -F mnt_id,root,mountpoint` used to give, with more columns. */
export function formatMountTable(entries: readonly MountEntry[]): string[] {
  const rows = entries.map((entry) =>
    [
      String(entry.mountId),
      String(entry.parentId),
      entry.root,
      entry.mountpoint,
      fstypeLabel(entry),
      entry.source,
      entry.externalKey ?? '-',
      sharingLabel(entry),
    ].map(escapeCell),
  );
  const lines = alignColumns([[...mountColumns], ...rows]);
  const external = entries.filter((entry) => entry.externalKey !== null);
  if (external.length > 0) {
    const list = external.map(
      (entry) => `${escapeCell(entry.mountpoint)} (key ${escapeCell(entry.externalKey ?? '')})`,
    );
    lines.push(`external: ${list.join(', ')}`);
  }
  return lines;
}

/** One line: the facts of an inventory a person checks first (format, LSM, namespaces, locking). */
export function formatInventorySummary(entry: InventoryEntry): string {
  const parts = [`image version ${entry.imgVersion}`, `lsm ${entry.lsm ?? 'unknown'}`];
  if (entry.rootIds?.mntNsId != null) parts.push(`root mnt ns ${entry.rootIds.mntNsId}`);
  if (entry.rootIds?.pidNsId != null) parts.push(`root pid ns ${entry.rootIds.pidNsId}`);
  parts.push(`network lock ${entry.networkLockMethod ?? 'IPTABLES (default)'}`);
  if (entry.tcpClose) parts.push('tcp-close');
  if (entry.preDumpMode !== null) parts.push(`pre-dump ${entry.preDumpMode}`);
  if (entry.dumpUptime !== null) parts.push(`dump uptime ${entry.dumpUptime}`);
  parts.push(`plugins ${entry.plugins && entry.plugins.length > 0 ? entry.plugins.map(escapeCell).join(',') : 'none'}`);
  if (entry.dumpCriuRunId !== null) parts.push(`criu run ${escapeCell(entry.dumpCriuRunId)}`);
  return `inventory: ${parts.join(', ')}`;
}

/** A heading naming the file and its magic, then the body for its kind. */
export function formatImage(image: CriuImage, label: string = image.file): string[] {
  const heading = `${escapeCell(label)}: ${image.magic.name}, ${plural(image.entries.length, 'entry', 'entries')}`;
  switch (image.kind) {
    case 'mountpoints':
      return [heading, ...formatMountTable(image.entries)];
    case 'inventory':
      return [heading, ...image.entries.map(formatInventorySummary)];
    case 'other':
      if (image.unframedBytes > 0) {
        return [
          `${escapeCell(label)}: ${image.magic.name}, ${image.unframedBytes} bytes of entries with raw data (not decoded)`,
        ];
      }
      return [
        `${heading}${image.entries.length > 0 ? ` (sizes ${image.entries.map((entry) => entry.size).join(', ')})` : ''}`,
      ];
  }
}

function fstypeLabel(entry: MountEntry): string {
  return entry.fsname ?? entry.fstype.toLowerCase();
}

function sharingLabel(entry: MountEntry): string {
  const parts: string[] = [];
  if (entry.sharedId !== null) parts.push(`shared:${entry.sharedId}`);
  if (entry.masterId !== null) parts.push(`master:${entry.masterId}`);
  return parts.length > 0 ? parts.join(',') : '-';
}

/** Paths are data: escape whitespace, controls and backslashes as mountinfo does (\040) so a cell stays one cell. */
function escapeCell(text: string): string {
  return text.replace(/[\s\\\p{Cc}]/gu, (char) => {
    const code = char.codePointAt(0) ?? 0;
    return code < 0o400 ? `\\${code.toString(8).padStart(3, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

function alignColumns(rows: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}
