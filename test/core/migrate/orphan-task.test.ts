import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inContainerCgroup, isCopyRecord, shimOf } from '../../../src/core/migrate/orphan-task.js';
import { fixture } from '../../helpers/fixtures.js';

const cgroupId = fixture('orphan-task/cgroup-v1-cgroupfs.id').trim();
const otherId = 'b'.repeat(64);
const source = 'a'.repeat(64);

describe('a copy task seen from the host', () => {
  it('knows the container by its cgroup path, not by a part of a name', () => {
    const text = fixture('orphan-task/cgroup-v1-cgroupfs.txt');
    assert.equal(inContainerCgroup(text, cgroupId), true);
    assert.equal(inContainerCgroup(text, otherId), false);
    assert.equal(
      inContainerCgroup('0::/docker/x' + cgroupId + '\n', cgroupId),
      false,
      'a component that only contains the ID',
    );
    assert.equal(
      inContainerCgroup(`0::/docker/${cgroupId}/sub\n`, cgroupId),
      true,
      'a cgroup the container made below its own',
    );
    assert.equal(inContainerCgroup(`0::/system.slice/docker-${cgroupId}.scope\n`, cgroupId), true, "systemd's scope");
    assert.equal(inContainerCgroup(text, cgroupId.slice(0, 12)), false, 'only a full ID');
  });

  it("reads containerd's address and namespace from the shim of that task only", () => {
    const argv = fixture('orphan-task/shim.cmdline')
      .split('\0')
      .filter((a) => a !== '');
    const id = argv[argv.indexOf('-id') + 1]!;
    assert.deepEqual(shimOf(argv, id), { address: '/tmp/fx/exec/containerd/containerd.sock', namespace: 'moby' });
    assert.equal(shimOf(argv, otherId), undefined);
    assert.equal(shimOf(['/usr/bin/sh', ...argv.slice(1)], id), undefined, 'not a shim');
    const relative = argv.map((a) => (a.startsWith('/tmp/fx') ? 'fx/containerd.sock' : a));
    assert.equal(shimOf(relative, id), undefined, 'a relative address');
    const badNamespace = argv.map((a) => (a === 'moby' ? '--help' : a));
    assert.equal(shimOf(badNamespace, id), undefined, 'a namespace that would be a flag');
  });

  it("takes a record as the copy's only with its ID and the source's label", () => {
    const text = fixture('orphan-task/config.v2.json');
    const id = fixture('orphan-task/config.v2.id').trim();
    assert.equal(isCopyRecord(text, id, 'extmount.migrate.from', source), true);
    assert.equal(isCopyRecord(text, id, 'extmount.migrate.from', otherId), false, 'another source');
    assert.equal(isCopyRecord(text, otherId, 'extmount.migrate.from', source), false, 'another container');
    assert.equal(isCopyRecord(text.slice(0, 100), id, 'extmount.migrate.from', source), false, 'cut short');
  });
});
