import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkStateDirPath, DEFAULT_CONFIG, parseConfig } from '../../src/core/config.js';
import { ExtmountError } from '../../src/core/errors.js';
import { checkStateDirFacts, type PathFacts } from '../../src/core/state-dir-rule.js';

const refusedWith = (pattern: RegExp) => (e: unknown) =>
  e instanceof ExtmountError && e.code === 'refused' && e.exitCode === 2 && pattern.test(e.message);
const dir = (over: Partial<PathFacts> = {}): PathFacts => ({
  kind: 'directory',
  uid: 0,
  mode: 0o700,
  realPath: '/var/lib/extmount',
  ...over,
});

describe('checkStateDirPath', () => {
  it('normalizes an acceptable path', () => {
    assert.equal(checkStateDirPath('/var/lib//extmount/./', DEFAULT_CONFIG.hostPaths.deny), '/var/lib/extmount');
    assert.equal(checkStateDirPath('/tmp/x/state', []), '/tmp/x/state');
    assert.equal(checkStateDirPath('/srv/etc', DEFAULT_CONFIG.hostPaths.deny), '/srv/etc');
  });
  it('refuses relative paths, "..", NUL and "/" in every spelling', () => {
    for (const [path, pattern] of [
      ['rel-state', /absolute/],
      ['./state', /absolute/],
      ['', /absolute/],
      ['/srv/../etc', /absolute path without ".."/],
      ['/srv/a\0', /absolute/],
      ['/', /must not be "\/"/],
      ['//', /must not be "\/"/],
      ['/./', /must not be "\/"/],
    ] as const) {
      assert.throws(() => checkStateDirPath(path, []), refusedWith(pattern), path);
    }
  });
  it('refuses a path in or below a denied one; "/" in the list refuses only itself; the default list always counts', () => {
    assert.throws(() => checkStateDirPath('/etc', ['/']), refusedWith(/lies in "\/etc"/));
    assert.throws(() => checkStateDirPath('/etc/extmount', []), refusedWith(/lies in "\/etc"/));
    assert.throws(() => checkStateDirPath('/var/lib/docker/x', []), refusedWith(/lies in "\/var\/lib\/docker"/));
    assert.throws(() => checkStateDirPath('/srv/data/state', ['/srv/data/']), refusedWith(/lies in "\/srv\/data"/));
    assert.equal(checkStateDirPath('/srv/database', ['/srv/data']), '/srv/database');
  });
  it('parseConfig applies it: the config carries the normalized path, a bad one is exit 2', () => {
    assert.equal(parseConfig({ stateDir: '/srv/state/' }, 'c').stateDir, '/srv/state');
    assert.throws(() => parseConfig({ stateDir: '/' }, 'c'), refusedWith(/"\/"/));
    assert.throws(() => parseConfig({ stateDir: 'rel-state' }, 'c'), refusedWith(/absolute/));
    assert.throws(
      () => parseConfig({ stateDir: '/srv/x', hostPaths: { deny: ['/srv'] } }, 'c'),
      refusedWith(/lies in "\/srv"/),
    );
  });
});

describe('checkStateDirFacts', () => {
  const path = '/var/lib/extmount';
  const ok = (facts: Parameters<typeof checkStateDirFacts>[1], uid = 0) =>
    assert.doesNotThrow(() => checkStateDirFacts(path, facts, uid));
  const no = (facts: Parameters<typeof checkStateDirFacts>[1], pattern: RegExp, uid = 0) =>
    assert.throws(() => checkStateDirFacts(path, facts, uid), refusedWith(pattern));

  it('accepts a root-owned directory that only root may write, sticky or not', () => {
    ok({ exists: true, dir: dir() });
    ok({ exists: true, dir: dir({ mode: 0o755 }) });
    ok({ exists: true, dir: dir({ mode: 0o1755 }) });
  });
  it('refuses a symlink, a file, a path through a symlink, another owner, group or world write', () => {
    no({ exists: true, dir: dir({ kind: 'symlink', realPath: '/' }) }, /is a symlink/);
    no({ exists: true, dir: dir({ kind: 'other' }) }, /is not a directory/);
    no(
      { exists: true, dir: dir({ realPath: '/srv/elsewhere/extmount' }) },
      /through a symlink .*"\/srv\/elsewhere\/extmount"/,
    );
    no({ exists: true, dir: dir({ uid: 1000 }) }, /owned by uid 1000, not root/);
    no({ exists: true, dir: dir({ mode: 0o770 }) }, /writable by group or others \(mode 0770\)/);
    no({ exists: true, dir: dir({ mode: 0o1777 }) }, /mode 1777/);
    no({ exists: true, dir: dir({ mode: 0o702 }) }, /mode 0702/);
  });
  it("owner is root or the running user: root refuses uid 1000's, uid 1000 may use its own or root's, not uid 1001's", () => {
    ok({ exists: true, dir: dir({ uid: 1000 }) }, 1000);
    ok({ exists: true, dir: dir() }, 1000);
    no({ exists: true, dir: dir({ uid: 1001 }) }, /owned by uid 1001, not uid 1000/, 1000);
  });
  it('a missing state dir: its nearest existing parent decides', () => {
    ok({ exists: false, ancestor: '/var/lib', facts: dir({ mode: 0o755, realPath: '/var/lib' }) });
    ok({ exists: false, ancestor: '/tmp', facts: dir({ mode: 0o1777, realPath: '/tmp' }) });
    no(
      { exists: false, ancestor: '/var/tmp/w', facts: dir({ mode: 0o777, realPath: '/var/tmp/w' }) },
      /would be made in "\/var\/tmp\/w", writable by group or others \(mode 0777\)/,
    );
    no({ exists: false, ancestor: '/home/u', facts: dir({ uid: 1000, realPath: '/home/u' }) }, /owned by uid 1000/);
    no({ exists: false, ancestor: '/var/lib', facts: dir({ kind: 'symlink', realPath: '/srv' }) }, /through a symlink/);
    no(
      { exists: false, ancestor: '/var/lib', facts: dir({ realPath: '/data/lib' }) },
      /"\/var\/lib" is really "\/data\/lib"/,
    );
    no(
      { exists: false, ancestor: '/var/lib', facts: dir({ kind: 'other', realPath: '/var/lib' }) },
      /"\/var\/lib" is not a directory/,
    );
  });
});
