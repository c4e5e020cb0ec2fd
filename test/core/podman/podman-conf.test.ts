// install-runtime --podman's pure parts, and what the runtime reads off a Podman bundle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import {
  podmanContainerMeta,
  podmanContainersJsonPath,
  type OciSpecView,
} from '../../../src/core/runtime/oci-bundle.js';
import { DROP_IN_MARK, dropInAction, podmanDropIn, updateRuntimeConfig } from '../../../src/core/podman/podman-conf.js';

const paths = { runc: '/usr/sbin/runc', node: '/usr/bin/node', criu: '/usr/local/sbin/criu' };

describe('podman containers.conf drop-in', () => {
  it('registers the wrapper under [engine.runtimes], marked as ours, with TOML quoting', () => {
    const text = podmanDropIn('extmount', '/opt/x "y"/hooks/extmount-runc');
    assert.equal(text.split('\n')[0], DROP_IN_MARK);
    assert.match(text, /^\[engine\.runtimes\]\nextmount = \["\/opt\/x \\"y\\"\/hooks\/extmount-runc"\]$/m);
    assert.throws(
      () => podmanDropIn('a b', '/x'),
      (e: unknown) => e instanceof ExtmountError && e.exitCode === 2,
    );
    assert.throws(
      () => podmanDropIn('ext', '/x\n[engine]'),
      (e: unknown) => e instanceof ExtmountError && e.exitCode === 2,
    );
  });

  it('creates, replaces its own, leaves an equal one, refuses a foreign file (exit 2)', () => {
    const wanted = podmanDropIn('extmount', '/new/hooks/extmount-runc');
    assert.equal(dropInAction(undefined, wanted, 'f'), 'create');
    assert.equal(dropInAction(wanted, wanted, 'f'), 'none');
    assert.equal(dropInAction(podmanDropIn('extmount', '/old/hooks/extmount-runc'), wanted, 'f'), 'replace');
    assert.throws(
      () => dropInAction('[engine]\nruntime = "crun"\n', wanted, '/etc/containers/containers.conf.d/extmount.conf'),
      (e: unknown) => e instanceof ExtmountError && e.exitCode === 2 && /not written by extmount/.test(e.message),
    );
  });
});

describe('the runtime config for Podman', () => {
  it('creates one with absolute runc, node and criu', () => {
    const r = updateRuntimeConfig(undefined, 'c', paths);
    assert.equal(r.action, 'create');
    assert.deepEqual(JSON.parse(r.text), paths);
  });

  it('keeps other fields and absolute values someone chose; bare names become the found paths', () => {
    const r = updateRuntimeConfig(
      JSON.stringify({ stateDir: '/srv/state', runc: 'runc', criu: '/opt/criu/criu' }),
      'c',
      paths,
    );
    assert.equal(r.action, 'update');
    assert.deepEqual(JSON.parse(r.text), {
      stateDir: '/srv/state',
      runc: '/usr/sbin/runc',
      criu: '/opt/criu/criu',
      node: '/usr/bin/node',
    });
    assert.equal(updateRuntimeConfig(r.text, 'c', paths).action, 'none');
  });

  it('refuses a file that is not an extmount config (exit 2)', () => {
    for (const text of ['{"runtimes": {}}', 'not json', '[]']) {
      assert.throws(
        () => updateRuntimeConfig(text, '/etc/extmount/config.json', paths),
        (e: unknown) => e instanceof ExtmountError && e.exitCode === 2,
        text,
      );
    }
  });
});

describe('podmanContainerMeta', () => {
  const id = 'a'.repeat(64);
  const other = 'b'.repeat(64);
  const g = '/var/lib/containers/storage';
  const r = '/run/containers/storage';
  const bind = (destination: string, source: string) => ({
    destination,
    source,
    readOnly: false,
    propagation: 'rprivate',
    index: 0,
  });
  const view = {
    rootfs: `${g}/overlay/l1/merged`,
    devicePaths: [],
    maskedPaths: [],
    binds: [
      bind('/etc/hosts', `${r}/overlay-containers/${id}/userdata/hosts`),
      bind('/etc/hostname', `${r}/overlay-containers/${id}/userdata/hostname`),
      bind('/run/.containerenv', `${r}/overlay-containers/${id}/userdata/.containerenv`),
      bind('/dev/shm', `${g}/overlay-containers/${id}/userdata/shm`),
      bind('/vol', `${g}/volumes/pmvol/_data`),
      bind('/data', '/srv/data'),
      // Not this container's, or not the name Podman gives it there: user binds.
      bind('/etc/resolv.conf', `${r}/overlay-containers/${other}/userdata/resolv.conf`),
      bind('/x/hosts', `${r}/overlay-containers/${id}/userdata/hosts`),
      bind('/other-vol', '/elsewhere/volumes/v/_data'),
    ],
  } as unknown as OciSpecView;
  const bundle = `${g}/overlay-containers/${id}/userdata`;
  const containersJson = JSON.stringify([
    { id, names: ['pm1'], metadata: JSON.stringify({ 'image-name': 'localhost/img:1', name: 'pm1' }) },
  ]);

  it("knows Podman's runtime binds, its named volumes, and name and image from containers.json", () => {
    assert.equal(podmanContainersJsonPath(bundle, id), `${g}/overlay-containers/containers.json`);
    const meta = podmanContainerMeta(view, id, bundle, containersJson)!;
    assert.deepEqual(
      meta.runtimeFiles,
      view.binds.slice(0, 4).map((b) => b.source),
    );
    assert.deepEqual([...meta.volumes], [['/vol', 'pmvol']]);
    assert.deepEqual({ name: meta.name, image: meta.image }, { name: 'pm1', image: 'localhost/img:1' });
  });

  it("is nothing for a bundle that is not Podman's for this id; labels stay empty without a matching record", () => {
    assert.equal(podmanContainerMeta(view, id, '/run/containerd/io.containerd.runtime.v2.task/moby/' + id), undefined);
    assert.equal(podmanContainerMeta(view, other, bundle), undefined);
    assert.equal(podmanContainersJsonPath('/b', id), undefined);
    const meta = podmanContainerMeta(view, id, bundle, JSON.stringify([{ id: other, names: ['x'] }]))!;
    assert.deepEqual({ name: meta.name, image: meta.image }, { name: '', image: '' });
    assert.deepEqual(podmanContainerMeta(view, id, bundle, '{bad')!.name, '');
  });
});
