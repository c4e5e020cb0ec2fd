import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { engineErrorHint } from '../../../src/core/docker/engine-errors.js';

describe('engineErrorHint', () => {
  it('says what to do for answers dockerd gives in checkpoints and migrations', () => {
    assert.match(engineErrorHint(500, 'write /var/lib/docker/x: no space left on device'), /free space/);
    assert.match(engineErrorHint(500, 'failed to create task for container: criu failed: type NOTIFY errno 0'), /restore\.log/);
    assert.match(engineErrorHint(409, 'Conflict. The container name "/x" is already in use'), /busy/);
    assert.match(engineErrorHint(404, 'No such container: x'), /docker ps -a/);
    assert.match(engineErrorHint(400, 'invalid mount config'), /docker version/);
    assert.match(engineErrorHint(500, 'something unexpected'), /dockerd's log/);
    assert.match(engineErrorHint(undefined, ''), /dockerd's log/);
  });
});
