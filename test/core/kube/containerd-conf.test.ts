import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import {
  addContainerdImport,
  CONTAINERD_DROP_IN_MARK,
  containerdDropIn,
  containerdDropInAction,
  importCovers,
  runtimeClassManifest,
} from '../../../src/core/kube/containerd-conf.js';

const DROP_IN = '/etc/containerd/conf.d/extmount.toml';
const MAIN = '/etc/containerd/config.toml';

function exitCode(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ExtmountError ? err.exitCode : -1;
  }
  return undefined;
}

describe('the containerd drop-in and RuntimeClass', () => {
  it('declares a version 3 CRI handler with the runc v2 shim and the wrapper as BinaryName, marked as ours', () => {
    const text = containerdDropIn('extmount', '/opt/extmount/hooks/extmount-runc');
    assert.equal(text.split('\n')[0], CONTAINERD_DROP_IN_MARK);
    assert.match(text, /^version = 3$/m);
    assert.match(
      text,
      /^\[plugins\."io\.containerd\.cri\.v1\.runtime"\.containerd\.runtimes\.extmount\]\n {2}runtime_type = "io\.containerd\.runc\.v2"$/m,
    );
    assert.match(
      text,
      /^\[plugins\."io\.containerd\.cri\.v1\.runtime"\.containerd\.runtimes\.extmount\.options\]\n {2}BinaryName = "\/opt\/extmount\/hooks\/extmount-runc"$/m,
    );
    assert.doesNotMatch(text, /oom/);
  });
  it('prints a node.k8s.io/v1 RuntimeClass whose handler is the name; refuses a name that is no DNS label', () => {
    assert.deepEqual(runtimeClassManifest('extmount'), {
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: 'extmount' },
      handler: 'extmount',
    });
    assert.equal(
      exitCode(() => runtimeClassManifest('Ext_mount')),
      2,
    );
  });
  it('creates, leaves an equal one, replaces its own, refuses a foreign file (exit 2)', () => {
    const wanted = containerdDropIn('extmount', '/w');
    assert.equal(containerdDropInAction(undefined, wanted, DROP_IN), 'create');
    assert.equal(containerdDropInAction(wanted, wanted, DROP_IN), 'none');
    assert.equal(containerdDropInAction(containerdDropIn('extmount', '/old'), wanted, DROP_IN), 'replace');
    assert.equal(
      exitCode(() => containerdDropInAction('version = 3\n', wanted, DROP_IN)),
      2,
    );
  });
});

describe("the main config's imports", () => {
  it('makes a new version 3 config when there is none', () => {
    assert.deepEqual(addContainerdImport(undefined, MAIN, DROP_IN), {
      action: 'create',
      text: `version = 3\nimports = ["${DROP_IN}"]\n`,
    });
  });
  it('adds imports after the version line, keeping every other line as it was', () => {
    const text =
      'version = 3\nroot = "/var/lib/containerd"\n\n[plugins."io.containerd.cri.v1.runtime"]\n  enable_selinux = false\n';
    const update = addContainerdImport(text, MAIN, DROP_IN);
    assert.equal(update.action, 'update');
    assert.equal(
      update.text,
      `version = 3\nimports = ["${DROP_IN}"]\nroot = "/var/lib/containerd"\n\n[plugins."io.containerd.cri.v1.runtime"]\n  enable_selinux = false\n`,
    );
    // Re-running changes nothing.
    assert.deepEqual(addContainerdImport(update.text, MAIN, DROP_IN), { action: 'none', text: update.text });
  });
  it('extends an existing one-line list; a glob or relative path that covers the drop-in is left alone', () => {
    const update = addContainerdImport('version = 3\nimports = ["/etc/other.toml", ] # ours\n', MAIN, DROP_IN);
    assert.equal(update.text, `version = 3\nimports = ["/etc/other.toml", "${DROP_IN}"] # ours\n`);
    assert.equal(addContainerdImport("version = 3\nimports = ['conf.d/*.toml']\n", MAIN, DROP_IN).action, 'none');
    assert.equal(
      addContainerdImport('version = 3\nimports = []\n', MAIN, DROP_IN).text,
      `version = 3\nimports = ["${DROP_IN}"]\n`,
    );
  });
  it('refuses (exit 2) what it cannot edit safely: no version 3, multi-line imports, escapes', () => {
    for (const text of [
      'root = "/x"\n',
      'version = 2\n',
      'version = 3\nimports = [\n  "/a.toml",\n]\n',
      'version = 3\nimports = ["/a\\u0041.toml"]\n',
      'version = 3\nx = """\n[not a table]\n"""\n',
    ])
      assert.equal(
        exitCode(() => addContainerdImport(text, MAIN, DROP_IN)),
        2,
        text,
      );
  });
  it('matches globs as filepath.Glob does: "*" within one path segment', () => {
    assert.equal(importCovers('/etc/containerd/conf.d/*.toml', MAIN, DROP_IN), true);
    assert.equal(importCovers('/etc/containerd/*.toml', MAIN, DROP_IN), false);
    assert.equal(importCovers('./conf.d/extmount.toml', MAIN, DROP_IN), true);
    assert.equal(importCovers('/etc/containerd/conf.d/*.conf', MAIN, DROP_IN), false);
  });
});
