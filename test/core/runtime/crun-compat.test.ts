import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crunEmptyDirectory } from '../../../src/core/runtime/crun-compat.js';
import { parseRuncArgv } from '../../../src/core/runtime/runc-argv.js';

// The keys crun 1.28 recorded under dockerd (sid: mountpoints-13.img of a checkpoint, /sys/firmware and /proc/acpi).
const recorded = [
  { externalKey: '/run/crun/.empty-directory' },
  { externalKey: '/run/crun/.empty-directory' },
  { externalKey: '/prop' },
  { externalKey: null },
];
const underDockerd = parseRuncArgv(['--root', '/run/docker/runtime-runc/moby', 'restore', '--bundle', '/b', 'id1']);

describe('crunEmptyDirectory', () => {
  it("maps crun's masked-path key to that folder of the root the restore runs with", () => {
    assert.deepEqual(crunEmptyDirectory('/usr/bin/crun', underDockerd, recorded), [
      ['external', 'mnt[/run/crun/.empty-directory]:/run/docker/runtime-runc/moby/.empty-directory'],
    ]);
  });

  it('adds nothing for runc, for crun in its default root, without --root, or when the images do not hold the key', () => {
    assert.deepEqual(crunEmptyDirectory('/usr/sbin/runc', underDockerd, recorded), []);
    assert.deepEqual(
      crunEmptyDirectory('crun', parseRuncArgv(['--root', '/run/crun', 'restore', 'id1']), recorded),
      [],
    );
    assert.deepEqual(crunEmptyDirectory('crun', parseRuncArgv(['restore', 'id1']), recorded), []);
    assert.deepEqual(crunEmptyDirectory('crun', underDockerd, recorded.slice(2)), []);
    assert.deepEqual(
      crunEmptyDirectory('crun', parseRuncArgv(['--root', 'relative/root', 'restore', 'id1']), recorded),
      [],
    );
  });
});
