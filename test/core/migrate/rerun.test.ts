import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import {
  decideRerun,
  movedRefusal,
  preflightRefusals,
  type MovedObserved,
  type RerunObserved,
} from '../../../src/core/migrate/rerun.js';

const sid = 'a'.repeat(64);
const copy = 'c'.repeat(64);
const rollbackCopy = 'd'.repeat(64);
const cp = 'extmount-migrate-20261207t034000z-0123abcd';
const older = 'extmount-migrate-20261201t000000z-00000000';
const always = { Name: 'always' };

/** A container that runs on the source, with nothing of an earlier run around. */
function observed(over: Partial<RerunObserved> = {}): RerunObserved {
  return {
    name: 'web',
    source: 'unix:///run/a.sock',
    target: 'unix:///run/b.sock',
    sourceId: sid,
    state: { running: true, paused: false },
    restartPolicy: always,
    journal: undefined,
    checkpoints: [],
    targetContainers: [],
    takenOver: undefined,
    journalCheckpointLazy: false,
    ...over,
  };
}
const stopped = { running: false, paused: false };
const journal = { checkpoint: cp, restartPolicy: always };

describe('the re-run decision of migrate: modes', () => {
  const cases: Array<{ what: string; o: RerunObserved; mode: string; restartPolicy?: object; stale?: string[] }> = [
    {
      what: 'a running container, nothing left of an earlier run',
      o: observed(),
      mode: 'fresh',
      restartPolicy: always,
      stale: [],
    },
    {
      what: 'running, with checkpoints of earlier runs (and one not ours) left on it',
      o: observed({ checkpoints: [older, 'mine', cp] }),
      mode: 'fresh',
      stale: [older, cp],
    },
    {
      what: 'running, with a never-started copy an earlier rollback left on the target',
      o: observed({ targetContainers: [{ id: copy, running: false }] }),
      mode: 'fresh',
    },
    {
      what: 'running again after a run died between the journal and the checkpoint (policy left at "no"): the journal gives it back',
      o: observed({ journal, restartPolicy: { Name: 'no' } }),
      mode: 'fresh',
      restartPolicy: always,
    },
    {
      what: 'running with a journal and its own policy: that policy wins',
      o: observed({
        journal: { checkpoint: cp, restartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } },
        restartPolicy: { Name: 'unless-stopped' },
      }),
      mode: 'fresh',
      restartPolicy: { Name: 'unless-stopped' },
    },
    {
      what: 'no policy at all',
      o: observed({ restartPolicy: undefined }),
      mode: 'fresh',
      restartPolicy: { Name: 'no' },
    },
    {
      what: 'a retry count is kept',
      o: observed({ restartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 } }),
      mode: 'fresh',
      restartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 },
    },
    {
      what: 'stopped in the checkpoint of an earlier run that died before the target ran it (killed during the copy)',
      o: observed({ state: stopped, journal, checkpoints: [cp], restartPolicy: { Name: 'no' } }),
      mode: 'resume',
      restartPolicy: always,
      stale: [],
    },
    {
      what: 'stopped in its checkpoint; the copy on the target stopped (its engine stopped it during the verification, or the orphan task was ended)',
      o: observed({ state: stopped, journal, checkpoints: [cp], targetContainers: [{ id: copy, running: false }] }),
      mode: 'resume',
    },
    {
      what: 'stopped in its checkpoint; the copy runs on the target (run killed after the start, before the source went)',
      o: observed({
        state: stopped,
        journal,
        checkpoints: [older, cp],
        targetContainers: [
          { id: copy, running: false },
          { id: 'e'.repeat(64), running: true },
        ],
      }),
      mode: 'finish',
      stale: [],
    },
    {
      what: 'finish even when the journal checkpoint is a post-copy one: the copy that has the memory runs',
      o: observed({
        state: stopped,
        journal,
        checkpoints: [cp],
        targetContainers: [{ id: copy, running: true }],
        journalCheckpointLazy: true,
      }),
      mode: 'finish',
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const d = decideRerun(c.o);
      assert.ok(!('refusal' in d), 'refusal' in d ? d.refusal.message : '');
      assert.equal(d.mode, c.mode);
      if (c.restartPolicy) assert.deepEqual(d.restartPolicy, c.restartPolicy);
      if (c.stale) assert.deepEqual(d.staleCheckpoints, c.stale);
    });
  }
});

describe('the re-run decision of migrate: refusals, with their exact messages and exit codes', () => {
  const cases: Array<{ what: string; o: RerunObserved; code: string; exit: number; message: string; hint: string }> = [
    {
      what: 'a rollback into a copy was killed after the copy took over',
      o: observed({ state: stopped, journal, checkpoints: [cp], takenOver: rollbackCopy }),
      code: 'refused',
      exit: 2,
      message:
        'an earlier rollback brought web back on unix:///run/a.sock in the copy dddddddddddd, which runs; the stopped original must not be moved as well',
      hint: 'finish that rollback: docker rm aaaaaaaaaaaa extmount-migrate-aaaaaaaaaaaa; docker rename dddddddddddd web (on unix:///run/a.sock)',
    },
    {
      what: 'paused (a lazy dump left waiting that did not settle, or paused by hand)',
      o: observed({ state: { running: true, paused: true } }),
      code: 'bad-input',
      exit: 2,
      message: 'container web is paused on unix:///run/a.sock',
      hint: 'unpause it first: migrate freezes it itself',
    },
    {
      what: 'runs on both sides',
      o: observed({ targetContainers: [{ id: copy, running: true }] }),
      code: 'refused',
      exit: 2,
      message: 'web runs on unix:///run/a.sock, and a copy migrated from it (cccccccccccc) runs on unix:///run/b.sock',
      hint: 'two copies must not run: remove the one you do not want, then run migrate again',
    },
    {
      what: "post-copy: every page had moved when the copy died (the target's engine killed it): the checkpoint holds no memory",
      o: observed({
        state: stopped,
        journal,
        checkpoints: [cp],
        targetContainers: [{ id: copy, running: false }],
        journalCheckpointLazy: true,
      }),
      code: 'refused',
      exit: 2,
      message: `web is stopped on unix:///run/a.sock with the checkpoint ${cp} of a post-copy migration (--live), which holds no memory: every page had moved to the copy on unix:///run/b.sock, and that copy is not running, so the process it froze is gone`,
      hint: `start it afresh on either engine (docker start web), then remove the checkpoint (docker checkpoint rm web ${cp}) and the stopped copy on unix:///run/b.sock (docker rm cccccccccccc)`,
    },
    {
      what: 'post-copy, the copy gone too',
      o: observed({ state: stopped, journal, checkpoints: [cp], journalCheckpointLazy: true }),
      code: 'refused',
      exit: 2,
      message: `web is stopped on unix:///run/a.sock with the checkpoint ${cp} of a post-copy migration (--live), which holds no memory: every page had moved to the copy on unix:///run/b.sock, and that copy is not running, so the process it froze is gone`,
      hint: `start it afresh on either engine (docker start web), then remove the checkpoint (docker checkpoint rm web ${cp})`,
    },
    {
      what: 'mid-checkpoint: the journal names a checkpoint the engine does not list (yet)',
      o: observed({ state: stopped, journal, checkpoints: [older] }),
      code: 'busy',
      exit: 2,
      message: `web is stopped on unix:///run/a.sock by a migration whose checkpoint ${cp} is not there (yet): another migrate is checkpointing it now, or one died while it did`,
      hint: 'if no migrate of it runs any more, start it (docker start web; its processes start afresh), then migrate again',
    },
    {
      what: 'stopped, no journal, an old checkpoint of ours: say how to bring it back',
      o: observed({ state: stopped, checkpoints: ['mine', older, cp] }),
      code: 'bad-input',
      exit: 2,
      message: 'container web is not running on unix:///run/a.sock',
      hint: `it has the checkpoint ${cp}: bring it back with docker start --checkpoint ${cp} web, then migrate`,
    },
    {
      what: 'stopped, nothing of ours',
      o: observed({ state: stopped, checkpoints: ['mine'] }),
      code: 'bad-input',
      exit: 2,
      message: 'container web is not running on unix:///run/a.sock',
      hint: 'start it first',
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const d = decideRerun(c.o);
      assert.ok('refusal' in d, `decided ${'mode' in d ? d.mode : ''}`);
      assert.ok(d.refusal instanceof ExtmountError);
      assert.equal(d.refusal.code, c.code);
      assert.equal(d.refusal.exitCode, c.exit);
      assert.equal(d.refusal.message, c.message);
      assert.equal(d.refusal.hint, c.hint);
    });
  }

  it('the rollback copy that took over is refused before anything else (even a running copy on the target)', () => {
    const d = decideRerun(observed({ takenOver: rollbackCopy, targetContainers: [{ id: copy, running: true }] }));
    assert.ok('refusal' in d);
    assert.match(d.refusal.message, /earlier rollback/);
  });
});

describe('a re-run after the move: where it went', () => {
  const moved = (over: Partial<MovedObserved> = {}): MovedObserved => ({
    ref: 'web',
    source: 'a',
    target: 'b',
    there: { id: copy, running: true, status: 'running' },
    kept: [],
    lastKeptLazy: false,
    ...over,
  });
  const head = 'no container "web" on a; it was migrated: web (cccccccccccc) is on b';
  const cases: Array<{ what: string; o: MovedObserved; message: string; hint: string | undefined }> = [
    { what: 'it runs there: done', o: moved(), message: head, hint: undefined },
    {
      what: "the target's engine died after the move, before the checkpoint there was removed: continue from it",
      o: moved({ there: { id: copy, running: false, status: 'exited' }, kept: [older, cp] }),
      message: `${head}, but it is not running there (exited) and the migration's checkpoint ${cp} is still there`,
      hint: `continue the moved process from it on that engine: docker -H b start --checkpoint ${cp} web, then docker -H b checkpoint rm web ${cp}`,
    },
    {
      what: 'the same after a post-copy: the checkpoint holds no memory',
      o: moved({ there: { id: copy, running: false, status: 'exited' }, kept: [cp], lastKeptLazy: true }),
      message: `${head}, but it is not running there (exited), and the process went with it: it was moved with post-copy (--live), and the migration's checkpoint ${cp} there holds no memory`,
      hint: `start it afresh there (docker -H b start web), then docker -H b checkpoint rm web ${cp}`,
    },
    {
      what: 'migrate had finished when the engine there was killed: it stopped the copy',
      o: moved({ there: { id: copy, running: false, status: undefined } }),
      message: `${head}, but it is not running there (stopped): the move had finished, and that engine stopped it since`,
      hint: 'start it afresh there: docker -H b start web',
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const cause = new Error('no such container');
      const e = movedRefusal(c.o, cause);
      assert.equal(e.code, 'bad-input');
      assert.equal(e.exitCode, 2);
      assert.equal(e.message, c.message);
      assert.equal(e.hint, c.hint);
      assert.equal(e.cause, cause);
    });
  }
});

describe("preflight's other refusals", () => {
  const unreachable = new ExtmountError('bad-input', 'cannot reach the Docker engine at b (ECONNREFUSED)');
  const cases: Array<{ e: ExtmountError; code: string; message: string; hint?: string }> = [
    {
      e: preflightRefusals.sameEndpoint('a'),
      code: 'usage',
      message: '--from and --to are the same engine (a)',
      hint: 'migrate moves a container to another engine; use checkpoint/restore on one host',
    },
    {
      e: preflightRefusals.sameEngine('a', 'b', sid),
      code: 'usage',
      message: '--from a and --to b reach the same engine (both have container aaaaaaaaaaaa)',
      hint: 'give the address of another engine with --to',
    },
    {
      e: preflightRefusals.targetGoneWhileFrozen(unreachable, { name: 'web', source: 'a', checkpoint: cp }),
      code: 'bad-input',
      message: unreachable.message,
      hint: `web is stopped on a in checkpoint ${cp} from an earlier run: run migrate again once the target answers, or bring it back there with docker start --checkpoint ${cp} web`,
    },
    {
      e: preflightRefusals.notMigratable('web', 'it uses --volumes-from'),
      code: 'refused',
      message: 'cannot migrate web: it uses --volumes-from',
    },
    {
      e: preflightRefusals.orphanTask({
        name: 'web',
        source: 'a',
        target: 'b',
        copyId: copy,
        why: 'its shim does not answer',
      }),
      code: 'refused',
      message:
        'web is frozen on a by an interrupted post-copy migration, and its copy cccccccccccc on b may still run a process its engine does not show (its shim does not answer)',
      hint: `on that host, make sure no task of it runs (ctr -n moby tasks ls; ctr -n moby tasks delete --force ${copy}), remove the copy (docker rm -f cccccccccccc), then run migrate again`,
    },
    {
      e: preflightRefusals.badTargetName('-x'),
      code: 'usage',
      message: '--name "-x": a container name is [a-zA-Z0-9][a-zA-Z0-9_.-]+',
      hint: 'see extmount migrate --help',
    },
    {
      e: preflightRefusals.targetNameTaken('b', 'web'),
      code: 'refused',
      message: 'b already has a container named web',
      hint: 'give the migrated container another name with --name NEW',
    },
    {
      e: preflightRefusals.missingRuntime('web', 'crun', 'b'),
      code: 'refused',
      message: 'web runs under the runtime "crun", which b does not have',
      hint: 'register it there (extmount install-runtime --apply --name crun) and reload dockerd',
    },
    {
      e: preflightRefusals.missingNetwork('net1', 'b'),
      code: 'refused',
      message: 'the network net1 does not exist on b',
      hint: 'create it there first (docker network create net1)',
    },
    {
      e: preflightRefusals.rollbackNameTaken({ source: 'a', copyName: 'web-x', name: 'web' }),
      code: 'refused',
      message:
        'a has a container named web-x, the name a rollback of web needs there (containerd#12141 keeps it from restoring web in place)',
      hint: 'remove or rename that container, then run migrate again',
    },
    {
      e: preflightRefusals.unusedMap({ from: '/x', to: '/y' }, 'web', []),
      code: 'usage',
      message: '--map /x=/y matches no bind of web',
      hint: 'its binds: none',
    },
    {
      e: preflightRefusals.unusedMap({ from: '/x', to: '/y' }, 'web', ['/a', '/b']),
      code: 'usage',
      message: '--map /x=/y matches no bind of web',
      hint: 'its binds: /a, /b',
    },
    {
      e: preflightRefusals.volumeDriver({
        volume: 'v',
        destination: '/data',
        driver: 'local',
        options: { type: 'nfs', o: 'addr=x' },
      }),
      code: 'refused',
      message: 'volume v (/data) uses the driver local with options type, o',
      hint: 'only plain local volumes are copied; recreate it on the target and migrate a bind instead',
    },
    {
      e: preflightRefusals.volumeDriver({ volume: 'v', destination: '/data', driver: 'rexray', options: null }),
      code: 'refused',
      message: 'volume v (/data) uses the driver rexray',
    },
    {
      e: preflightRefusals.volumeExists('v', 'b'),
      code: 'refused',
      message: 'volume v already exists on b',
      hint: 'remove or rename it there: migrate copies the volume and will not overwrite one it did not create',
    },
    {
      e: preflightRefusals.deletedFiles('web', 'vfs'),
      code: 'refused',
      message:
        "web deleted files from its image, and the target's storage driver vfs gives the API no way to delete them",
      hint: 'migrate to an engine with the overlay2 storage driver',
    },
    {
      e: preflightRefusals.bindPathChars('bind /d → /x:y on b'),
      code: 'refused',
      message: 'bind /d → /x:y on b: cannot create a path with ":" or "," through the API',
      hint: 'create it on the target first',
    },
  ];
  for (const c of cases) {
    it(c.message, () => {
      assert.equal(c.e.code, c.code);
      assert.equal(c.e.exitCode, 2, 'preflight refuses before anything is stopped: exit 2');
      assert.equal(c.e.message, c.message);
      if (c.hint !== undefined) assert.equal(c.e.hint, c.hint);
    });
  }
});
