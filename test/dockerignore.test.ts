// The Docker build context leaves out exactly the dev dependencies: .dockerignore against package-lock.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The `node_modules/…` paths .dockerignore excludes (the Dockerfile copies node_modules whole otherwise). */
function excludedModules(): string[] {
  return readFileSync(`${REPO}.dockerignore`, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('node_modules/'));
}

/** The lockfile's installed packages (`node_modules/a`, `node_modules/a/node_modules/b` …) and whether only dev dependencies need them. */
function lockedPackages(): Array<{ path: string; dev: boolean }> {
  const lock = JSON.parse(readFileSync(`${REPO}package-lock.json`, 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path]) => path.startsWith('node_modules/'))
    .map(([path, entry]) => ({ path, dev: entry.dev === true }));
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

describe('.dockerignore', () => {
  it('leaves out every dev-only package of package-lock.json and nothing the CLI needs', () => {
    const excluded = excludedModules();
    const packages = lockedPackages();
    assert.ok(
      packages.some((p) => !p.dev) && packages.some((p) => p.dev),
      'the lockfile lists runtime and dev packages',
    );
    const left = packages.filter((p) => p.dev && !excluded.some((dir) => under(p.path, dir))).map((p) => p.path);
    assert.deepEqual(left, [], 'dev-only packages the image would carry: add them to .dockerignore');
    const dropped = packages.filter((p) => !p.dev && excluded.some((dir) => under(p.path, dir))).map((p) => p.path);
    assert.deepEqual(dropped, [], 'runtime packages .dockerignore leaves out of the image');
    const stale = excluded.filter((dir) => dir !== 'node_modules/.bin' && !packages.some((p) => under(p.path, dir)));
    assert.deepEqual(stale, [], '.dockerignore names packages the lockfile no longer has');
  });
});
