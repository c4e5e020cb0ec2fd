// runc's state.json as runc 1.1.5 (Debian 12) and 1.3.6 (sid) wrote it, under cgroup v1 and v2 (a
// cgroup2 mounted at /sys/fs/cgroup in a private mount namespace), for `sleep 1000` in a busybox bundle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  freezerFiles,
  isSameLiveProcess,
  parseRuncStateFile,
  statusOf,
} from '../../../src/core/runtime/runc-state-file.js';
import { fixture } from '../../helpers/fixtures.js';

const captured = {
  'runc-1.1.5-cgroup-v1': { pid: 3115, startTime: 5659907, freezer: '/sys/fs/cgroup/freezer/capstate/freezer.state' },
  'runc-1.1.5-cgroup-v2': { pid: 3727, startTime: 5669599, freezer: '/sys/fs/cgroup/capv2/cgroup.freeze' },
  'runc-1.3.6-cgroup-v1': { pid: 45, startTime: 5670639, freezer: '/sys/fs/cgroup/freezer/c1/freezer.state' },
  'runc-1.3.6-cgroup-v2': { pid: 113, startTime: 5670791, freezer: '/sys/fs/cgroup/c3/cgroup.freeze' },
};
const v1 = () => parseRuncStateFile(fixture('runc-state/runc-1.1.5-cgroup-v1.state.json'))!;
const v2 = () => parseRuncStateFile(fixture('runc-state/runc-1.1.5-cgroup-v2.state.json'))!;
// /proc/3115/stat of the v1 capture's init, read while it ran.
const stat = () => fixture('runc-state/sleep.stat');

describe('parseRuncStateFile', () => {
  for (const [name, want] of Object.entries(captured)) {
    it(`reads the init, its start, the bundle and the freezer of ${name}`, () => {
      const file = parseRuncStateFile(fixture(`runc-state/${name}.state.json`));
      assert.ok(file);
      assert.equal(file.pid, want.pid);
      assert.equal(file.startTime, want.startTime);
      assert.equal(file.bundle, '/tmp/cap-bundle');
      assert.equal(freezerFiles(file.freezer).state, want.freezer);
    });
  }

  it('takes the v1 freezer on a hybrid host, which lists the unified path too', () => {
    const doc = JSON.parse(fixture('runc-state/runc-1.1.5-cgroup-v1.state.json')) as {
      cgroup_paths: Record<string, string>;
    };
    assert.equal(doc.cgroup_paths[''], '/sys/fs/cgroup/unified/capstate');
    assert.equal(v1().freezer.cgroup, 'v1');
  });

  it("takes runc's own bundle label, the last: an annotation named bundle comes before it", () => {
    const doc = JSON.parse(fixture('runc-state/runc-1.3.6-cgroup-v1.state.json')) as { config: { labels: string[] } };
    doc.config.labels = ['bundle=/elsewhere', 'other=1', ...doc.config.labels];
    assert.equal(parseRuncStateFile(JSON.stringify(doc))?.bundle, '/tmp/cap-bundle');
  });

  it('names the files that tell a freeze apart', () => {
    assert.deepEqual(freezerFiles(v1().freezer), {
      state: '/sys/fs/cgroup/freezer/capstate/freezer.state',
      detail: '/sys/fs/cgroup/freezer/capstate/freezer.self_freezing',
    });
    assert.deepEqual(freezerFiles(v2().freezer), {
      state: '/sys/fs/cgroup/capv2/cgroup.freeze',
      detail: '/sys/fs/cgroup/capv2/cgroup.events',
    });
  });

  it('gives up (undefined) on anything it does not recognise', () => {
    interface Doc {
      init_process_pid?: unknown;
      init_process_start?: unknown;
      config: { labels?: unknown };
      cgroup_paths: Record<string, string>;
    }
    const doc = JSON.parse(fixture('runc-state/runc-1.3.6-cgroup-v2.state.json')) as Doc;
    const edited = (edit: (d: Doc) => void) => {
      const copy = structuredClone(doc);
      edit(copy);
      return parseRuncStateFile(JSON.stringify(copy));
    };
    assert.ok(edited(() => undefined));
    assert.equal(parseRuncStateFile('{"init_process_pid": 1'), undefined);
    assert.equal(parseRuncStateFile('null'), undefined);
    assert.equal(parseRuncStateFile('[]'), undefined);
    assert.equal(
      edited((d) => delete d.init_process_pid),
      undefined,
    );
    assert.equal(
      edited((d) => (d.init_process_pid = 0)),
      undefined,
    );
    assert.equal(
      edited((d) => (d.init_process_start = '5670791')),
      undefined,
    );
    assert.equal(
      edited((d) => (d.config.labels = ['bundle=relative/path'])),
      undefined,
    );
    assert.equal(
      edited((d) => delete d.config.labels),
      undefined,
    );
    assert.equal(
      edited((d) => (d.cgroup_paths = {})),
      undefined,
    );
    // A freezer outside the cgroup mounts is not read.
    assert.equal(
      edited((d) => (d.cgroup_paths = { '': '/etc' })),
      undefined,
    );
    assert.equal(
      edited((d) => (d.cgroup_paths = { '': '/sys/fs/cgroup/../../etc' })),
      undefined,
    );
  });
});

describe('isSameLiveProcess', () => {
  it('matches the init by its start time, and refuses a zombie or a reused pid', () => {
    assert.equal(isSameLiveProcess(stat(), 5659907), true);
    assert.equal(isSameLiveProcess(stat(), 5659908), false);
    assert.equal(isSameLiveProcess(stat().replace(') S ', ') Z '), 5659907), false);
    assert.equal(isSameLiveProcess(stat().replace(') S ', ') X '), 5659907), false);
  });

  it('finds the fields after the last ")" of a comm that holds spaces and parentheses', () => {
    assert.equal(isSameLiveProcess(stat().replace('(sleep)', '(a) S 1 (b)'), 5659907), true);
  });
});

describe('statusOf', () => {
  const running = { freezer: 'THAWED\n', freezerDetail: '0\n', stat: stat(), execFifo: false };
  const frozen = { ...running, freezer: 'FROZEN\n', freezerDetail: '1\n' };

  it('says what runc state says, in runc order: paused, stopped, created, running', () => {
    assert.deepEqual(statusOf(v1(), running), { pid: 3115, status: 'running', bundle: '/tmp/cap-bundle' });
    assert.equal(statusOf(v1(), frozen)?.status, 'paused');
    // runc asks the freezer first: a frozen cgroup is paused whatever its init.
    assert.equal(statusOf(v1(), { ...frozen, stat: undefined })?.status, 'paused');
    // runc reports a stopped container with pid 0.
    assert.deepEqual(statusOf(v1(), { ...running, stat: undefined }), {
      pid: 0,
      status: 'stopped',
      bundle: '/tmp/cap-bundle',
    });
    assert.equal(statusOf(v1(), { ...running, execFifo: true })?.status, 'created');
    assert.equal(statusOf(v1(), { ...running, stat: undefined, execFifo: true })?.status, 'stopped');
  });

  it('under cgroup v1, a freeze of an ancestor is not a pause; a kernel without self_freezing is', () => {
    assert.equal(statusOf(v1(), { ...frozen, freezerDetail: '0\n' })?.status, 'running');
    assert.equal(statusOf(v1(), { ...frozen, freezerDetail: '0\n', execFifo: true })?.status, 'created');
    assert.equal(statusOf(v1(), { ...frozen, freezerDetail: undefined })?.status, 'paused');
    assert.equal(statusOf(v1(), { ...frozen, freezerDetail: '2\n' }), undefined);
  });

  it('under cgroup v2, paused once cgroup.events says frozen', () => {
    const init = { stat: stat().replace(' 5659907 ', ' 5669599 '), execFifo: false };
    const events = (n: number) => `populated 1\nfrozen ${n}\n`;
    assert.equal(statusOf(v2(), { ...init, freezer: '0\n', freezerDetail: events(0) })?.status, 'running');
    assert.equal(statusOf(v2(), { ...init, freezer: '1\n', freezerDetail: events(1) })?.status, 'paused');
    // Asked to freeze, not frozen yet: runc waits for it, so runc answers.
    assert.equal(statusOf(v2(), { ...init, freezer: '1\n', freezerDetail: events(0) }), undefined);
    assert.equal(statusOf(v2(), { ...init, freezer: '1\n', freezerDetail: undefined }), undefined);
    // v1 words under v2, and the other way round, are not understood.
    assert.equal(statusOf(v2(), { ...init, freezer: 'FROZEN\n', freezerDetail: events(1) }), undefined);
    assert.equal(statusOf(v1(), { ...running, freezer: '1\n' }), undefined);
  });

  it('leaves FREEZING (v1, on its way) to runc, which waits for it', () => {
    assert.equal(statusOf(v1(), { ...running, freezer: 'FREEZING\n' }), undefined);
  });
});
