import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG, normalizePath, parseConfig } from '../../src/core/config.js';
import { describeEndpoint, resolveDockerHost } from '../../src/core/docker/docker-host.js';
import { ExtmountError } from '../../src/core/errors.js';
import { FIXTURES } from '../helpers/fixtures.js';

describe('parseConfig', () => {
  it('the packaged config.json is the documented default', () => {
    assert.deepEqual(
      parseConfig(JSON.parse(readFileSync(`${FIXTURES}../../config.json`, 'utf8')), 'config.json'),
      DEFAULT_CONFIG,
    );
  });
  it('fills missing fields with defaults and normalizes paths', () => {
    const config = parseConfig({ remap: [{ from: '/srv//a/', to: '/srv/b/.' }], hostPaths: { allow: ['/srv/'] } }, 'c');
    assert.deepEqual(config.remap, [{ from: '/srv/a', to: '/srv/b' }]);
    assert.deepEqual(config.hostPaths, { allow: ['/srv'], deny: DEFAULT_CONFIG.hostPaths.deny });
    assert.equal(config.criu, 'criu');
    assert.equal(config.importMaxBytes, 16 * 1024 ** 3);
    assert.equal(parseConfig({ importMaxBytes: 4096 }, 'c').importMaxBytes, 4096);
  });
  it('refuses unknown fields and wrong types with exit 2', () => {
    for (const [value, pattern] of [
      [[], /must be a JSON object/],
      [{ hostpaths: {} }, /unknown field "hostpaths"/],
      [{ criu: '' }, /"criu" must be a non-empty string/],
      [{ hostPaths: { deny: ['etc'] } }, /"hostPaths.deny" must be a list of absolute paths/],
      [{ hostPaths: { allow: ['/srv/../etc'] } }, /"hostPaths.allow"/],
      [{ remap: [{ from: '/a' }] }, /remap\[0\]/],
      [{ logLevel: 'loud' }, /"logLevel" must be one of/],
      [{ importMaxBytes: 0 }, /"importMaxBytes" must be a positive whole number/],
      [{ importMaxBytes: '16G' }, /"importMaxBytes"/],
      [{ importMaxBytes: 1.5 }, /"importMaxBytes"/],
      [
        { hostPaths: { deny: Array.from({ length: 1025 }, (_, i) => `/d${i}`) } },
        /"hostPaths.deny" has 1025 entries, more than 1024/,
      ],
      [{ remap: Array.from({ length: 1025 }, () => ({ from: '/a', to: '/b' })) }, /"remap" has 1025 entries/],
    ] as const) {
      assert.throws(
        () => parseConfig(value, 'c.json'),
        (e: unknown) => e instanceof ExtmountError && e.exitCode === 2 && pattern.test(e.message),
      );
    }
  });
  it('normalizes paths', () => {
    assert.equal(normalizePath('//srv/./a//'), '/srv/a');
    assert.equal(normalizePath('/'), '/');
  });
});

describe('resolveDockerHost', () => {
  it('takes --host, then DOCKER_HOST, then the local socket', () => {
    assert.deepEqual(resolveDockerHost(undefined, {}), { kind: 'unix', socketPath: '/var/run/docker.sock' });
    assert.deepEqual(resolveDockerHost(undefined, { DOCKER_HOST: 'unix:///tmp/a.sock' }), {
      kind: 'unix',
      socketPath: '/tmp/a.sock',
    });
    assert.deepEqual(resolveDockerHost('unix:///tmp/b.sock', { DOCKER_HOST: 'unix:///tmp/a.sock' }), {
      kind: 'unix',
      socketPath: '/tmp/b.sock',
    });
  });
  it('reads tcp with and without TLS, and ssh', () => {
    assert.deepEqual(resolveDockerHost('tcp://10.0.0.1', {}), {
      kind: 'tcp',
      host: '10.0.0.1',
      port: 2375,
      tls: false,
    });
    assert.deepEqual(resolveDockerHost('tcp://h:2376', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }), {
      kind: 'tcp',
      host: 'h',
      port: 2376,
      tls: true,
      certPath: '/certs',
    });
    assert.deepEqual(resolveDockerHost('ssh://me@box:2222', {}), {
      kind: 'ssh',
      host: 'box',
      port: 2222,
      username: 'me',
    });
    assert.equal(describeEndpoint(resolveDockerHost('ssh://box', {})), 'ssh://box:22');
  });
  it('refuses what it cannot use', () => {
    assert.throws(() => resolveDockerHost('ftp://x', {}), /unsupported scheme ftp:/);
    assert.throws(() => resolveDockerHost('not a url', {}), /not a URL/);
    assert.throws(() => resolveDockerHost('tcp://', {}), ExtmountError);
  });
});
