import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../src/core/errors.js';
import { isValidContainerId, parseRuncArgv, parseRuncState } from '../../src/core/runc-argv.js';

describe('parseRuncArgv', () => {
  it('reads the checkpoint call containerd 1.6 makes', () => {
    const inv = parseRuncArgv([
      '--root', '/run/docker/runtime-runc/moby', '--log', '/b/log.json', '--log-format', 'json',
      'checkpoint', '--image-path', '/tmp/ctd-checkpoint1', '--work-path', '/b/work/criu-work', '--leave-running', 'cid',
    ]);
    assert.equal(inv.verb, 'checkpoint');
    assert.equal(inv.containerId, 'cid');
    assert.equal(inv.globalOptions.get('root'), '/run/docker/runtime-runc/moby');
    assert.equal(inv.globalOptions.get('log-format'), 'json');
    assert.equal(inv.options.get('image-path'), '/tmp/ctd-checkpoint1');
    assert.equal(inv.options.get('work-path'), '/b/work/criu-work');
    assert.equal(inv.options.get('leave-running'), 'true');
    assert.deepEqual(inv.globals, ['--root', '/run/docker/runtime-runc/moby', '--log', '/b/log.json', '--log-format', 'json']);
  });

  it('reads the restore call, with go-runc\'s single-dash -no-subreaper', () => {
    const inv = parseRuncArgv([
      '--root', '/r', 'restore', '--image-path', '/i', '--work-path', '/w', '--detach', '--pid-file', '/b/init.pid', '-no-subreaper', '--bundle', '/b', 'cid',
    ]);
    assert.equal(inv.verb, 'restore');
    assert.equal(inv.options.get('bundle'), '/b');
    assert.equal(inv.options.get('no-subreaper'), 'true');
    assert.equal(inv.options.get('pid-file'), '/b/init.pid');
    assert.equal(inv.containerId, 'cid');
  });

  it('takes --flag=value, boolean globals, and a value that looks like a verb', () => {
    const inv = parseRuncArgv(['--log=/l', '--debug', '--systemd-cgroup', '--root', 'checkpoint', 'state', 'x']);
    assert.equal(inv.verb, 'state');
    assert.equal(inv.globalOptions.get('log'), '/l');
    assert.equal(inv.globalOptions.get('root'), 'checkpoint');
    assert.equal(inv.globalOptions.get('debug'), 'true');
    assert.equal(inv.containerId, 'x');
  });

  it('has no verb for bare options', () => {
    assert.equal(parseRuncArgv(['--version']).verb, undefined);
    assert.equal(parseRuncArgv([]).containerId, undefined);
  });
});

describe('isValidContainerId', () => {
  it('accepts runc IDs and refuses what could leave a folder', () => {
    assert.ok(isValidContainerId('f89cbc5ba722bf112974ee667f8469c8f2b5fdab0c197d0f3588d92ec507680c'));
    assert.ok(isValidContainerId('my_ctr-1.2'));
    for (const bad of ['', '.', '..', 'a/b', '../x', 'a b', 'a\nb']) assert.ok(!isValidContainerId(bad), bad);
  });
});

describe('parseRuncState', () => {
  it('reads pid, status and bundle', () => {
    const state = parseRuncState('{"ociVersion":"1.0.2-dev","id":"x","pid":30137,"status":"running","bundle":"/b","rootfs":"/r"}', 'x');
    assert.deepEqual(state, { pid: 30137, status: 'running', bundle: '/b' });
  });
  it('refuses other output', () => {
    assert.throws(() => parseRuncState('container does not exist', 'x'), ExtmountError);
    assert.throws(() => parseRuncState('{"pid":1,"status":"running","bundle":"relative"}', 'x'), /unexpected output/);
  });
});
