import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  copyNotRemovedRefusal,
  liveCopyLeftRefusal,
  liveMemoryMovedError,
  liveRollbackEnd,
  mustEndCopyTask,
  mustInspectCopy,
  restoreFailedError,
  rolledBackError,
  unseenTaskRefusal,
  type RollbackFacts,
} from '../../../src/core/migrate/rollback-decision.js';
import { LABEL_FROM } from '../../../src/core/migrate/migrate-config.js';

const sid = 'a'.repeat(64);
const copy = 'c'.repeat(64);
const cp = 'extmount-migrate-20261207t034000z-0123abcd';
const cause = new Error('what failed');

function facts(over: Partial<RollbackFacts> = {}): RollbackFacts {
  return {
    name: 'web',
    source: 'a',
    target: 'b',
    checkpoint: cp,
    cause: 'it failed',
    failure: 'other',
    copyId: copy,
    startIssued: false,
    startUnanswered: false,
    ...over,
  };
}

describe('rollback: is a copy on the target running? (never two)', () => {
  const cases: Array<{
    what: string;
    f: RollbackFacts;
    shown: boolean | undefined;
    inspect: boolean;
    endTask: boolean;
  }> = [
    {
      what: 'failed before the copy was created',
      f: facts({ copyId: undefined }),
      shown: undefined,
      inspect: false,
      endTask: false,
    },
    { what: 'failed during the copy, before the start', f: facts(), shown: undefined, inspect: false, endTask: false },
    {
      what: 'the start was answered with an error and the engine shows the copy stopped',
      f: facts({ startIssued: true }),
      shown: false,
      inspect: true,
      endTask: true,
    },
    {
      what: 'the start was answered and the copy is shown running (verification failed): removed by its engine',
      f: facts({ startIssued: true }),
      shown: true,
      inspect: true,
      endTask: false,
    },
    {
      what: 'the engine did not answer the inspect either',
      f: facts({ startIssued: true }),
      shown: undefined,
      inspect: true,
      endTask: false,
    },
    {
      what: 'the start got no answer (the engine died in it, moby#40613)',
      f: facts({ startIssued: true, startUnanswered: true }),
      shown: undefined,
      inspect: false,
      endTask: true,
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      assert.equal(mustInspectCopy(c.f), c.inspect);
      assert.equal(mustEndCopyTask(c.f, c.shown), c.endTask);
    });
  }

  it('a start that got no answer and whose task cannot be seen from here (the orphan task): the source stays stopped', () => {
    const f = facts({ startIssued: true, startUnanswered: true });
    const e = unseenTaskRefusal(f, 'unknown', cause);
    assert.ok(e);
    assert.equal(e.code, 'docker-failed');
    assert.equal(e.exitCode, 1);
    assert.equal(
      e.message,
      `migration of web failed while it was being started on b (it failed): whether that copy runs cannot be told from here (its engine may come back without it, moby#40613); so that it never runs twice, web stays stopped on a with its checkpoint ${cp}`,
    );
    assert.equal(
      e.hint,
      'on b, make sure no task of cccccccccccc runs (ctr -n moby tasks ls), remove that copy (docker rm -f cccccccccccc), then run migrate again',
    );
    assert.equal(e.cause, cause);
    assert.equal(unseenTaskRefusal(f, 'ended', cause), undefined, 'its processes were ended here');
    assert.equal(unseenTaskRefusal(f, 'none', cause), undefined);
    assert.equal(
      unseenTaskRefusal(facts({ startIssued: true }), 'unknown', cause),
      undefined,
      'an answered start whose copy is shown stopped',
    );
  });

  it('a copy that could not be removed keeps the source stopped unless it never started or is shown stopped', () => {
    const started = facts({ startIssued: true });
    for (const running of [true, undefined]) {
      const e = copyNotRemovedRefusal(started, running, cause);
      assert.ok(e, String(running));
      assert.equal(e.exitCode, 1);
      assert.equal(
        e.message,
        `migration of web failed after it was started on b (it failed), and that copy could not be removed; so that it never runs twice, web stays stopped on a with its checkpoint ${cp}`,
      );
      assert.match(e.hint!, /^run the same migrate command again once the target answers/);
    }
    assert.equal(copyNotRemovedRefusal(started, false, cause), undefined);
    assert.equal(
      copyNotRemovedRefusal(facts(), true, cause),
      undefined,
      'never started: left, and the source comes back',
    );
  });
});

describe('rollback: the source back, and what the error says', () => {
  it('restored in place, or the restore failed too', () => {
    assert.equal(
      restoreFailedError(facts(), 'in-place', 'no such file', cause).hint,
      `bring it back with docker start --checkpoint ${cp} web on a, or run migrate again`,
    );
    const copyRoute = restoreFailedError(facts(), 'network-disabled-copy', 'no such file', cause);
    assert.equal(copyRoute.code, 'restore-failed');
    assert.equal(
      copyRoute.message,
      `migration of web failed (it failed); restoring it on a from checkpoint ${cp} failed too (no such file): it is stopped there and keeps the checkpoint`,
    );
    assert.match(copyRoute.hint!, /containerd#12141/);
  });

  const cases: Array<{
    what: string;
    f: RollbackFacts;
    o: { restoredId: string; problem?: string; copyLeft: boolean };
    message: string;
    criuHint: boolean;
  }> = [
    {
      what: 'in place',
      f: facts(),
      o: { restoredId: sid, copyLeft: false },
      message: `migration of web to b failed: it failed; rolled back: it runs again on a, restored from checkpoint ${cp}`,
      criuHint: false,
    },
    {
      what: 'CRIU failed on the target: say what most often makes a restore elsewhere fail',
      f: facts({ failure: 'criu-failed' }),
      o: { restoredId: sid, copyLeft: true },
      message: `migration of web to b failed: it failed; rolled back: it runs again on a, restored from checkpoint ${cp}; a never-started copy is left on b (label ${LABEL_FROM}), the next migrate removes it`,
      criuHint: true,
    },
    {
      what: 'the engine went away: not a CRIU failure',
      f: facts({ failure: 'unreachable' }),
      o: { restoredId: sid, copyLeft: false },
      message: `migration of web to b failed: it failed; rolled back: it runs again on a, restored from checkpoint ${cp}`,
      criuHint: false,
    },
    {
      what: 'in a NetworkDisabled copy (containerd#12141)',
      f: facts(),
      o: { restoredId: 'd'.repeat(64), copyLeft: false },
      message: `migration of web to b failed: it failed; rolled back: it runs again on a, restored from checkpoint ${cp} in a NetworkDisabled copy (dddddddddddd; containerd#12141 keeps a from restoring it in place), now named web`,
      criuHint: false,
    },
    {
      what: 'in a NetworkDisabled copy that could not take the name',
      f: facts(),
      o: { restoredId: 'd'.repeat(64), problem: 'renaming it failed', copyLeft: false },
      message: `migration of web to b failed: it failed; rolled back: it runs again on a, restored from checkpoint ${cp} in a NetworkDisabled copy (dddddddddddd; containerd#12141 keeps a from restoring it in place), but renaming it failed`,
      criuHint: false,
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const e = rolledBackError(
        c.f,
        { sourceId: sid, restoredId: c.o.restoredId, problem: c.o.problem, copyLeft: c.o.copyLeft },
        cause,
      );
      assert.equal(e.code, 'docker-failed');
      assert.equal(e.message, c.message);
      assert.equal(/^CRIU reopens by path/.test(e.hint!), c.criuHint, e.hint);
    });
  }
});

describe('rollback of a post-copy', () => {
  it('after every page moved (the source was told to end): the copy holds the only memory and stays', () => {
    const e = liveMemoryMovedError(facts({ startIssued: true }), cause);
    assert.equal(e.code, 'restore-failed');
    assert.equal(
      e.message,
      'migration of web failed after every page of its memory had moved to b (it failed): the copy there holds the only memory, so it is left as it is (cccccccccccc); the stopped source on a is kept',
    );
  });

  it('a started copy that could not be removed: the source stays frozen (hold) for the re-run', () => {
    const e = liveCopyLeftRefusal(facts({ startIssued: true }), true, cause);
    assert.ok(e);
    assert.equal(
      e.message,
      'post-copy migration of web failed after it was started on b (it failed), and that copy could not be removed; so that it never runs twice, web stays frozen (paused) on a, its memory whole',
    );
    assert.equal(liveCopyLeftRefusal(facts({ startIssued: true }), false, cause), undefined);
    assert.equal(liveCopyLeftRefusal(facts(), true, cause), undefined, 'never started: it holds no memory');
  });

  const ends: Array<{
    what: string;
    source: { running: boolean; paused: boolean } | undefined;
    dump: 'done' | 'failed' | 'pending';
    copyLeft: boolean;
    resumed: boolean;
    message: string;
  }> = [
    {
      what: 'the lazy dump was given up and the source resumed',
      source: { running: true, paused: false },
      dump: 'failed',
      copyLeft: false,
      resumed: true,
      message:
        'post-copy migration of web to b failed: it failed; rolled back: it runs again on a, where its memory never left (the lazy checkpoint was given up)',
    },
    {
      what: 'the dump call still pending (a lazy dump left waiting), the source runs',
      source: { running: true, paused: false },
      dump: 'pending',
      copyLeft: true,
      resumed: true,
      message:
        'post-copy migration of web to b failed: it failed; rolled back: it runs again on a, where its memory never left (the lazy checkpoint was given up); the copy cccccccccccc on b could not be removed',
    },
    {
      what: 'the dump completed: the memory went',
      source: { running: true, paused: false },
      dump: 'done',
      copyLeft: false,
      resumed: false,
      message:
        'post-copy migration of web to b failed (it failed) before every page had moved, and web is not running on a (stopped): its memory is lost; the copy on b was removed',
    },
    {
      what: 'still paused',
      source: { running: true, paused: true },
      dump: 'failed',
      copyLeft: true,
      resumed: false,
      message:
        'post-copy migration of web to b failed (it failed) before every page had moved, and web is not running on a (paused): its memory is lost; the copy on b was NOT removed',
    },
    {
      what: 'the source is gone',
      source: undefined,
      dump: 'failed',
      copyLeft: false,
      resumed: false,
      message:
        'post-copy migration of web to b failed (it failed) before every page had moved, and web is not running on a (gone): its memory is lost; the copy on b was removed',
    },
  ];
  for (const c of ends) {
    it(c.what, () => {
      const end = liveRollbackEnd(
        facts({ startIssued: true }),
        { source: c.source, dump: c.dump, copyLeft: c.copyLeft },
        cause,
      );
      assert.equal(end.resumed, c.resumed);
      assert.equal(end.error.message, c.message);
      assert.equal(end.error.code, c.resumed ? 'docker-failed' : 'restore-failed');
    });
  }
});
