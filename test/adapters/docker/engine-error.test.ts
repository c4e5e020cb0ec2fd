import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { engineError, type Engine } from '../../../src/adapters/docker/docker.js';
import { ExtmountError, hasReason } from '../../../src/core/errors.js';

const engine = { where: 'unix:///run/b.sock' } as Engine;

describe("engineError: the engine's failures with the reason code decides on", () => {
  it('an engine that never answered is unreachable (exit 2), whatever the socket error', () => {
    for (const code of ['ECONNREFUSED', 'ENOENT', 'EPIPE', 'ECONNRESET']) {
      const e = engineError(engine, Object.assign(new Error(`connect ${code}`), { code }), 'reading engine info');
      assert.equal(e.reason, 'unreachable');
      assert.equal(e.exitCode, 2);
      assert.equal(e.message, `cannot reach the Docker engine at unix:///run/b.sock (${code})`);
    }
  });

  it('a start whose CRIU failed says so by reason, not only in its text', () => {
    const answer = {
      statusCode: 500,
      json: { message: 'OCI runtime restore failed: criu failed: type RESTORE errno 0' },
    };
    const e = engineError(engine, answer, 'starting container abc from checkpoint c');
    assert.equal(e.code, 'docker-failed');
    assert.equal(e.reason, 'criu-failed');
    assert.equal(
      e.message,
      'starting container abc from checkpoint c on unix:///run/b.sock: OCI runtime restore failed: criu failed: type RESTORE errno 0',
    );
    assert.equal(hasReason(e, 'criu-failed'), true);
    assert.equal(hasReason(e, 'unreachable'), false);
  });

  it('other answers have no reason', () => {
    const e = engineError(engine, { statusCode: 404, json: { message: 'No such container: x' } }, 'inspecting x');
    assert.equal(e.reason, undefined);
    assert.equal(
      hasReason(new Error('cannot reach the Docker engine at x (ECONNREFUSED)'), 'unreachable'),
      false,
      'the words alone are not the reason',
    );
    assert.equal(
      hasReason(new ExtmountError('bad-input', 'cannot reach the Docker engine at x (ECONNREFUSED)'), 'unreachable'),
      false,
    );
  });
});
