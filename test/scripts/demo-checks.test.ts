// The demo's checks fail when its claims are false: strict counter parsing, settled reads, every check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkCountContinued,
  checkEqual,
  checkNone,
  checkPlainDumpFails,
  checkTokenContinued,
  DemoCheckFailed,
  failureLine,
  parseCount,
  parsePid,
  parseTokenCount,
  readSettled,
} from '../../scripts/demo-checks.js';

const TOKEN = '3f2b8c1e-9a4d-4e7f-b1c2-0d9e8f7a6b5c';
const OTHER = 'aa2b8c1e-9a4d-4e7f-b1c2-0d9e8f7a6b5c';
const failsWith = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof DemoCheckFailed && pattern.test(err.message));

describe('demo counter parsing', () => {
  it('takes only a complete "N\\n": an empty, partial or garbled read is no value (not 0)', () => {
    assert.equal(parseCount('9\n'), 9);
    assert.equal(parseCount('1234\n'), 1234);
    for (const text of ['', '\n', '12', '0\n', '012\n', ' 9\n', '9\n9\n', 'x\n', '-1\n', '9 \n'])
      assert.equal(parseCount(text), undefined, JSON.stringify(text));
  });

  it('takes only a complete "<uuid> <n>\\n"', () => {
    assert.deepEqual(parseTokenCount(`${TOKEN} 7\n`), { token: TOKEN, n: 7 });
    for (const text of [
      '',
      `${TOKEN}\n`,
      `${TOKEN} 7`,
      `${TOKEN} 7\n${TOKEN} 8\n`,
      `${TOKEN.slice(0, 30)} 7\n`,
      `${TOKEN} 0\n`,
      `${TOKEN}  7\n`,
    ]) {
      assert.equal(parseTokenCount(text), undefined, JSON.stringify(text));
    }
  });
});

describe('readSettled', () => {
  /** A file read in turn as each of `texts` (the last repeats), with a fake clock. */
  function reads(texts: Array<string | Error>) {
    let i = 0;
    let clock = 0;
    return {
      read: async () => {
        const t = texts[Math.min(i++, texts.length - 1)]!;
        if (t instanceof Error) throw t;
        return t;
      },
      options: { sleep: async (ms: number) => void (clock += ms), now: () => clock, timeoutMs: 1000, intervalMs: 10 },
      count: () => i,
    };
  }

  it('waits past a missing file, an empty read and a value that changes, for two equal complete reads', async () => {
    const r = reads([new Error('ENOENT'), '', '', '8\n', '9\n', '9\n']);
    assert.equal(await readSettled('the counter', r.read, parseCount, r.options), 9);
    assert.equal(r.count(), 6);
  });

  it('fails, naming what it read, when no complete value comes', async () => {
    const r = reads(['']);
    await assert.rejects(
      readSettled('the counter', r.read, parseCount, r.options),
      (err: unknown) =>
        err instanceof DemoCheckFailed &&
        /the counter: no complete value after 1000 ms \(last read: ""\)/.test(err.message),
    );
  });
});

describe('demo checks', () => {
  it('plain criu dump: must fail, and with "doesn\'t have a proper root mount"', () => {
    const log = "(00.01) Error (criu/mount.c:1): mnt: 103:./bar doesn't have a proper root mount\n";
    assert.match(
      checkPlainDumpFails(1, `x\n${log}`),
      /fails \(exit 1\): .*103:\.\/bar doesn't have a proper root mount/,
    );
    failsWith(() => checkPlainDumpFails(0, log), /succeeded/);
    failsWith(() => checkPlainDumpFails(1, 'Error: something else\n'), /not with "doesn't have a proper root mount"/);
  });

  it('the seed counter continues: first value after restore past the value at checkpoint, and still counting', () => {
    assert.match(checkCountContinued(25, 26, 36), /continued/);
    // The demo's old false claim: the read caught the file mid-write ("" → 0) and it said "continued from 9".
    failsWith(() => checkCountContinued(9, 0, 0), /started at 0, not past 9/);
    failsWith(() => checkCountContinued(25, 1, 11), /restarted from 1/);
    failsWith(() => checkCountContinued(25, 25, 30), /not past 25/);
    failsWith(() => checkCountContinued(25, 26, 26), /stopped at 26/);
    failsWith(() => checkCountContinued(1, 2, 3), /too close to 1/);
  });

  it('a token counter continues: the same token and a higher number', () => {
    assert.match(
      checkTokenContinued({ token: TOKEN, n: 10 }, { token: TOKEN, n: 11 }, 'on b'),
      /^on b: counter 11 \(was 10\), same process token 3f2b8c1e/,
    );
    failsWith(
      () => checkTokenContinued({ token: TOKEN, n: 10 }, { token: OTHER, n: 30 }, 'on b'),
      /new process token .*restarted/,
    );
    failsWith(
      () => checkTokenContinued({ token: TOKEN, n: 10 }, { token: TOKEN, n: 10 }, 'on b'),
      /at 10, not past 10/,
    );
  });

  it('equal values, empty lists, a pid', () => {
    assert.equal(checkEqual('note', 'a', 'a'), 'note: a');
    failsWith(() => checkEqual('note', 'a', 'b'), /note: expected "a", got "b"/);
    assert.equal(checkNone('lost', []), 'lost: none');
    failsWith(() => checkNone('lost', [{ id: 3 }]), /lost: \[\{"id":3\}\]/);
    assert.equal(parsePid('4242\n'), 4242);
    failsWith(() => parsePid('0\n'), /not a pid/);
    failsWith(() => parsePid('{"pid": 4}'), /not a pid/);
  });

  it('the final line says the check failed', () => {
    assert.equal(failureLine(new DemoCheckFailed('x')), 'demo: CHECK FAILED: x');
    assert.equal(failureLine(new Error('y')), 'demo: FAILED: y');
  });
});
