// hooks/extmount-runc's fast path against its reference (core/runtime/prepared-checkpoint.ts): a fake runc
// and a fake Node.js record which one the sh ran; the sh must take the prepared path exactly when
// checkpointRoute and preparationValid say so, and otherwise hand the call to the handler.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  checkpointRoute,
  preparationValid,
  preparedSources,
  renderExpected,
  renderStamp,
  type Preparation,
} from '../../src/core/runtime/prepared-checkpoint.js';

const WRAPPER = fileURLToPath(new URL('../../../hooks/extmount-runc', import.meta.url));
const ROOT = '/run/docker/runtime-runc/moby';

let dir: string;
let prep: Preparation;
let prepared: string;
const paths = () => ({
  log: join(dir, 'calls.log'),
  config: join(dir, 'config.json'),
  runc: join(dir, 'fake-runc'),
  node: join(dir, 'fake-node'),
  state: join(dir, 'state'),
  images: join(dir, 'img'),
});
const read = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'extmount-prepared-'));
  const p = paths();
  writeFileSync(
    p.runc,
    `#!/bin/sh\nprintf '%s\\n' "runc $* criu=\${CRIU_CONFIG_FILE:-}" >> '${p.log}'\n[ "\${FAKE_RUNC_EXIT:-0}" = 0 ] || echo 'criu failed: type NOTIFY errno 0' >&2\nexit "\${FAKE_RUNC_EXIT:-0}"\n`,
  );
  writeFileSync(
    p.node,
    `#!/bin/sh\nshift\nprintf '%s\\n' "handler prepare=\${EXTMOUNT_PREPARE:-} status=\${EXTMOUNT_PREPARED_STATUS:-} $*" >> '${p.log}'\n`,
  );
  chmodSync(p.runc, 0o755);
  chmodSync(p.node, 0o755);
  mkdirSync(p.state, { mode: 0o700 });
  mkdirSync(p.images);
  writeFileSync(p.config, `${JSON.stringify({ runc: p.runc, stateDir: p.state }, null, 2)}\n`);
  mkdirSync(join(dir, 'bundle'));
  writeFileSync(join(dir, 'bundle', 'config.json'), '{"ociVersion": "1.0.2"}');
  prep = {
    id: 'c1',
    root: ROOT,
    runc: p.runc,
    configPath: p.config,
    pid: process.pid,
    bundle: join(dir, 'bundle'),
    liveRequest: join(p.state, 'live', 'c1', 'request.json'),
  };
  prepared = join(p.state, 'c1', 'prepared');
  mkdirSync(prepared, { recursive: true, mode: 0o700 });
  writeFileSync(join(prepared, 'criu-dump.conf'), 'external mnt[/prop/sub]:prop-sub\n');
  writeFileSync(join(prepared, 'extmount.yaml'), 'formatVersion: 1\n');
  writeFileSync(join(prepared, 'last-checkpoint.json'), '{"prepared": true}\n');
  writeFileSync(join(prepared, 'expected'), renderExpected(preparedSources(prep).map((s) => read(s)!)));
  writeFileSync(join(prepared, 'stamp'), renderStamp(prep));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function wrapper(argv: string[], env: Record<string, string> = {}) {
  const p = paths();
  const run = spawnSync('sh', [WRAPPER, ...argv], {
    env: { PATH: process.env.PATH!, EXTMOUNT_CONFIG: p.config, EXTMOUNT_NODE: p.node, ...env },
    encoding: 'utf8',
  });
  return { status: run.status, stderr: run.stderr, calls: (read(p.log) ?? '').trim().split('\n').filter(Boolean) };
}

/** What the reference says of this call, on the files as they are now. */
function reference(argv: string[]): boolean {
  const route = checkpointRoute(argv);
  if (route.route !== 'prepared') return false;
  return preparationValid({
    call: { id: route.id, root: route.root, runc: paths().runc, configPath: paths().config },
    stamp: read(join(prepared, 'stamp')),
    expected: read(join(prepared, 'expected')),
    read,
    exists: existsSync,
  });
}

const checkpoint = (...opts: string[]) => [
  '--root',
  ROOT,
  '--log',
  join(paths().images, 'log.json'),
  '--log-format',
  'json',
  'checkpoint',
  '--image-path',
  paths().images,
  '--work-path',
  join(dir, 'work'),
  ...opts,
  'c1',
];

describe('hooks/extmount-runc: a checkpoint prepared on pause', () => {
  const cases: [string, () => string[], boolean][] = [
    ['nothing changed', () => checkpoint('--leave-running'), true],
    [
      'the config edited',
      () => {
        writeFileSync(paths().config, read(paths().config)!.replace('\n}', ',\n  "logLevel": "info"\n}'));
        return checkpoint();
      },
      false,
    ],
    [
      'the bundle config changed',
      () => {
        writeFileSync(join(dir, 'bundle', 'config.json'), '{"ociVersion": "1.0.3"}');
        return checkpoint();
      },
      false,
    ],
    [
      'a bind source as it was on pause no longer (expected differs)',
      () => {
        writeFileSync(join(prepared, 'expected'), read(join(prepared, 'expected'))!.replace(/\n/, ' x\n'));
        return checkpoint();
      },
      false,
    ],
    [
      'a live request left since',
      () => {
        mkdirSync(join(paths().state, 'live', 'c1'), { recursive: true });
        writeFileSync(prep.liveRequest, '{}');
        return checkpoint();
      },
      false,
    ],
    [
      'the stamp emptied (resumed since)',
      () => {
        writeFileSync(join(prepared, 'stamp'), '');
        return checkpoint();
      },
      false,
    ],
    [
      'the stamp cut short',
      () => {
        writeFileSync(join(prepared, 'stamp'), renderStamp(prep).replace('end\n', ''));
        return checkpoint();
      },
      false,
    ],
    ['another runc root', () => checkpoint().map((a) => (a === ROOT ? '/run/runc' : a)), false],
    ['--lazy-pages', () => checkpoint('--lazy-pages'), false],
    ['--page-server', () => checkpoint('--page-server', '127.0.0.1:7'), false],
    ['--status-fd', () => checkpoint('--status-fd', '3'), false],
    ['--leave-running=true', () => checkpoint('--leave-running=true'), false],
    ['--pre-dump', () => checkpoint('--pre-dump'), false],
    ['no --image-path', () => ['--root', ROOT, 'checkpoint', 'c1'], false],
  ];
  for (const [name, setup, fast] of cases) {
    it(`${name}: ${fast ? 'runc with the prepared CRIU config' : 'the handler'}`, () => {
      const argv = setup();
      assert.equal(reference(argv), fast, 'the reference');
      const { status, calls } = wrapper(argv);
      assert.equal(status, 0);
      assert.equal(calls.length, 1, calls.join('\n'));
      if (fast) {
        assert.equal(calls[0], `runc ${argv.join(' ')} criu=${join(prepared, 'criu-dump.conf')}`);
        assert.equal(read(join(paths().images, 'extmount.yaml')), 'formatVersion: 1\n');
        assert.equal(read(join(paths().state, 'c1', 'last-checkpoint.json')), '{"prepared": true}\n');
      } else {
        assert.equal(calls[0], `handler prepare= status= ${argv.join(' ')}`);
        assert.equal(read(join(paths().state, 'c1', 'last-checkpoint.json')), undefined);
      }
    });
  }

  it('a config without "runc": the stamp names "runc", and the sh runs runc from PATH', () => {
    const p = paths();
    writeFileSync(p.config, `${JSON.stringify({ stateDir: p.state }, null, 2)}\n`);
    mkdirSync(join(dir, 'bin'));
    symlinkSync(p.runc, join(dir, 'bin', 'runc'));
    prep = { ...prep, runc: 'runc' };
    writeFileSync(join(prepared, 'expected'), renderExpected(preparedSources(prep).map((s) => read(s)!)));
    writeFileSync(join(prepared, 'stamp'), renderStamp(prep));
    const { calls } = wrapper(checkpoint(), { PATH: `${join(dir, 'bin')}:${process.env.PATH!}` });
    assert.deepEqual(calls, [`runc ${checkpoint().join(' ')} criu=${join(prepared, 'criu-dump.conf')}`]);
  });

  it('without a prepared CRIU config, runc runs without CRIU_CONFIG_FILE', () => {
    rmSync(join(prepared, 'criu-dump.conf'));
    const { calls } = wrapper(checkpoint());
    assert.deepEqual(calls, [`runc ${checkpoint().join(' ')} criu=`]);
  });

  it("a CRIU_CONFIG_FILE of the caller's: the handler (it joins the two)", () => {
    const { calls } = wrapper(checkpoint(), { CRIU_CONFIG_FILE: '/etc/criu/x.conf' });
    assert.deepEqual(calls, [`handler prepare= status= ${checkpoint().join(' ')}`]);
  });

  it("runc failing on the fast path: the handler's post-mortem gets runc's status; runc's stderr is kept for it", () => {
    const { calls, stderr } = wrapper(checkpoint(), { FAKE_RUNC_EXIT: '1' });
    assert.deepEqual(calls, [
      `runc ${checkpoint().join(' ')} criu=${join(prepared, 'criu-dump.conf')}`,
      `handler prepare= status=1 ${checkpoint().join(' ')}`,
    ]);
    assert.equal(stderr, '');
    assert.equal(read(join(prepared, 'runc.stderr')), 'criu failed: type NOTIFY errno 0\n');
  });

  it('a status the caller set is not taken for a post-mortem', () => {
    writeFileSync(join(prepared, 'stamp'), '');
    const { calls } = wrapper(checkpoint(), { EXTMOUNT_PREPARED_STATUS: '1' });
    assert.deepEqual(calls, [`handler prepare= status= ${checkpoint().join(' ')}`]);
  });

  it('pause runs the preparation, then runc pause; resume empties the stamp; delete removes the files', () => {
    const pause = ['--root', ROOT, 'pause', 'c1'];
    assert.deepEqual(wrapper(pause).calls, [
      `handler prepare=1 status= ${pause.join(' ')}`,
      `runc ${pause.join(' ')} criu=`,
    ]);
    wrapper(['--root', ROOT, 'resume', 'c1']);
    assert.equal(read(join(prepared, 'stamp')), '');
    assert.ok(existsSync(prepared));
    wrapper(['--root', ROOT, 'delete', '--force', 'c1']);
    assert.ok(!existsSync(prepared));
  });

  it('no preparation when EXTMOUNT_PREPARE_ON_PAUSE=0', () => {
    const pause = ['pause', 'c1'];
    assert.deepEqual(wrapper(pause, { EXTMOUNT_PREPARE_ON_PAUSE: '0' }).calls, [`runc pause c1 criu=`]);
  });
});
