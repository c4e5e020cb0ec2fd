import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeLockHolder, parseLockHolder, renderLockHolder } from '../../src/core/lock-holder.js';

describe('lock holder records', () => {
  it('round-trips pid and start time; reads an older record (pid alone)', () => {
    const holder = { pid: 4242, since: '2026-12-07T03:00:01.123Z' };
    assert.deepEqual(parseLockHolder(renderLockHolder(holder)), holder);
    assert.deepEqual(parseLockHolder('77\n'), { pid: 77 });
    assert.equal(describeLockHolder(holder), 'pid 4242, since 2026-12-07T03:00:01.123Z');
    assert.equal(describeLockHolder({ pid: 77 }), 'pid 77');
  });
  it('anything else is no record, and says so', () => {
    for (const text of ['', 'abc', '12 yesterday', '1 2026-12-07T03:00:01Z extra', '99999999999'])
      assert.equal(parseLockHolder(text), undefined, text);
    assert.equal(describeLockHolder(undefined), 'its pid unknown');
  });
});
