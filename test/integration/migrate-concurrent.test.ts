// Two `extmount migrate` of one container started together (issue 27): one moves it, the other is refused at
// once (exit 2, one line naming the run that holds it); one copy runs, on the target, the same process, and
// nothing of either run is left. EXTMOUNT_MIGRATE_RACE_ROUNDS sets the rounds (default 10).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { MigrateBed, assertContinues, counterNow } from '../helpers/migrate-bed.js';
import { missing, requireE2E } from '../helpers/e2e.js';

const needs = ['root', 'dockerd', 'criu'] as const;
const ROUNDS = Number(process.env.EXTMOUNT_MIGRATE_RACE_ROUNDS ?? 10);

describe('migrate: one run per container', () => {
  const bed = new MigrateBed();

  before(async () => {
    if (await missing(needs)) return;
    await bed.start('extmount-race-');
  });
  after(() => bed.stop());

  it(`two migrates started together, ${ROUNDS} times: one completes, the other is refused at once`, async (t) => {
    if (!(await requireE2E(t, needs))) return;
    for (let round = 0; round < ROUNDS; round++) {
      const name = `race${round}`;
      const { src, dst } = await bed.startCounter(name);
      const before = await counterNow(src);
      const args = bed.migrateArgs(name, src, dst);
      const timed = async () => {
        const started = Date.now();
        const r = await runCli(args);
        return { ...r, ms: Date.now() - started };
      };
      const results = await Promise.all([timed(), timed()]);
      const won = results.filter((r) => r.exitCode === 0);
      const lost = results.filter((r) => r.exitCode !== 0);
      assert.equal(
        won.length,
        1,
        `round ${round}: ${results.map((r) => `exit ${r.exitCode}: ${r.stderr}`).join(' | ')}`,
      );
      assertOneLineError(
        lost[0]!,
        2,
        new RegExp(
          `^extmount: another extmount migrate of ${name} \\([0-9a-f]{12}\\) is running on this host \\(pid \\d+, since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\); wait for it to finish`,
        ),
      );
      // At once: before the winner was done, and without a look at the target.
      assert.ok(
        lost[0]!.ms < won[0]!.ms,
        `round ${round}: refused after ${lost[0]!.ms} ms, the move took ${won[0]!.ms} ms`,
      );
      assert.deepEqual(await bed.whereRunning(name), ['b'], `round ${round}`);
      assert.equal(await bed.state(bed.a, name), undefined, `round ${round}: still on a`);
      await bed.assertNothingLeft(name);
      await assertContinues(dst, before, `${name} on b`);
      t.diagnostic(`round ${round}: moved in ${won[0]!.ms} ms, the other refused after ${lost[0]!.ms} ms`);
      // Keep b light for the next round.
      await bed.b.cli(['rm', '-f', name]);
    }
  });

  it('a container stopped by a migration whose checkpoint is not there yet is named so, not "not running; start it first"', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const name = 'midcp';
    const { src, dst, id } = await bed.startCounter(name);
    // What another host's migrate leaves between its journal and the end of its dump: the journal names a
    // checkpoint the engine does not list (yet), and the container has stopped.
    const checkpoint = 'extmount-migrate-20261207t030000z-0123abcd';
    const journal = await bed.a.docker.createContainer({
      name: `extmount-migrate-${id.slice(0, 12)}`,
      Image: (await bed.a.docker.getContainer(id).inspect()).Image,
      Entrypoint: ['/never'],
      Cmd: [],
      Labels: {
        'extmount.migrate.journal': id,
        'extmount.migrate.checkpoint': checkpoint,
        'extmount.migrate.restart-policy': '{"Name":"no"}',
        'extmount.migrate.to': bed.b.host,
      },
      NetworkDisabled: true,
      HostConfig: { NetworkMode: 'none' },
    });
    await bed.a.cli(['update', '--restart', 'no', name]);
    await bed.a.cli(['stop', '-t', '1', name]);
    const r = await runCli(bed.migrateArgs(name, src, dst));
    assertOneLineError(
      r,
      2,
      new RegExp(
        `^extmount: ${name} is stopped on \\S+ by a migration whose checkpoint ${checkpoint} is not there \\(yet\\): another migrate is checkpointing it now, or one died while it did; if no migrate of it runs any more, start it`,
      ),
    );
    // Nothing was touched: the journal and the stopped container stay, nothing on b.
    assert.equal((await journal.inspect()).State.Status, 'created');
    assert.deepEqual(await bed.whereRunning(name), []);
    assert.deepEqual(
      await bed.b.docker.listContainers({ all: true, filters: { label: [`extmount.migrate.from=${id}`] } }),
      [],
    );
    await journal.remove({ force: true });
    await bed.a.cli(['rm', '-f', name]);
  });
});
