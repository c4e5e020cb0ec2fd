// LAZY_PAGES_SHELL, run by /bin/sh as the restore handler runs it (runtime/restore.ts), with small scripts
// in the places of Node.js, the supervisor and criu lazy-pages.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { LAZY_PAGES_SHELL, daemonEnd } from '../../../src/core/live/live-request.js';

describe('the lazy-pages shell', () => {
  let dir = '';
  let supervisor = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-lazy-shell-'));
    // The supervisor's stand-in waits for the status file, as lazy-supervisor.ts does, and reports what it read
    // (it finds the file through its environment, as the real one finds it through its job).
    supervisor = join(dir, 'supervisor.sh');
    await writeFile(
      supervisor,
      'status=$STATUS; while [ ! -s "$status" ]; do sleep 0.01; done; cat "$status" > "$status.seen"\n',
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Runs the shell with DAEMON as the daemon's argv; the status file the supervisor saw, and the status. */
  async function run(name: string, daemon: string[]): Promise<{ seen: string; status: string }> {
    const status = join(dir, `${name}.status`);
    // "Node.js" is sh here.
    const shell = await execa(
      '/bin/sh',
      ['-c', LAZY_PAGES_SHELL, 'extmount-lazy-pages', '/bin/sh', supervisor, status, ...daemon],
      {
        reject: false,
        env: { PATH: '/usr/bin:/bin', STATUS: status },
        timeout: 10_000,
      },
    );
    assert.equal(shell.exitCode, 0, shell.stderr);
    // The shell waited for the supervisor: what it saw is there once the shell has ended.
    return { seen: await readFile(`${status}.seen`, 'utf8'), status: await readFile(status, 'utf8') };
  }

  it("hands the daemon's exit code to the supervisor through the status file", async () => {
    const { seen, status } = await run('exit3', ['/bin/sh', '-c', 'exit 3']);
    assert.equal(status, '3\n');
    assert.equal(seen, '3\n');
    assert.deepEqual(daemonEnd(status), { exitCode: 3, signal: null });
  });

  it('tells a daemon killed by a signal', async () => {
    const { status } = await run('killed', ['/bin/sh', '-c', 'kill -KILL $$']);
    assert.deepEqual(daemonEnd(status), { exitCode: null, signal: 'SIGKILL' });
  });

  it("passes the daemon's arguments as they are: nothing in them is run or expanded", async () => {
    const out = join(dir, 'argv.out');
    const odd = ['a b', '$(touch x)', '*', '"; exit 9; "', '-o'];
    const { status } = await run('argv', ['/bin/sh', '-c', 'printf "%s|" "$@" > "$0"', out, ...odd]);
    assert.equal(status, '0\n');
    assert.equal(await readFile(out, 'utf8'), `${odd.join('|')}|`);
  });
});
