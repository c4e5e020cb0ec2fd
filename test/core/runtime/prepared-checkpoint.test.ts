import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkpointRoute,
  preparationFits,
  preparationRefusal,
  preparationValid,
  preparedSources,
  renderExpected,
  renderStamp,
  rootAsGiven,
  type CheckpointObservation,
  type PauseFacts,
  type Preparation,
} from '../../../src/core/runtime/prepared-checkpoint.js';
import { parseRuncArgv } from '../../../src/core/runtime/runc-argv.js';

const ROOT = '/run/docker/runtime-runc/moby';
const pauseFacts = (argv: string[], over: Partial<PauseFacts> = {}): PauseFacts => ({
  invocation: parseRuncArgv(argv),
  runc: '/usr/sbin/runc',
  inheritedCriuConfig: undefined,
  configPath: '/etc/extmount/config.json',
  configPresent: true,
  liveRequestPending: false,
  ...over,
});
const dockerPause = ['--root', ROOT, '--log', '/b/log.json', '--log-format', 'json', 'pause', 'c1'];

describe('preparationRefusal', () => {
  const table: [string, PauseFacts, RegExp | undefined][] = [
    ["containerd's pause", pauseFacts(dockerPause), undefined],
    ['a pause without globals', pauseFacts(['pause', 'c1']), undefined],
    ['another verb', pauseFacts(['--root', ROOT, 'resume', 'c1']), /plain pause/],
    ['help', pauseFacts(['pause', '--help']), /plain pause/],
    ['no ID', pauseFacts(['pause']), /plain pause/],
    ['--root=… (the sh reads it otherwise)', pauseFacts([`--root=${ROOT}`, 'pause', 'c1']), /global options/],
    ['--criu', pauseFacts(['--criu', '/opt/criu', 'pause', 'c1']), /global options/],
    ['crun', pauseFacts(dockerPause, { runc: '/usr/bin/crun' }), /crun/],
    ['an inherited CRIU config', pauseFacts(dockerPause, { inheritedCriuConfig: '/etc/criu/x.conf' }), /CRIU_CONFIG/],
    ['no config where the sh reads it', pauseFacts(dockerPause, { configPresent: false }), /no config/],
    ['a live request pending', pauseFacts(dockerPause, { liveRequestPending: true }), /post-copy/],
    ['a runc path with a newline', pauseFacts(dockerPause, { runc: '/usr/sbin/r\nunc' }), /stamp/],
  ];
  for (const [name, facts, refused] of table) {
    it(`${name}: ${refused ? 'refused' : 'prepared'}`, () => {
      const why = preparationRefusal(facts);
      if (refused) assert.match(why ?? '', refused);
      else assert.equal(why, undefined);
    });
  }
});

describe('rootAsGiven', () => {
  it('reads --root as the sh does, and refuses what the sh reads otherwise', () => {
    assert.equal(rootAsGiven(['--root', ROOT, '--log', 'l', '--log-format', 'json']), ROOT);
    assert.equal(rootAsGiven(['-root', '/r', '--debug', '--systemd-cgroup']), '/r');
    assert.equal(rootAsGiven([]), '');
    assert.equal(rootAsGiven(['--root=/r']), null);
    assert.equal(rootAsGiven(['--rootless', 'true']), null);
  });
});

const shim = (...opts: string[]) => [
  '--root',
  ROOT,
  '--log',
  '/b/log.json',
  '--log-format',
  'json',
  'checkpoint',
  '--image-path',
  '/img',
  '--work-path',
  '/work',
  ...opts,
  'c1',
];

describe('checkpointRoute', () => {
  const table: [string, string[], boolean][] = [
    ["containerd's shim", shim(), true],
    ['--leave-running', shim('--leave-running'), true],
    ['shim options', shim('--tcp-established', '--ext-unix-sk', '-file-locks', '--empty-ns', 'network'), true],
    ['without --root', ['checkpoint', '--image-path', '/img', 'c1'], true],
    ['--lazy-pages', shim('--lazy-pages'), false],
    ['--page-server', shim('--page-server', '127.0.0.1:1'), false],
    ['--status-fd', shim('--status-fd', '3'), false],
    ['--pre-dump', shim('--pre-dump'), false],
    ['--parent-path', shim('--parent-path', '../p'), false],
    ['--leave-running=true', shim('--leave-running=true'), false],
    ['--help', shim('--help'), false],
    ['-h', ['checkpoint', '-h'], false],
    ['no image path (runc: $PWD/checkpoint)', ['checkpoint', 'c1'], false],
    ['a relative image path', ['checkpoint', '--image-path', 'img', 'c1'], false],
    ['two IDs', shim('c2'), false],
    ['--', ['checkpoint', '--image-path', '/img', '--', 'c1'], false],
    ['--criu', ['--criu', '/c', 'checkpoint', '--image-path', '/img', 'c1'], false],
    ['a bad ID', ['checkpoint', '--image-path', '/img', 'c/1'], false],
    ['a flag without its value', ['checkpoint', 'c1', '--image-path'], false],
    ['restore', ['restore', '--image-path', '/img', 'c1'], false],
  ];
  for (const [name, argv, fast] of table) {
    it(`${name}: ${fast ? 'prepared' : 'handler'}`, () => {
      const route = checkpointRoute(argv);
      assert.equal(route.route, fast ? 'prepared' : 'handler');
      if (route.route === 'prepared') {
        assert.equal(route.id, 'c1');
        assert.equal(route.images, '/img');
      }
    });
  }
});

export const PREP: Preparation = {
  id: 'c1',
  root: ROOT,
  runc: '/usr/sbin/runc',
  configPath: '/etc/extmount/config.json',
  pid: 4242,
  bundle: '/run/bundle/c1',
  liveRequest: '/var/lib/extmount/live/c1/request.json',
};

describe('renderStamp', () => {
  it('names the call, the four sources in the order of expected, the absent path, and ends', () => {
    assert.equal(
      renderStamp(PREP),
      [
        'extmount-prepared 1',
        'id c1',
        `root ${ROOT}`,
        'runc /usr/sbin/runc',
        'config /etc/extmount/config.json',
        'same /proc/4242/mountinfo',
        'same /proc/self/mountinfo',
        'same /etc/extmount/config.json',
        'same /run/bundle/c1/config.json',
        'absent /var/lib/extmount/live/c1/request.json',
        'end',
        '',
      ].join('\n'),
    );
    assert.ok(preparationFits(PREP));
    assert.ok(!preparationFits({ ...PREP, bundle: '/b\n' }));
  });
});

/** The files as they were on pause; a case changes some of them. */
function observe(over: Partial<CheckpointObservation> & { files?: Record<string, string | undefined> } = {}) {
  const files: Record<string, string | undefined> = {
    '/proc/4242/mountinfo': '89 72 254:0 /srv/a /data rw - ext4 /dev/vda rw\n',
    '/proc/self/mountinfo': '1 0 254:0 / / rw - ext4 /dev/vda rw\n',
    '/etc/extmount/config.json': '{"runc": "/usr/sbin/runc"}\n',
    '/run/bundle/c1/config.json': '{"ociVersion": "1.0.2"}',
  };
  const expected = renderExpected(preparedSources(PREP).map((p) => files[p]!));
  Object.assign(files, over.files ?? {});
  const o: CheckpointObservation = {
    call: { id: 'c1', root: ROOT, runc: '/usr/sbin/runc', configPath: '/etc/extmount/config.json' },
    stamp: renderStamp(PREP),
    expected,
    read: (p) => files[p],
    exists: () => false,
    ...over,
  };
  return o;
}

describe('preparationValid', () => {
  const table: [string, CheckpointObservation, boolean][] = [
    ['nothing changed', observe(), true],
    ['no stamp', observe({ stamp: undefined }), false],
    ['an emptied stamp (resume)', observe({ stamp: '' }), false],
    ['a stamp cut short', observe({ stamp: renderStamp(PREP).replace('end\n', '') }), false],
    ['another container', observe({ call: { ...observe().call, id: 'c2' } }), false],
    ['another runc root', observe({ call: { ...observe().call, root: '/run/runc' } }), false],
    ['another runc', observe({ call: { ...observe().call, runc: '/usr/bin/crun' } }), false],
    ['another config file', observe({ call: { ...observe().call, configPath: '/etc/x.json' } }), false],
    [
      "the bind source renamed on the host (the container's mount root follows it)",
      observe({ files: { '/proc/4242/mountinfo': '89 72 254:0 /srv/old /data rw - ext4 /dev/vda rw\n' } }),
      false,
    ],
    [
      'a mount added on the host',
      observe({
        files: {
          '/proc/self/mountinfo':
            '1 0 254:0 / / rw - ext4 /dev/vda rw\n90 1 254:0 /srv/b /srv/a rw - ext4 /dev/vda rw\n',
        },
      }),
      false,
    ],
    ['the config edited', observe({ files: { '/etc/extmount/config.json': '{"runc": "/x"}\n' } }), false],
    ['the bundle config gone', observe({ files: { '/run/bundle/c1/config.json': undefined } }), false],
    ['the init process gone', observe({ files: { '/proc/4242/mountinfo': undefined } }), false],
    ['a live request left since', observe({ exists: (p) => p.endsWith('/request.json') }), false],
  ];
  for (const [name, o, valid] of table) {
    it(`${name}: ${valid ? 'used' : 'the full handler'}`, () => assert.equal(preparationValid(o), valid));
  }
});
