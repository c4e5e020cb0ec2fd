import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyMounts } from '../../../src/core/mounts/classify.js';
import {
  defaultCheckpointName,
  isTransientContentExists,
  looksLikeExtmountRuntime,
  mountsNeedingExtmount,
  runtimeMessageFrom,
  validateCheckpointName,
} from '../../../src/core/docker/docker-checkpoint.js';
import { parseMountinfo } from '../../../src/core/mounts/mountinfo.js';
import { planExternalMounts } from '../../../src/core/mounts/plan.js';
import { containerInfoFromInspect } from '../../../src/adapters/docker/docker.js';
import { fixture, inspectFixture } from '../../helpers/fixtures.js';

describe('checkpoint names', () => {
  it('defaults to extmount-<UTC time>, valid for Docker', () => {
    const name = defaultCheckpointName(new Date('2026-11-26T23:54:00.123Z'));
    assert.equal(name, 'extmount-20261126T235400');
    assert.equal(validateCheckpointName(name), undefined);
    assert.ok(validateCheckpointName('a'));
    assert.ok(validateCheckpointName('../x'));
  });
});

describe('runtimeMessageFrom', () => {
  it("takes the wrapper's line out of a failed checkpoint as dockerd reports it", () => {
    const message =
      'Cannot checkpoint container f2: /x/hooks/extmount-runc did not terminate successfully: exit status 1: extmount: checkpoint failed: inet: Connected TCP socket, ' +
      'consider using --tcp-established option.; full log: /var/lib/extmount/f2/logs/criu-dump-1.log path= /run/x/criu-dump.log: unknown';
    assert.equal(
      runtimeMessageFrom(message),
      'checkpoint failed: inet: Connected TCP socket, consider using --tcp-established option.; full log: /var/lib/extmount/f2/logs/criu-dump-1.log',
    );
  });

  it('and out of a failed restore', () => {
    assert.equal(
      runtimeMessageFrom('OCI runtime restore failed: extmount: /prop/sub (key prop-sub) → /x: no such file: unknown'),
      '/prop/sub (key prop-sub) → /x: no such file',
    );
    assert.equal(runtimeMessageFrom('criu failed: type NOTIFY errno 0'), undefined);
  });
});

describe('engine quirks and runtime checks', () => {
  it('knows the transient "already exists" on start', () => {
    assert.ok(
      isTransientContentExists(
        'failed to upload checkpoint to containerd: commit failed: content sha256:0123abcd already exists',
      ),
    );
    assert.ok(!isTransientContentExists('No such container'));
  });

  it('recognizes the wrapper by name', () => {
    assert.ok(looksLikeExtmountRuntime('/opt/extmount/hooks/extmount-runc'));
    assert.ok(!looksLikeExtmountRuntime('/usr/bin/runc'));
    assert.ok(!looksLikeExtmountRuntime(undefined));
  });

  it('finds what runc cannot map: the propagated submount, not the config binds or runtime files', () => {
    const inspect = inspectFixture('docker-propagated');
    const container = containerInfoFromInspect(inspect);
    const plan = planExternalMounts(
      classifyMounts(parseMountinfo(fixture('mountinfo/docker-propagated.mountinfo')), {
        hostMounts: parseMountinfo(fixture('mountinfo/docker-propagated.host.mountinfo')),
        container,
      }),
    );
    assert.deepEqual(
      mountsNeedingExtmount(plan, container, inspect.HostConfig.MaskedPaths ?? []).map((m) => m.mountpoint),
      ['/prop/sub'],
    );
  });
});
