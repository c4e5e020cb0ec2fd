// The docker CLI's engine choice as a plugin sees it: global flags, env, config.json and meta.json written by the real CLI.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  currentContextOf,
  defaultContextEngine,
  parseDockerCliArgv,
  selectCurrentContext,
  selectDockerCliContext,
  storedContextEngine,
  type StoredContext,
} from '../../../src/core/docker/docker-cli-context.js';
import { ExtmountError } from '../../../src/core/errors.js';
import { fixture } from '../../helpers/fixtures.js';

function refused(fn: () => unknown, pattern: RegExp, code: 'usage' | 'bad-input' = 'usage'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ExtmountError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    assert.ok(err.hint, 'says what to do');
    return true;
  });
}

describe('parseDockerCliArgv: the docker CLI\'s global flags before "extmount"', () => {
  it('reads each spelling pflag accepts and keeps what follows the plugin name as it is', () => {
    const cases: [string[], object][] = [
      [['extmount', 'detect', 'c1'], {}],
      [['-H', 'unix:///a.sock', 'extmount', 'detect', 'c1'], { host: 'unix:///a.sock' }],
      [['--host=unix:///a.sock', 'extmount', 'detect', 'c1'], { host: 'unix:///a.sock' }],
      [['-Hunix:///a.sock', 'extmount', 'detect', 'c1'], { host: 'unix:///a.sock' }],
      [['-H=unix:///a.sock', 'extmount', 'detect', 'c1'], { host: 'unix:///a.sock' }],
      [['--context', 'remote', 'extmount', 'detect', 'c1'], { context: 'remote' }],
      [['-c', 'remote', 'extmount', 'detect', 'c1'], { context: 'remote' }],
      [['--config', '/tmp/cfg', '-D', '-l', 'debug', 'extmount', 'detect', 'c1'], { config: '/tmp/cfg', debug: true }],
      [
        ['-DH', 'tcp://h:2376', '--tlsverify', '--tlscacert=/c/ca.pem', 'extmount', 'detect', 'c1'],
        { debug: true, host: 'tcp://h:2376', tlsverify: true, tlscacert: '/c/ca.pem' },
      ],
      [['--tls=false', '--tlsverify=0', 'extmount', 'detect', 'c1'], { tls: false, tlsverify: false }],
      [['--log-level', 'warn', '--', 'extmount', 'detect', 'c1'], {}],
    ];
    for (const [argv, flags] of cases) {
      assert.deepEqual(
        parseDockerCliArgv(argv),
        { flags: { debug: false, ...flags }, rest: ['detect', 'c1'] },
        argv.join(' '),
      );
    }
  });

  it("extmount's own flags after the name are not docker's", () => {
    assert.deepEqual(parseDockerCliArgv(['extmount', '--host', 'unix:///b.sock', '-H', 'x', 'detect']).rest, [
      '--host',
      'unix:///b.sock',
      '-H',
      'x',
      'detect',
    ]);
  });

  it('refuses what the docker CLI would not have passed: unknown flags, a missing value or name, two -H', () => {
    refused(
      () => parseDockerCliArgv(['--bogus', 'extmount']),
      /docker flag --bogus before "extmount" is not one extmount knows/,
    );
    refused(() => parseDockerCliArgv(['-x', 'extmount']), /docker flag -x /);
    refused(() => parseDockerCliArgv(['--constructor', 'extmount']), /docker flag --constructor /);
    refused(() => parseDockerCliArgv(['--__proto__=x', 'extmount']), /docker flag --__proto__ /);
    refused(() => parseDockerCliArgv(['--host']), /--host needs an argument/);
    refused(() => parseDockerCliArgv(['--tls=maybe', 'extmount']), /"maybe" is not a boolean/);
    refused(
      () => parseDockerCliArgv(['-H', 'a', 'other', 'detect']),
      /expected "docker \[OPTIONS\] extmount COMMAND …", got "other"/,
    );
    refused(() => parseDockerCliArgv(['-D']), /got no plugin name/);
    refused(() => parseDockerCliArgv(['-H', 'a', '-H', 'b', 'extmount']), /^specify only one -H$/);
  });
});

describe('selectDockerCliContext: --host > --context > DOCKER_HOST > DOCKER_CONTEXT > currentContext', () => {
  const all = { DOCKER_HOST: 'unix:///env.sock', DOCKER_CONTEXT: 'envctx' };
  it('takes the first that is set', () => {
    assert.deepEqual(selectDockerCliContext({ debug: false, host: 'unix:///flag.sock' }, all), {
      kind: 'default',
      explicit: true,
      via: 'docker -H',
    });
    assert.deepEqual(selectDockerCliContext({ debug: false, context: 'flagctx' }, all), {
      kind: 'context',
      name: 'flagctx',
      explicit: true,
      via: 'docker --context flagctx',
    });
    assert.deepEqual(selectDockerCliContext({ debug: false }, all), {
      kind: 'default',
      explicit: false,
      via: 'DOCKER_HOST',
    });
    assert.deepEqual(selectDockerCliContext({ debug: false }, { DOCKER_CONTEXT: 'envctx', DOCKER_HOST: '' }), {
      kind: 'context',
      name: 'envctx',
      explicit: false,
      via: 'DOCKER_CONTEXT=envctx',
    });
    assert.deepEqual(selectDockerCliContext({ debug: false }, { DOCKER_CONTEXT: '' }), { kind: 'current-context' });
  });
  it('"default" names the default context wherever it comes from', () => {
    assert.equal(selectDockerCliContext({ debug: false, context: 'default' }, {}).kind, 'default');
    assert.equal(selectDockerCliContext({ debug: false }, { DOCKER_CONTEXT: 'default' }).kind, 'default');
    assert.deepEqual(selectCurrentContext('default', 'cfg'), {
      kind: 'default',
      explicit: false,
      via: 'the default context',
    });
  });
  it('refuses --host with --context, as the docker CLI does', () => {
    refused(
      () => selectDockerCliContext({ debug: false, host: 'unix:///a', context: 'b' }, {}),
      /^conflicting options: cannot specify both --host and --context$/,
    );
  });
});

describe('currentContextOf: config.json', () => {
  it('reads "currentContext" from the file docker context use wrote', () => {
    assert.equal(currentContextOf(fixture('docker-cli/config.json'), 'config.json'), 'remote');
    assert.deepEqual(selectCurrentContext('remote', '/h/.docker/config.json'), {
      kind: 'context',
      name: 'remote',
      explicit: false,
      via: 'currentContext remote in /h/.docker/config.json',
    });
  });
  it('no file, no field or an empty one: the default context', () => {
    assert.equal(currentContextOf(undefined, 'c'), undefined);
    assert.equal(currentContextOf('{"auths": {}}', 'c'), undefined);
    assert.equal(currentContextOf('{"currentContext": ""}', 'c'), undefined);
  });
  it('refuses a file it cannot read rather than guessing the engine', () => {
    refused(
      () => currentContextOf('{"currentContext": ', '/h/.docker/config.json'),
      /^\/h\/\.docker\/config\.json is not valid JSON/,
      'bad-input',
    );
    refused(() => currentContextOf('{"currentContext": 7}', 'c'), /"currentContext" must be a string/, 'bad-input');
  });
});

describe('storedContextEngine: meta.json and TLS files of a context', () => {
  const stored = (name: string, over: Partial<StoredContext> = {}): StoredContext => ({
    name,
    metaPath: `/h/.docker/contexts/meta/ID/meta.json`,
    tlsDir: '/h/.docker/contexts/tls/ID/docker',
    tlsFiles: [],
    ...over,
    metaText: 'metaText' in over ? over.metaText : fixture(`docker-cli/${name}.meta.json`),
  });
  const sel = { explicit: true, via: 'docker --context x' };

  it('a unix socket context', () => {
    assert.deepEqual(storedContextEngine(stored('remote'), sel), {
      endpoint: { kind: 'unix', socketPath: '/run/extmount-test/docker.sock' },
      via: 'docker --context x',
      explicit: true,
    });
  });
  it("a TLS context with ca, cert and key: TLS with the context's folder", () => {
    const engine = storedContextEngine(stored('tlsremote', { tlsFiles: ['ca.pem', 'cert.pem', 'key.pem'] }), sel);
    assert.deepEqual(engine.endpoint, {
      kind: 'tcp',
      host: '10.0.0.5',
      port: 2376,
      tls: true,
      certPath: '/h/.docker/contexts/tls/ID/docker',
    });
  });
  it('a tcp context without TLS files connects without TLS, as the docker CLI does', () => {
    assert.deepEqual(storedContextEngine(stored('tlsremote'), sel).endpoint, {
      kind: 'tcp',
      host: '10.0.0.5',
      port: 2376,
      tls: false,
    });
  });
  it('refuses what extmount cannot do safely: skip-verify, part of the TLS files, TLS to a socket', () => {
    refused(
      () => storedContextEngine(stored('skipverify'), sel),
      /^docker context "skipverify" skips TLS verification \(SkipTLSVerify\): extmount connects with TLS only/,
    );
    refused(
      () => storedContextEngine(stored('tlsremote', { tlsFiles: ['ca.pem'] }), sel),
      /has only ca\.pem in \/h\/\.docker\/contexts\/tls\/ID\/docker/,
    );
    refused(
      () => storedContextEngine(stored('remote', { tlsFiles: ['ca.pem', 'cert.pem', 'key.pem'] }), sel),
      /TLS to a unix engine/,
    );
  });
  it('an unknown context says so and how to list them', () => {
    refused(
      () => storedContextEngine(stored('nosuch', { metaText: undefined }), sel),
      /^docker context "nosuch" does not exist \(no \/h\/\.docker\/contexts\/meta\/ID\/meta\.json\)$/,
      'bad-input',
    );
  });
  it('reads keys as Go does (case-insensitively), and refuses a meta.json without a docker host', () => {
    const lower = '{"name":"x","endpoints":{"docker":{"host":"ssh://me@box","skipTLSVerify":false}}}';
    assert.deepEqual(storedContextEngine(stored('x', { metaText: lower }), sel).endpoint, {
      kind: 'ssh',
      host: 'box',
      port: 22,
      username: 'me',
    });
    refused(
      () => storedContextEngine(stored('x', { metaText: '{"Name":"x","Endpoints":{}}' }), sel),
      /has no docker endpoint/,
      'bad-input',
    );
    refused(
      () => storedContextEngine(stored('x', { metaText: '{"Endpoints":{"docker":{"Host":""}}}' }), sel),
      /has no docker host/,
      'bad-input',
    );
    refused(() => storedContextEngine(stored('x', { metaText: '{' }), sel), /is not valid JSON/, 'bad-input');
  });
});

describe('defaultContextEngine: -H, DOCKER_HOST, the TLS flags and env', () => {
  const sel = { explicit: false, via: 'DOCKER_HOST' };
  it('-H wins over DOCKER_HOST; neither: the local socket; no scheme: tcp', () => {
    assert.deepEqual(
      defaultContextEngine(
        { debug: false, host: 'unix:///flag.sock' },
        { DOCKER_HOST: 'unix:///env.sock' },
        '/cfg',
        sel,
      ).endpoint,
      { kind: 'unix', socketPath: '/flag.sock' },
    );
    assert.deepEqual(
      defaultContextEngine({ debug: false }, { DOCKER_HOST: 'unix:///env.sock' }, '/cfg', sel).endpoint,
      { kind: 'unix', socketPath: '/env.sock' },
    );
    assert.deepEqual(defaultContextEngine({ debug: false }, {}, '/cfg', sel).endpoint, {
      kind: 'unix',
      socketPath: '/var/run/docker.sock',
    });
    assert.deepEqual(defaultContextEngine({ debug: false, host: 'box:2375' }, {}, '/cfg', sel).endpoint, {
      kind: 'tcp',
      host: 'box',
      port: 2375,
      tls: false,
    });
  });
  it('--tlsverify or DOCKER_TLS_VERIFY: TLS with DOCKER_CERT_PATH, else the config dir', () => {
    assert.deepEqual(
      defaultContextEngine({ debug: false, host: 'tcp://box:2376', tlsverify: true }, {}, '/cfg', sel).endpoint,
      {
        kind: 'tcp',
        host: 'box',
        port: 2376,
        tls: true,
        certPath: '/cfg',
      },
    );
    assert.deepEqual(
      defaultContextEngine(
        { debug: false },
        { DOCKER_HOST: 'tcp://box:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' },
        '/cfg',
        sel,
      ).endpoint,
      {
        kind: 'tcp',
        host: 'box',
        port: 2376,
        tls: true,
        certPath: '/certs',
      },
    );
    // With TLS and no host, the docker CLI's default is tcp://localhost:2376.
    assert.deepEqual(defaultContextEngine({ debug: false, tlsverify: true }, {}, '/cfg', sel).endpoint, {
      kind: 'tcp',
      host: 'localhost',
      port: 2376,
      tls: true,
      certPath: '/cfg',
    });
    const files = { tlscacert: '/t/ca.pem', tlscert: '/t/cert.pem', tlskey: '/t/key.pem' };
    assert.deepEqual(
      defaultContextEngine({ debug: false, host: 'tcp://box:2376', tlsverify: true, ...files }, {}, '/cfg', sel)
        .endpoint,
      {
        kind: 'tcp',
        host: 'box',
        port: 2376,
        tls: true,
        certPath: '/t',
      },
    );
  });
  it('refuses TLS without verification and TLS files it cannot take as one folder', () => {
    refused(
      () => defaultContextEngine({ debug: false, host: 'tcp://box:2376', tls: true }, {}, '/cfg', sel),
      /TLS without verifying the engine/,
    );
    refused(
      () => defaultContextEngine({ debug: false, host: 'tcp://box:2376', tlsverify: false }, {}, '/cfg', sel),
      /TLS without verifying the engine/,
    );
    refused(
      () => defaultContextEngine({ debug: false, host: 'tcp://box:2376' }, { DOCKER_TLS: '1' }, '/cfg', sel),
      /TLS without verifying the engine/,
    );
    refused(
      () =>
        defaultContextEngine(
          { debug: false, host: 'tcp://box:2376', tlsverify: true, tlscert: '/other/client.pem' },
          {},
          '/cfg',
          sel,
        ),
      /as ca\.pem, cert\.pem and key\.pem of one folder/,
    );
    refused(
      () => defaultContextEngine({ debug: false, host: 'unix:///a.sock', tlsverify: true }, {}, '/cfg', sel),
      /TLS to a unix engine/,
    );
  });
});
