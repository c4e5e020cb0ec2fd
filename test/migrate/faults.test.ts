import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAULT_ENV, faultsFromEnv, noFaults } from '../../src/migrate/faults.js';

describe('fault injection', () => {
  it('is off by default', () => {
    assert.equal(faultsFromEnv({}), noFaults);
  });

  it('crashes (or stops) only at the named point', async () => {
    const seen: string[] = [];
    const actions = {
      crash: (): never => {
        seen.push('crash');
        throw new Error('crashed');
      },
      stop: () => void seen.push('stop'),
    };
    const faults = faultsFromEnv({ [FAULT_ENV]: 'after-create' }, actions);
    await faults.at('after-checkpoint');
    assert.deepEqual(seen, []);
    await assert.rejects(faults.at('after-create'), /crashed/);
    assert.deepEqual(seen, ['crash']);
    await faultsFromEnv({ [FAULT_ENV]: 'before-start:stop' }, actions).at('before-start');
    assert.deepEqual(seen, ['crash', 'stop']);
  });

  it('refuses an unknown point or action', () => {
    assert.throws(() => faultsFromEnv({ [FAULT_ENV]: 'somewhere' }), /expected POINT/);
    assert.throws(() => faultsFromEnv({ [FAULT_ENV]: 'after-start:explode' }), /expected POINT/);
  });
});
