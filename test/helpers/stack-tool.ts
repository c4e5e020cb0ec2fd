// A tool of a newer Debian than the host's: from PATH when it is the version asked for (inside a stack),
// else run from the sid stack root (scripts/stacks/build.sh) through that root's own loader and
// libraries. No chroot and no root needed: for tools that only read files and serve loopback.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

export const SID_ROOT = '/var/cache/extmount/stacks/sid';

/** argv prefix that runs `tool`, or undefined; `accept` judges PATH's tool by its `versionArgs` output. */
export async function stackTool(
  tool: string,
  versionArgs: string[],
  accept: (out: string) => boolean = () => true,
): Promise<string[] | undefined> {
  const onPath = await execa(tool, versionArgs, { reject: false });
  if (onPath.exitCode === 0 && accept(String(onPath.stdout))) return [tool];
  const loader = join(SID_ROOT, 'lib64/ld-linux-x86-64.so.2');
  const binary = join(SID_ROOT, 'usr/bin', tool);
  if (!existsSync(loader) || !existsSync(binary)) return undefined;
  return [loader, '--library-path', `${SID_ROOT}/lib/x86_64-linux-gnu:${SID_ROOT}/usr/lib/x86_64-linux-gnu`, binary];
}
