// The gate of every integration test: what it needs (root, dockerd, CRIU), checked once per process.
// Absent → the test is skipped with a loud reason; with EXTMOUNT_E2E=required (CI) it fails instead.
import { execa } from 'execa';
import type { TestContext } from 'node:test';

export type Need = 'root' | 'criu' | 'dockerd';

const checks: Record<Need, () => Promise<string | undefined>> = {
  root: async () => (process.getuid?.() === 0 ? undefined : 'not running as root'),
  criu: async () => {
    const r = await execa('criu', ['check'], { reject: false });
    return r.exitCode === 0 ? undefined : `criu check failed or criu missing (${String(r.stderr || r.shortMessage).trim().split('\n').pop()}); run scripts/provision.sh`;
  },
  dockerd: async () => {
    const r = await execa('dockerd', ['--version'], { reject: false });
    return r.exitCode === 0 ? undefined : 'dockerd is not installed; run scripts/provision.sh';
  },
};

const cache = new Map<Need, Promise<string | undefined>>();

/** Why the needs are not met, or undefined when they are. */
export async function missing(needs: readonly Need[]): Promise<string | undefined> {
  for (const need of needs) {
    if (!cache.has(need)) cache.set(need, checks[need]());
    const reason = await cache.get(need)!;
    if (reason) return reason;
  }
  return undefined;
}

export const e2eRequired = process.env.EXTMOUNT_E2E === 'required';

/**
 * Call first in an integration test (or its `before`): returns false after skipping the test
 * loudly when something is absent; throws when EXTMOUNT_E2E=required.
 */
export async function requireE2E(t: TestContext, needs: readonly Need[]): Promise<boolean> {
  const reason = await missing(needs);
  if (!reason) return true;
  if (e2eRequired) throw new Error(`EXTMOUNT_E2E=required but ${reason}`);
  process.stderr.write(`\n*** SKIPPED integration test "${t.name}": ${reason} ***\n\n`);
  t.skip(reason);
  return false;
}
