import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeCriuLog, criuFailureError, firstCause } from '../../../src/core/checkpoint/criu-log.js';
import { FIXTURES } from '../../helpers/fixtures.js';

// Lines from CRIU 4.1.1 logs seen on this machine (ENVIRONMENT.md and the seed test).
const UNREACHABLE = `(00.012) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
(00.034) Error (criu/mount.c:1085): mnt: Mount 86 ./prop/sub (master_id: 5 shared_id: 0) has unreachable sharing. Try --enable-external-masters.
(00.035) Error (criu/cr-dump.c:2111): Dumping FAILED.
`;
const NO_ROOT = `Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
Error (criu/mount.c:753): mnt: 68:./bar doesn't have a proper root mount
Error (criu/cr-dump.c:2111): Dumping FAILED.
`;

describe('analyzeCriuLog', () => {
  it('keeps the Error lines, drops the known noise, names the mount and the fix', () => {
    const failure = analyzeCriuLog(UNREACHABLE);
    assert.equal(failure.errorLines.length, 2);
    assert.deepEqual(failure.mounts, ['86 ./prop/sub']);
    assert.match(failure.fixes[0]!, /--enable-external-masters/);
    assert.deepEqual(analyzeCriuLog(NO_ROOT).mounts, ['68 ./bar']);
  });
  it('builds one actionable message', () => {
    const err = criuFailureError('criu dump of pid 42', NO_ROOT, '/x/dump.log');
    assert.equal(err.exitCode, 1);
    assert.equal(
      err.message,
      "criu dump of pid 42 failed: mnt: 68:./bar doesn't have a proper root mount (mount 68 ./bar)",
    );
    assert.match(err.hint!, /--external mnt\[MOUNTPOINT\]:KEY.*full log: \/x\/dump.log/);
    assert.equal(err.details.length, 2);
  });
  it('copes with a log without Error lines', () => {
    assert.match(criuFailureError('criu restore', 'nothing here', undefined).message, /no Error line in the log/);
  });
});

describe('criuFailureError: the first cause, not a later consequence', () => {
  it('a real restore log (issue 27): a restored task\'s "1: Error" line, before Restoring FAILED and cgroupd', () => {
    const log = readFileSync(join(FIXTURES, 'criu-logs/restore-symlinked-bind.log'), 'utf8');
    const err = criuFailureError('restore', log, '/kept/restore.log');
    assert.match(
      err.message,
      /^restore failed: mnt-v2: Can't stat mountpoint \/tmp\/\.criu\.mntns\.\w+\/mnt-\d+\/proc: No such file or directory$/,
    );
    assert.doesNotMatch(err.message, /cgroupd/);
    assert.equal(analyzeCriuLog(log).errorLines.length, 3);
  });
  it('by timestamp where processes interleave; consequences only when nothing else is there', () => {
    assert.equal(
      firstCause(['(00.300) Error (a.c:1): late', '(00.100)      7: Error (b.c:2): early']),
      '(00.100)      7: Error (b.c:2): early',
    );
    assert.equal(
      firstCause(['(00.100) Error (c.c:1): cg: cgroupd: recv req error: x', '(00.200) Error (d.c:2): the cause']),
      '(00.200) Error (d.c:2): the cause',
    );
    assert.equal(
      firstCause(['(00.100) Error (c.c:1): Restoring FAILED.']),
      '(00.100) Error (c.c:1): Restoring FAILED.',
    );
    assert.equal(firstCause(['Error (x.c:1): first', 'Error (y.c:2): second']), 'Error (x.c:1): first');
    assert.equal(firstCause([]), undefined);
  });
});
