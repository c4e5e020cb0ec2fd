// LAZY_PAGES_SHELL, run by /bin/sh as the restore handler runs it (runtime/restore.ts), with small scripts
// in the places of Node.js and the supervisor (sh and a script) and of criu lazy-pages.
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
    // The supervisor's stand-in says it runs, then keeps what reaches it down the pipe.
    supervisor = join(dir, 'supervisor.sh');
    await writeFile(supervisor, 'touch "$RUN.started"; cat > "$RUN.seen"\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Runs the shell with DAEMON as the daemon's argv (RUN in its environment); what the supervisor got. */
  async function run(name: string, daemon: string[]): Promise<string> {
    const shell = await execa(
      '/bin/sh',
      ['-c', LAZY_PAGES_SHELL, 'extmount-lazy-pages', '/bin/sh', supervisor, ...daemon],
      { reject: false, env: { PATH: '/usr/bin:/bin', RUN: join(dir, name) }, timeout: 10_000 },
    );
    assert.equal(shell.exitCode, 0, `${shell.stderr} ${shell.timedOut ? '(timed out)' : ''}`);
    return readFile(join(dir, `${name}.seen`), 'utf8');
  }

  it("runs the daemon beside the supervisor, not after it, and hands it the daemon's exit code", async () => {
    // The daemon ends only once the supervisor runs: a shell that ran them one after the other would hang.
    const seen = await run('beside', ['/bin/sh', '-c', 'while [ ! -e "$RUN.started" ]; do sleep 0.01; done; exit 3']);
    assert.equal(seen, '3\n');
    assert.deepEqual(daemonEnd(seen), { exitCode: 3, signal: null });
  });

  it('tells a daemon killed by a signal', async () => {
    assert.deepEqual(daemonEnd(await run('killed', ['/bin/sh', '-c', 'kill -KILL $$'])), {
      exitCode: null,
      signal: 'SIGKILL',
    });
  });

  it("keeps the daemon's output out of the pipe, and passes its arguments as they are: nothing in them is run or expanded", async () => {
    const out = join(dir, 'argv.out');
    const odd = ['a b', '$(touch x)', '*', '"; exit 9; "', '-o'];
    const seen = await run('argv', [
      '/bin/sh',
      '-c',
      'printf "%s|" "$@" > "$0"; echo noise; echo noise >&2',
      out,
      ...odd,
    ]);
    assert.equal(seen, '0\n');
    assert.equal(await readFile(out, 'utf8'), `${odd.join('|')}|`);
  });
});
