// The handler reads a container's status from runc's own files instead of starting `runc state`
// (src/core/runtime/runc-state-file.ts). Here the real runc of each stack is the judge: in every state a
// container can be in, the files must give what `runc state` gives, without falling back to it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { stateFromRuncFiles } from '../../src/adapters/criu/runc.js';
import { parseRuncState } from '../../src/core/runtime/runc-argv.js';
import { hostSandbox, requireE2E } from '../helpers/e2e.js';
import { makeBundle, runtime } from '../helpers/runc-bundle.js';

test("a container's status from runc's files is runc state's, in every state", async (t) => {
  if (!(await requireE2E(t, ['root']))) return;
  const box = await hostSandbox('extmount-runc-state-');
  const runc = runtime('runc');
  const root = join(box.dir, 'root');
  const id = 'state-probe';
  const compare = async (want: string) => {
    const r = await runc(['--root', root, 'state', id]);
    assert.equal(r.exitCode, 0, String(r.stderr));
    const byRunc = parseRuncState(String(r.stdout), id);
    assert.equal(byRunc.status, want, 'the test bed: runc state');
    const byFiles = await stateFromRuncFiles(join(root, id));
    assert.ok(byFiles, `runc's files of a ${want} container not understood (the handler would start runc state)`);
    assert.equal(byFiles.status, byRunc.status);
    assert.deepEqual(byFiles, byRunc);
  };
  try {
    const bundle = await makeBundle(join(box.dir, 'bundle'), ['sleep', '1000']);
    // The container's stdio must not be a pipe: runc create would not end while the init holds it.
    const log = join(box.dir, 'runc.log');
    const created = await runc(['--root', root, '--log', log, 'create', id], {
      cwd: bundle.dir,
      stdout: 'ignore',
      stderr: 'ignore',
    });
    assert.equal(created.exitCode, 0, await readFile(log, 'utf8').catch(() => ''));
    await compare('created');
    assert.equal((await runc(['--root', root, 'start', id])).exitCode, 0);
    await compare('running');
    assert.equal((await runc(['--root', root, 'pause', id])).exitCode, 0);
    await compare('paused');
    assert.equal((await runc(['--root', root, 'resume', id])).exitCode, 0);
    await compare('running');
    assert.equal((await runc(['--root', root, 'kill', id, 'KILL'])).exitCode, 0);
    for (let i = 0; i < 50 && !String((await runc(['--root', root, 'state', id])).stdout).includes('"stopped"'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    await compare('stopped');
  } finally {
    await runc(['--root', root, 'delete', '--force', id]);
    await box.cleanup();
  }
});
