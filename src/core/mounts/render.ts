// The one place that turns a plan into CRIU options: argv, or lines of a CRIU config file.
import { ExtmountError } from '../errors.js';

export interface CriuVersion {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

/** Parses `criu --version` output ("Version: 4.1.1\nGitID: …"). */
export function parseCriuVersion(output: string): CriuVersion {
  const match = /Version:\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  if (!match)
    throw new ExtmountError('bad-input', `cannot read the CRIU version from "${output.trim().slice(0, 60)}"`, {
      hint: 'check that `criu --version` works',
    });
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

export function atLeast(version: CriuVersion, major: number, minor: number): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

/** `--external mnt[…]` replaced `--ext-mount-map` in CRIU 2.8 (the old flag still works). */
export function usesExternalSyntax(version: CriuVersion): boolean {
  return atLeast(version, 2, 8);
}

/** One CRIU option: flag without dashes, and its value if it takes one. */
export type CriuOption = readonly [flag: string, value?: string];

export interface CriuOptions {
  dump: CriuOption[];
  restore: CriuOption[];
}

/** What rendering needs of a plan (a MountPlan, or a manifest read back on restore). */
export interface CriuPlanInput {
  rootHostPath: string | null;
  mounts: ReadonlyArray<{ mountpoint: string; key: string; hostPath: string | null }>;
  enableExternalMasters: boolean;
  enableExternalSharing: boolean;
}

export interface RenderOptions {
  /** Key → host path to restore from; default: each mount's recorded host path. */
  targets?: ReadonlyMap<string, string>;
  /** Add --root for the recorded root (plain CRIU trees; runtimes pass their own). */
  includeRoot?: boolean;
}

export function planCriuOptions(plan: CriuPlanInput, version: CriuVersion, options: RenderOptions = {}): CriuOptions {
  const modern = usesExternalSyntax(version);
  const dump: CriuOption[] = [];
  const restore: CriuOption[] = [];
  for (const mount of plan.mounts) {
    // CRIU splits "mnt[PATH]:KEY" at the first "]": a path holding one would be read as another mount.
    if (mount.mountpoint.includes(']')) {
      throw new ExtmountError(
        'refused',
        `the external mount ${JSON.stringify(mount.mountpoint)} has "]" in its path, which CRIU's --external syntax cannot carry`,
        {
          hint: 'unmount it, or mount it at a path without "]" before checkpointing',
        },
      );
    }
    dump.push(
      modern
        ? ['external', `mnt[${mount.mountpoint}]:${mount.key}`]
        : ['ext-mount-map', `${mount.mountpoint}:${mount.key}`],
    );
    const target = options.targets?.get(mount.key) ?? mount.hostPath;
    if (target !== null)
      restore.push(modern ? ['external', `mnt[${mount.key}]:${target}`] : ['ext-mount-map', `${mount.key}:${target}`]);
  }
  for (const side of [dump, restore]) {
    if (plan.enableExternalMasters) side.push(['enable-external-masters']);
    if (plan.enableExternalSharing) side.push(['enable-external-sharing']);
  }
  if (options.includeRoot && plan.rootHostPath) restore.push(['root', plan.rootHostPath]);
  return { dump, restore };
}

export function toArgv(options: readonly CriuOption[]): string[] {
  return options.flatMap(([flag, value]) => (value === undefined ? [`--${flag}`] : [`--${flag}`, value]));
}

/**
 * CRIU config file syntax (criu(8) "CONFIGURATION FILES"): one option per line, no dashes. CRIU splits
 * lines at whitespace and reads "#" as a comment (criu/config.c parse_statement), so a value holding
 * either, a quote or a backslash could smuggle in another option (e.g. action-script): mountpoints
 * come from inside the container and are refused, not escaped.
 */
export function toConfigFile(options: readonly CriuOption[]): string {
  for (const [flag, value] of options) {
    if (value !== undefined && /[\s#"'\\]/.test(value)) {
      throw new ExtmountError(
        'refused',
        `cannot write "${flag} ${JSON.stringify(value).slice(1, -1)}" to a CRIU config file: it holds whitespace, "#", a quote or a backslash`,
        {
          hint: 'a mount at such a path cannot be checkpointed through the runtime; unmount it or use a plain path',
        },
      );
    }
  }
  return options.map(([flag, value]) => (value === undefined ? flag : `${flag} ${value}`)).join('\n') + '\n';
}
