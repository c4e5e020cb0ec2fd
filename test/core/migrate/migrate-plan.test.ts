import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../../../src/core/config.js';
import { ExtmountError } from '../../../src/core/errors.js';
import {
  comparePaths,
  parseMigrateMaps,
  planBindTargets,
  planRootfsChanges,
  unusedMaps,
  type SourceBind,
} from '../../../src/core/migrate/migrate-plan.js';

const bind = (source: string, destination = '/data'): SourceBind => ({
  source,
  destination,
  readOnly: false,
  propagation: 'rprivate',
});

describe('parseMigrateMaps', () => {
  it('reads SRC=DST rules, normalised', () => {
    assert.deepEqual(parseMigrateMaps(['/srv/a=/srv/b', '/x//y/=/z']), [
      { from: '/srv/a', to: '/srv/b' },
      { from: '/x/y', to: '/z' },
    ]);
    assert.deepEqual(parseMigrateMaps(undefined), []);
  });

  it('refuses a map without "=", relative paths, ".." and the same SRC twice (usage, exit 2)', () => {
    for (const flag of ['/srv/a', '=/srv/b', '/srv/a=', 'srv/a=/srv/b', '/srv/a=srv/b', '/srv/a=/srv/../etc']) {
      assert.throws(
        () => parseMigrateMaps([flag]),
        (err: unknown) => err instanceof ExtmountError && err.exitCode === 2 && /expected SRC=DST/.test(err.message),
        flag,
      );
    }
    assert.throws(() => parseMigrateMaps(['/a=/b', '/a/=/c']), /given twice/);
  });
});

describe('planBindTargets', () => {
  const config = { remap: [{ from: '/srv', to: '/data/srv' }], hostPaths: DEFAULT_CONFIG.hostPaths };

  it('maps a path and everything below it, not siblings sharing the prefix', () => {
    const maps = parseMigrateMaps(['/srv/a=/srv/b']);
    const [exact, below, sibling] = planBindTargets(
      [bind('/srv/a'), bind('/srv/a/x/y', '/y'), bind('/srv/ab', '/ab')],
      maps,
      config,
      ['/var/lib/docker'],
    );
    assert.equal(exact!.target, '/srv/b');
    assert.equal(exact!.from, 'map');
    assert.equal(below!.target, '/srv/b/x/y');
    // /srv/ab is not below /srv/a: the config's rule applies to it instead.
    assert.equal(sibling!.target, '/data/srv/ab');
    assert.equal(sibling!.from, 'remap');
  });

  it('--map wins over the config; the longest --map prefix wins; no rule keeps the path', () => {
    const maps = parseMigrateMaps(['/srv=/m1', '/srv/a=/m2']);
    const [a, other] = planBindTargets([bind('/srv/a/k'), bind('/opt/x', '/x')], maps, config, ['/var/lib/docker']);
    assert.equal(a!.target, '/m2/k');
    assert.equal(other!.target, '/opt/x');
    assert.equal(other!.from, 'original');
  });

  it('the target decides: refuses paths outside its allowlist, denied ones, and its own data root', () => {
    const strict = { remap: [], hostPaths: { allow: ['/srv/b'], deny: DEFAULT_CONFIG.hostPaths.deny } };
    assert.throws(
      () => planBindTargets([bind('/srv/a')], [], strict, ['/var/lib/docker']),
      (err: unknown) =>
        err instanceof ExtmountError &&
        err.code === 'refused' &&
        /outside the allowed host paths/.test(err.message) &&
        /--map \/srv\/a=/.test(err.hint ?? ''),
    );
    assert.equal(
      planBindTargets([bind('/srv/a')], parseMigrateMaps(['/srv/a=/srv/b/c']), strict, ['/var/lib/docker'])[0]!.target,
      '/srv/b/c',
    );
    assert.throws(
      () => planBindTargets([bind('/srv/a')], parseMigrateMaps(['/srv/a=/etc/cron.d']), config, ['/var/lib/docker']),
      /under the denied host path \/etc/,
    );
    assert.throws(
      () =>
        planBindTargets(
          [bind('/srv/a')],
          parseMigrateMaps(['/srv/a=/mnt/docker/volumes/x']),
          { remap: [], hostPaths: { allow: [], deny: [] } },
          ['/mnt/docker'],
        ),
      /denied host path \/mnt\/docker/,
    );
  });

  it('unusedMaps names a --map that matches no bind', () => {
    assert.deepEqual(unusedMaps(parseMigrateMaps(['/srv/a=/b', '/typo=/c']), [bind('/srv/a/x')]), [
      { from: '/typo', to: '/c' },
    ]);
  });
});

describe('planRootfsChanges', () => {
  // `docker diff` of a busybox container that wrote /root/new.txt, made /newdir/sub/f, removed
  // /etc/group, with a bind at /data the runtime created (captured on dockerd 20.10, overlay2).
  const changes = [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/group', Kind: 2 },
    { Path: '/newdir', Kind: 1 },
    { Path: '/newdir/sub', Kind: 1 },
    { Path: '/newdir/sub/f', Kind: 1 },
    { Path: '/root', Kind: 0 },
    { Path: '/root/new.txt', Kind: 1 },
    { Path: '/data', Kind: 1 },
    { Path: '/data/counter', Kind: 1 },
    { Path: '/etc/hosts', Kind: 0 },
    { Path: '/dev', Kind: 0 },
    { Path: '/dev/console', Kind: 1 },
  ];

  it('fetches added subtrees whole and modified entries alone; skips mounts and runtime files', () => {
    const plan = planRootfsChanges(changes, ['/data']);
    assert.deepEqual(plan.fetch, [
      { path: '/etc', mode: 'modified' },
      { path: '/newdir', mode: 'added' },
      { path: '/root', mode: 'modified' },
      { path: '/root/new.txt', mode: 'added' },
    ]);
    assert.deepEqual(plan.deletions, ['/etc/group']);
    assert.equal(plan.skipped, 5);
  });

  it('one whiteout per deleted tree; a deleted and remade folder is whited out and copied whole', () => {
    const plan = planRootfsChanges(
      [
        { Path: '/a', Kind: 2 },
        { Path: '/a/b', Kind: 2 },
        { Path: '/x', Kind: 2 },
        { Path: '/x/new', Kind: 1 },
        { Path: '/x/new/deeper', Kind: 1 },
      ],
      [],
    );
    assert.deepEqual(plan.deletions, ['/a', '/x']);
    assert.deepEqual(plan.fetch, [{ path: '/x', mode: 'added' }]);
  });

  it('refuses a change path that is not a clean absolute path', () => {
    assert.throws(() => planRootfsChanges([{ Path: '/etc/../../x', Kind: 1 }], []), /bad path/);
    assert.throws(() => planRootfsChanges([{ Path: 'etc', Kind: 1 }], []), /bad path/);
  });

  it('orders parents before children, component by component', () => {
    assert.deepEqual(['/a-b', '/a/b', '/a', '/a/b/c'].sort(comparePaths), ['/a', '/a/b', '/a/b/c', '/a-b']);
  });
});
