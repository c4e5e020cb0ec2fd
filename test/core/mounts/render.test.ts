import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import {
  parseCriuVersion,
  planCriuOptions,
  toArgv,
  toConfigFile,
  type CriuPlanInput,
} from '../../../src/core/mounts/render.js';

const plan: CriuPlanInput = {
  rootHostPath: '/tmp/x/root',
  mounts: [
    { mountpoint: '/bar', key: 'barmount', hostPath: '/tmp/x/foo' },
    { mountpoint: '/prop/sub', key: 'prop-sub', hostPath: null },
  ],
  enableExternalMasters: true,
  enableExternalSharing: false,
};

describe('CRIU versions', () => {
  it('reads `criu --version` output', () => {
    assert.deepEqual(parseCriuVersion('Version: 4.1.1\n'), { major: 4, minor: 1, patch: 1, text: '4.1.1' });
    assert.deepEqual(parseCriuVersion('Version: 3.17\nGitID: v3.17'), {
      major: 3,
      minor: 17,
      patch: 0,
      text: '3.17.0',
    });
    assert.throws(() => parseCriuVersion('criu: not found'), ExtmountError);
  });
});

describe('planCriuOptions', () => {
  it('renders --external mnt[…] on CRIU >= 2.8, and the restore side from host paths or targets', () => {
    const options = planCriuOptions(plan, parseCriuVersion('Version: 4.1.1'), { includeRoot: true });
    assert.deepEqual(toArgv(options.dump), [
      '--external',
      'mnt[/bar]:barmount',
      '--external',
      'mnt[/prop/sub]:prop-sub',
      '--enable-external-masters',
    ]);
    assert.deepEqual(toArgv(options.restore), [
      '--external',
      'mnt[barmount]:/tmp/x/foo',
      '--enable-external-masters',
      '--root',
      '/tmp/x/root',
    ]);
    const mapped = planCriuOptions(plan, parseCriuVersion('Version: 4.1.1'), {
      targets: new Map([['prop-sub', '/srv/disk2']]),
    });
    assert.deepEqual(toArgv(mapped.restore), [
      '--external',
      'mnt[barmount]:/tmp/x/foo',
      '--external',
      'mnt[prop-sub]:/srv/disk2',
      '--enable-external-masters',
    ]);
  });

  it('renders the legacy --ext-mount-map before CRIU 2.8', () => {
    const options = planCriuOptions(plan, parseCriuVersion('Version: 2.7'));
    assert.deepEqual(toArgv(options.dump).slice(0, 2), ['--ext-mount-map', '/bar:barmount']);
    assert.deepEqual(toArgv(options.restore).slice(0, 2), ['--ext-mount-map', 'barmount:/tmp/x/foo']);
  });

  it('refuses values that would break out of a CRIU config line, and "]" in mountpoints', () => {
    const evil = (mountpoint: string): CriuPlanInput => ({
      ...plan,
      mounts: [{ mountpoint, key: 'k', hostPath: '/srv/k' }],
    });
    const v = parseCriuVersion('Version: 4.1.1');
    for (const mountpoint of ['/a\naction-script /tmp/x', '/a b', '/a#b', '/a"b', "/a'b", '/a\\b']) {
      assert.throws(
        () => toConfigFile(planCriuOptions(evil(mountpoint), v).dump),
        (e: unknown) => e instanceof ExtmountError && e.exitCode === 2,
        JSON.stringify(mountpoint),
      );
    }
    assert.throws(() => planCriuOptions(evil('/a]:x'), v), /has "\]" in its path/);
    assert.equal(
      toConfigFile(planCriuOptions(evil('/a:b'), v).dump),
      'external mnt[/a:b]:k\nenable-external-masters\n',
    );
  });

  it('writes the same options as a CRIU config file', () => {
    const options = planCriuOptions(plan, parseCriuVersion('Version: 4.1.1'));
    assert.equal(
      toConfigFile(options.dump),
      'external mnt[/bar]:barmount\nexternal mnt[/prop/sub]:prop-sub\nenable-external-masters\n',
    );
  });
});
