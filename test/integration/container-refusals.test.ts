// extmount checkpoint/restore CONTAINER refuse what cannot work, before anything happens.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { importTestImage, startDaemon, TEST_IMAGE, type Daemon, runDetached } from '../helpers/dockerd.js';
import { missing, requireE2E } from '../helpers/e2e.js';

describe('container checkpoint on a daemon without --experimental', () => {
  let daemon: Daemon | undefined;
  const needs = ['root', 'dockerd'] as const;
  before(async () => {
    if (await missing(needs)) return;
    daemon = await startDaemon('plain', { experimental: false });
    await importTestImage(daemon);
    await runDetached(daemon, ['--name', 'c1', TEST_IMAGE, 'sleep', '1000']);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('checkpoint exits 2, says what to do, and leaves the container running', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    assertOneLineError(
      await runCli(['--host', daemon!.host, 'checkpoint', 'c1']),
      2,
      /is not in experimental mode, which checkpoints need; start dockerd with --experimental/,
    );
    assert.equal((await daemon!.docker.getContainer('c1').inspect()).State.Running, true);
  });

  it('restore exits 2 too', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    assertOneLineError(await runCli(['--host', daemon!.host, 'restore', 'c1']), 2, /not in experimental mode/);
  });

  it('an unknown container exits 2 before anything else', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    assertOneLineError(await runCli(['--host', daemon!.host, 'checkpoint', 'nope']), 2, /no container "nope"/);
  });
});
