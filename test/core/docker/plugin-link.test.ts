// install-plugin's decision on what is at ~/.docker/cli-plugins/docker-extmount.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import { planPluginLink } from '../../../src/core/docker/plugin-link.js';

const link = '/h/.docker/cli-plugins/docker-extmount';
const target = '/opt/extmount/hooks/docker-extmount';

describe('planPluginLink', () => {
  it('creates a missing link, keeps one to us, replaces one to another extmount', () => {
    assert.deepEqual(planPluginLink(link, target, { kind: 'missing' }), {
      link,
      target,
      action: 'create',
      previous: null,
    });
    assert.equal(planPluginLink(link, target, { kind: 'symlink', target, resolvesToUs: true }).action, 'none');
    assert.equal(
      planPluginLink(link, target, {
        kind: 'symlink',
        target: '../../opt/extmount/hooks/docker-extmount',
        resolvesToUs: true,
      }).action,
      'none',
    );
    assert.deepEqual(
      planPluginLink(link, target, {
        kind: 'symlink',
        target: '/old/checkout/hooks/docker-extmount',
        resolvesToUs: false,
      }),
      {
        link,
        target,
        action: 'replace',
        previous: '/old/checkout/hooks/docker-extmount',
      },
    );
  });
  it('refuses a foreign file or link (exit 2, what to do)', () => {
    for (const state of [
      { kind: 'other', what: 'a file' },
      { kind: 'symlink', target: '/usr/bin/evil', resolvesToUs: false },
    ] as const) {
      assert.throws(
        () => planPluginLink(link, target, state),
        (err: unknown) => {
          assert.ok(err instanceof ExtmountError);
          assert.equal(err.exitCode, 2);
          assert.match(
            err.message,
            /^\/h\/\.docker\/cli-plugins\/docker-extmount is .*; extmount does not overwrite it$/,
          );
          assert.match(err.hint ?? '', /move it away/);
          return true;
        },
      );
    }
  });
});
