import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeCriuLog, criuFailureError } from '../../../src/core/checkpoint/criu-log.js';

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
    assert.equal(err.message, "criu dump of pid 42 failed: mnt: 68:./bar doesn't have a proper root mount (mount 68 ./bar)");
    assert.match(err.hint!, /--external mnt\[MOUNTPOINT\]:KEY.*full log: \/x\/dump.log/);
    assert.equal(err.details.length, 2);
  });
  it('copes with a log without Error lines', () => {
    assert.match(criuFailureError('criu restore', 'nothing here', undefined).message, /no Error line in the log/);
  });
});
