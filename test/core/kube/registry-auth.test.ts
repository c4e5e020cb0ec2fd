import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dockerAuthFor, parseChallenge, registryBaseUrl } from '../../../src/core/kube/registry-auth.js';

describe('registry auth as the docker CLI keeps it', () => {
  it('finds config.json auths under the keys docker login writes', () => {
    const config = {
      auths: {
        'https://index.docker.io/v1/': { auth: 'dXNlcjpwdw==' },
        'reg.example:5000': { auth: 'YTpi' },
        'bad.example': { auth: 'not base64!' },
      },
    };
    assert.equal(dockerAuthFor(config, 'docker.io'), 'dXNlcjpwdw==');
    assert.equal(dockerAuthFor(config, 'reg.example:5000'), 'YTpi');
    assert.equal(dockerAuthFor(config, 'bad.example'), undefined);
    assert.equal(dockerAuthFor({ credsStore: 'pass' }, 'docker.io'), undefined);
  });
  it('reads Basic and Bearer challenges', () => {
    assert.deepEqual(
      parseChallenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
      ),
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
      },
    );
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), {
      scheme: 'basic',
      params: { realm: 'Registry Realm' },
    });
    assert.equal(parseChallenge('Negotiate'), undefined);
  });
  it('speaks plain http only to loopback or when told', () => {
    assert.equal(registryBaseUrl('127.0.0.1:5000', false), 'http://127.0.0.1:5000');
    assert.equal(registryBaseUrl('localhost:5000', false), 'http://localhost:5000');
    assert.equal(registryBaseUrl('reg.example:5000', false), 'https://reg.example:5000');
    assert.equal(registryBaseUrl('reg.example:5000', true), 'http://reg.example:5000');
    assert.equal(registryBaseUrl('docker.io', false), 'https://registry-1.docker.io');
  });
});
