import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { engineErrorHint, engineFailureReason } from '../../../src/core/docker/engine-errors.js';

describe('engineErrorHint', () => {
  it('says what to do for answers dockerd gives in checkpoints and migrations', () => {
    assert.match(engineErrorHint(500, 'write /var/lib/docker/x: no space left on device'), /free space/);
    assert.match(
      engineErrorHint(500, 'failed to create task for container: criu failed: type NOTIFY errno 0'),
      /restore\.log/,
    );
    assert.match(engineErrorHint(409, 'Conflict. The container name "/x" is already in use'), /busy/);
    assert.match(engineErrorHint(404, 'No such container: x'), /docker ps -a/);
    assert.match(engineErrorHint(400, 'invalid mount config'), /docker version/);
    assert.match(engineErrorHint(500, 'something unexpected'), /dockerd's log/);
    assert.match(engineErrorHint(undefined, ''), /dockerd's log/);
  });
});

describe('engineFailureReason', () => {
  it("reads a CRIU failure out of dockerd's answer once, as a reason code branches on", () => {
    assert.equal(
      engineFailureReason(
        'OCI runtime restore failed: criu failed: type RESTORE errno 0\nlog file: /x/restore.log: unknown',
      ),
      'criu-failed',
    );
    assert.equal(
      engineFailureReason('failed to create task for container: criu failed: type NOTIFY errno 0'),
      'criu-failed',
    );
    assert.equal(engineFailureReason('No such container: x'), undefined);
    assert.equal(
      engineFailureReason('CRIU version check failed'),
      undefined,
      'as before: only the words runc uses for a failed CRIU run',
    );
  });
});
