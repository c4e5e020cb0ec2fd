// Transfer progress: counts bytes per kind; on a terminal, one line on stderr redrawn with the total and the rate.
import {
  emptyBytes,
  formatBytes,
  formatRate,
  type MigrationReport,
  type TransferKind,
} from '../core/migrate/migrate-report.js';

export interface Progress {
  add(kind: TransferKind, bytes: number): void;
  /** What is being moved now (shown on the line). */
  phase(text: string): void;
  /** Ends the line (before anything else is printed). */
  done(): void;
  readonly bytes: MigrationReport['bytes'];
}

export function createProgress(
  options: { write?: (text: string) => void; now?: () => number; intervalMs?: number } = {},
): Progress {
  const bytes = emptyBytes();
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 100;
  const write = options.write;
  let phase = '';
  let phaseAt = now();
  let phaseBytes = 0;
  let lastDraw = 0;
  let drawn = false;
  const draw = (force = false) => {
    if (!write) return;
    const t = now();
    if (!force && t - lastDraw < interval) return;
    lastDraw = t;
    drawn = true;
    const moved = bytes.total - phaseBytes;
    write(
      `\r\x1b[Kextmount: ${phase || 'moving'}: ${formatBytes(moved)}${moved > 0 ? ` at ${formatRate(moved, t - phaseAt)}` : ''} (${formatBytes(bytes.total)} in all)`,
    );
  };
  return {
    bytes,
    add(kind, n) {
      bytes[kind] += n;
      bytes.total += n;
      draw();
    },
    phase(text) {
      phase = text;
      phaseAt = now();
      phaseBytes = bytes.total;
      draw(true);
    },
    done() {
      if (write && drawn) write('\r\x1b[K');
      drawn = false;
    },
  };
}
