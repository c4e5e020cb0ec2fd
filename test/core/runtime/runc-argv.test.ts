import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import { argvForRuntime } from '../../../src/core/runtime/crun-compat.js';
import {
  bundleOf,
  imagePathOf,
  isValidContainerId,
  parseRuncArgv,
  parseRuncState,
  reorderArgs,
  runcRootOf,
  workPathOf,
} from '../../../src/core/runtime/runc-argv.js';

describe('parseRuncArgv', () => {
  it('reads the checkpoint call containerd 1.6 makes', () => {
    const inv = parseRuncArgv([
      '--root',
      '/run/docker/runtime-runc/moby',
      '--log',
      '/b/log.json',
      '--log-format',
      'json',
      'checkpoint',
      '--image-path',
      '/tmp/ctd-checkpoint1',
      '--work-path',
      '/b/work/criu-work',
      '--leave-running',
      'cid',
    ]);
    assert.equal(inv.verb, 'checkpoint');
    assert.equal(inv.containerId, 'cid');
    assert.equal(inv.globalOptions.get('root'), '/run/docker/runtime-runc/moby');
    assert.equal(inv.globalOptions.get('log-format'), 'json');
    assert.equal(inv.options.get('image-path'), '/tmp/ctd-checkpoint1');
    assert.equal(inv.options.get('work-path'), '/b/work/criu-work');
    assert.equal(inv.options.get('leave-running'), 'true');
    assert.deepEqual(inv.globals, [
      '--root',
      '/run/docker/runtime-runc/moby',
      '--log',
      '/b/log.json',
      '--log-format',
      'json',
    ]);
  });

  it("reads the restore call, with go-runc's single-dash -no-subreaper", () => {
    const inv = parseRuncArgv([
      '--root',
      '/r',
      'restore',
      '--image-path',
      '/i',
      '--work-path',
      '/w',
      '--detach',
      '--pid-file',
      '/b/init.pid',
      '-no-subreaper',
      '--bundle',
      '/b',
      'cid',
    ]);
    assert.equal(inv.verb, 'restore');
    assert.equal(inv.options.get('bundle'), '/b');
    assert.equal(inv.options.get('no-subreaper'), 'true');
    assert.equal(inv.options.get('pid-file'), '/b/init.pid');
    assert.equal(inv.containerId, 'cid');
  });

  // CRI-O's own argv (cri-o main, internal/oci/runtime_oci.go CheckpointContainer/runtimeCmd): no --log,
  // --file-locks, always --leave-running from the CRI call; the same from v1.28.
  it('reads the checkpoint call CRI-O makes', () => {
    const inv = parseRuncArgv([
      '--root',
      '/run/runc',
      '--systemd-cgroup',
      'checkpoint',
      '--file-locks',
      '--image-path',
      '/s/userdata/checkpoint',
      '--work-path',
      '/s/userdata',
      '--leave-running',
      'cid',
    ]);
    assert.equal(inv.verb, 'checkpoint');
    assert.equal(inv.containerId, 'cid');
    assert.equal(inv.usageProblem, undefined);
    assert.equal(inv.globalOptions.get('systemd-cgroup'), 'true');
    assert.equal(inv.options.get('file-locks'), 'true');
    assert.equal(imagePathOf(inv, '/elsewhere'), '/s/userdata/checkpoint');
    assert.equal(workPathOf(inv, '/elsewhere'), '/s/userdata');
  });

  // conmon's restore for CRI-O (conmon src/runtime_args.c configure_runtime_args): --root=R with '=',
  // --lsm-profile/--lsm-mount-context as --flag=value, --console-socket with -t.
  it('reads the restore call conmon makes for CRI-O', () => {
    const inv = parseRuncArgv([
      '--systemd-cgroup',
      '--root=/run/runc',
      'restore',
      '--bundle',
      '/run/b',
      '--pid-file',
      '/run/b/pidfile',
      '--no-pivot',
      '--detach',
      '--image-path',
      '/s/userdata/checkpoint',
      '--work-path',
      '/run/b',
      '--lsm-profile=selinux:system_u:system_r:container_t:s0',
      '--lsm-mount-context=system_u:object_r:container_file_t:s0',
      '--console-socket',
      '/run/b/console.sock',
      'cid',
    ]);
    assert.equal(inv.verb, 'restore');
    assert.equal(inv.containerId, 'cid');
    assert.equal(inv.usageProblem, undefined);
    assert.equal(runcRootOf(inv, '/', {}, 0), '/run/runc');
    assert.equal(bundleOf(inv, '/'), '/run/b');
    assert.equal(inv.options.get('lsm-mount-context'), 'system_u:object_r:container_file_t:s0');
    assert.equal(inv.options.get('console-socket'), '/run/b/console.sock');
    assert.equal(inv.options.get('no-pivot'), 'true');
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

describe("parseRuncArgv as urfave/cli v1.22.1 and Go's flag package read it", () => {
  it('takes flags after the container ID (urfave reorders them first)', () => {
    const inv = parseRuncArgv(['checkpoint', 'cid', '--image-path', '/i', '--leave-running']);
    assert.equal(inv.containerId, 'cid');
    assert.equal(inv.options.get('image-path'), '/i');
    assert.equal(inv.options.get('leave-running'), 'true');
    assert.equal(inv.usageProblem, undefined);
    assert.deepEqual(reorderArgs(['cid', '--image-path', '/i', '-d']), ['--image-path', '/i', '-d', 'cid']);
  });

  it("sees help anywhere among the command's flags, as runc does", () => {
    for (const args of [
      ['checkpoint', '--help'],
      ['checkpoint', '-h'],
      ['restore', 'cid', '-help'],
      ['--root', '/r', 'checkpoint', '--help=true'],
    ]) {
      assert.equal(parseRuncArgv(args).help, true, args.join(' '));
    }
    assert.equal(parseRuncArgv(['checkpoint', '--', '--help']).help, false);
    assert.equal(parseRuncArgv(['checkpoint', '--image-path', '--help', 'cid']).help, false, 'a value, not a flag');
  });

  it('says when runc would refuse the command line itself (the probes of Podman and CRI-O among them)', () => {
    assert.match(
      parseRuncArgv(['restore', '--lsm-mount-context']).usageProblem!,
      /flag needs an argument: --lsm-mount-context/,
    );
    assert.match(parseRuncArgv(['checkpoint']).usageProblem!, /exactly 1 argument/);
    assert.match(parseRuncArgv(['checkpoint', 'a', 'b']).usageProblem!, /exactly 1 argument/);
    assert.match(parseRuncArgv(['checkpoint', '---x', 'a']).usageProblem!, /bad flag syntax/);
    assert.equal(parseRuncArgv(['checkpoint', '--', 'cid']).containerId, 'cid');
  });
});

describe("runc's defaults for paths (runc 1.1 checkpoint.go, restore.go, utils_linux.go)", () => {
  const cwd = '/work/bundle';
  it('images in $PWD/checkpoint unless --image-path says (an empty one too); relative paths from $PWD', () => {
    assert.equal(imagePathOf(parseRuncArgv(['checkpoint', 'cid']), cwd), '/work/bundle/checkpoint');
    assert.equal(imagePathOf(parseRuncArgv(['checkpoint', '--image-path=', 'cid']), cwd), '/work/bundle/checkpoint');
    assert.equal(
      imagePathOf(parseRuncArgv(['checkpoint', '--image-path', './image-dir', 'cid']), cwd),
      '/work/bundle/./image-dir',
    );
    assert.equal(imagePathOf(parseRuncArgv(['restore', '--image-path', '/i', 'cid']), cwd), '/i');
  });
  it("CRIU's log in the work path, else in the images dir (CRIU's default)", () => {
    assert.equal(
      workPathOf(parseRuncArgv(['checkpoint', '--work-path', './work-dir', 'cid']), cwd),
      '/work/bundle/./work-dir',
    );
    assert.equal(workPathOf(parseRuncArgv(['checkpoint', 'cid']), cwd), '/work/bundle/checkpoint');
  });
  it('the bundle from --bundle or -b, else $PWD; the root from --root, else /run/runc', () => {
    assert.equal(bundleOf(parseRuncArgv(['restore', '-b', 'b2', 'cid']), cwd), '/work/bundle/b2');
    assert.equal(bundleOf(parseRuncArgv(['restore', 'cid']), cwd), cwd);
    assert.equal(runcRootOf(parseRuncArgv(['--root', '/r', 'restore', 'cid']), cwd, {}, 0), '/r');
    assert.equal(
      runcRootOf(parseRuncArgv(['restore', 'cid']), cwd, { XDG_RUNTIME_DIR: '/run/user/1000' }, 0),
      '/run/runc',
    );
    assert.equal(
      runcRootOf(parseRuncArgv(['restore', 'cid']), cwd, { XDG_RUNTIME_DIR: '/run/user/1000' }, 1000),
      '/run/user/1000/runc',
    );
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
    const state = parseRuncState(
      '{"ociVersion":"1.0.2-dev","id":"x","pid":30137,"status":"running","bundle":"/b","rootfs":"/r"}',
      'x',
    );
    assert.deepEqual(state, { pid: 30137, status: 'running', bundle: '/b' });
  });
  it('refuses other output', () => {
    assert.throws(() => parseRuncState('container does not exist', 'x'), ExtmountError);
    assert.throws(() => parseRuncState('{"pid":1,"status":"running","bundle":"relative"}', 'x'), /unexpected output/);
  });
});

describe('argvForRuntime', () => {
  // containerd 1.7's shim, as the wrapper saw it on trixie.
  const restore = [
    '--root',
    '/run/docker/runtime-runc/moby',
    '--log',
    '/b/log.json',
    '--log-format',
    'json',
    'restore',
    '--detach',
    '--pid-file',
    '/b/init.pid',
    '--image-path',
    '/c',
    '--work-path',
    '/w',
    '--no-subreaper',
    '--bundle',
    '/b',
    'id1',
  ];

  it('leaves out only --no-subreaper of a restore, for crun', () => {
    assert.deepEqual(
      argvForRuntime(restore, '/usr/bin/crun'),
      restore.filter((a) => a !== '--no-subreaper'),
    );
    assert.deepEqual(argvForRuntime(['restore', '-no-subreaper', 'id1'], 'crun'), ['restore', 'id1']);
  });

  it('passes everything else as it is: runc, other verbs, a value that happens to read --no-subreaper', () => {
    assert.deepEqual(argvForRuntime(restore, '/usr/sbin/runc'), restore);
    assert.deepEqual(argvForRuntime(['checkpoint', '--no-subreaper', 'id1'], 'crun'), [
      'checkpoint',
      '--no-subreaper',
      'id1',
    ]);
    assert.deepEqual(argvForRuntime(['--root', '--no-subreaper', 'restore', 'id1'], 'crun'), [
      '--root',
      '--no-subreaper',
      'restore',
      'id1',
    ]);
  });
});
