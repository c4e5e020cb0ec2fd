// What crun does differently from runc behind containerd's shim, made up for by the wrapper.
import { join } from 'node:path';
import type { CriuOption } from '../mounts/render.js';
import { parseRuncArgv, type RuncInvocation } from './runc-argv.js';

/** The real runtime is crun (by its file name, as configured). */
export function isCrun(runtime: string): boolean {
  return runtime.slice(runtime.lastIndexOf('/') + 1) === 'crun';
}

/**
 * crun (1.28) masks /sys/firmware and /proc/acpi with ROOT/.empty-directory, records it as the key
 * /run/crun/.empty-directory whatever --root is, and maps only its real path on restore: under dockerd
 * (--root …/runtime-runc/moby) CRIU then stops with "No mapping for …:(null) mountpoint". That one key
 * is mapped to that one folder of the root the restore runs with; nothing else of a runtime root is.
 */
export function crunEmptyDirectory(
  runtime: string,
  invocation: RuncInvocation,
  mounts: ReadonlyArray<{ externalKey: string | null }>,
): CriuOption[] {
  const key = '/run/crun/.empty-directory';
  const root = invocation.globalOptions.get('root');
  if (!isCrun(runtime) || !root?.startsWith('/') || join(root, '.empty-directory') === key) return [];
  return mounts.some((m) => m.externalKey === key)
    ? [['external', `mnt[${key}]:${join(root, '.empty-directory')}`]]
    : [];
}

/**
 * The argv for the real runtime. runc takes go-runc's argv as it is; crun's restore has no
 * `--no-subreaper`, which containerd's shim always passes (pkg/process/init.go: NoSubreaper: true), and
 * refuses the whole call (exit 64, EX_USAGE). crun never makes itself a subreaper on restore, so the
 * flag says nothing to it and is left out; everything else is passed as it was.
 */
export function argvForRuntime(argv: readonly string[], runtime: string): string[] {
  const invocation = parseRuncArgv(argv);
  if (!isCrun(runtime) || invocation.verb !== 'restore') return [...argv];
  const verbAt = invocation.globals.length;
  return argv.filter(
    (a, i) =>
      i <= verbAt || !['--no-subreaper', '-no-subreaper', '--no-subreaper=true', '-no-subreaper=true'].includes(a),
  );
}
