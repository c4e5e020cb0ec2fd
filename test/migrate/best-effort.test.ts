import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bestEffortWith, pollUntil, WAIT_MS } from '../../src/migrate/best-effort.js';
import { textLogger } from '../../src/adapters/log.js';

describe('bestEffort', () => {
  it('gives the value, or swallows the failure and says what it was at debug', async () => {
    const lines: string[] = [];
    const bestEffort = bestEffortWith(textLogger('debug', (line) => lines.push(line)));
    assert.equal(await bestEffort(Promise.resolve(3), 'counting'), 3);
    assert.deepEqual(lines, []);
    assert.equal(
      await bestEffort(Promise.reject(new Error('no such volume: v')), 'removing volume v on the target'),
      undefined,
    );
    assert.deepEqual(lines, ['extmount: debug: removing volume v on the target failed, ignored: no such volume: v']);
  });

  it("at 'warn', says it without --debug", async () => {
    const lines: string[] = [];
    const bestEffort = bestEffortWith(
      textLogger('warn', (line) => lines.push(line)),
      'warn',
    );
    assert.equal(await bestEffort(Promise.reject(new Error('gone')), 'removing the journal'), undefined);
    assert.deepEqual(lines, ['extmount: warning: removing the journal failed, ignored: gone']);
  });

  it('is silent without --debug', async () => {
    const lines: string[] = [];
    const bestEffort = bestEffortWith(textLogger('warn', (line) => lines.push(line)));
    assert.equal(await bestEffort(Promise.reject(new Error('gone')), 'x'), undefined);
    assert.deepEqual(lines, []);
  });
});

describe('pollUntil', () => {
  it('returns the first value the check gives', async () => {
    let calls = 0;
    const value = await pollUntil(async () => (++calls === 3 ? 'up' : undefined), { timeoutMs: 5000, intervalMs: 1 });
    assert.equal(value, 'up');
    assert.equal(calls, 3);
  });

  it('gives up after its limit with undefined', async () => {
    const started = Date.now();
    let calls = 0;
    const value = await pollUntil(
      async () => {
        calls++;
        return undefined;
      },
      { timeoutMs: 50, intervalMs: 10 },
    );
    assert.equal(value, undefined);
    assert.ok(Date.now() - started >= 50);
    assert.ok(calls >= 2 && calls <= 7, String(calls));
  });

  it('names its limits', () => {
    assert.deepEqual(WAIT_MS, {
      lazyDumpEnd: 600_000,
      lazyDumpGiveUp: 60_000,
      lazyDumpSettle: 60_000,
      sourceEnded: 30_000,
    });
  });
});
