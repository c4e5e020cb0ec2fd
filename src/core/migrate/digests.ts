// What a migration checks before it starts the copy: every checkpoint and layer file on the target is the file the source sent.

export interface FileDigest {
  sha256: string;
  size: number;
}

/** Digests by path: relative to the checkpoint folder for checkpoint files, absolute in the container for layer files. */
export type Digests = Map<string, FileDigest>;

export interface DigestMismatch {
  path: string;
  expected: FileDigest;
  /** undefined: not there on the target (or not a regular file). */
  actual: FileDigest | undefined;
}

export interface DigestCheck {
  /** Files compared (every file the source sent). */
  checked: number;
  mismatches: DigestMismatch[];
}

/** Every file the source sent must be on the target with the same content; the target may hold more (files the engine made). */
export function compareDigests(sent: Digests, found: Digests): DigestCheck {
  const mismatches: DigestMismatch[] = [];
  for (const [path, expected] of sent) {
    const actual = found.get(path);
    if (!actual || actual.sha256 !== expected.sha256 || actual.size !== expected.size)
      mismatches.push({ path, expected, actual });
  }
  return { checked: sent.size, mismatches };
}

/** One line for the first mismatch, and how many more there are. */
export function describeMismatches(what: string, check: DigestCheck): string {
  const first = check.mismatches[0];
  if (!first) return `${check.checked} ${what} file(s) verified`;
  const more = check.mismatches.length > 1 ? ` (and ${check.mismatches.length - 1} more)` : '';
  const found = first.actual ? `${first.actual.size} bytes, sha256 ${first.actual.sha256.slice(0, 16)}…` : 'missing';
  return `${what} file ${JSON.stringify(first.path)} on the target is not what the source sent (sent ${first.expected.size} bytes, sha256 ${first.expected.sha256.slice(0, 16)}…; found ${found})${more}`;
}

/** `--verify-window`: `2s`, `500ms`, `1.5s`, or a plain number of seconds; 0 to 10 minutes. */
export function parseWindow(text: string): number | undefined {
  const match = /^(\d{1,6}(?:\.\d{1,3})?)(ms|s)?$/.exec(text);
  if (!match) return undefined;
  const ms = match[2] === 'ms' ? Number(match[1]) : Number(match[1]) * 1000;
  if (!Number.isFinite(ms) || ms > 600_000) return undefined;
  return Math.round(ms);
}
