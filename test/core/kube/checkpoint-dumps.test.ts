import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import {
  checkpointAnnotations,
  checkpointInfo,
  parseCheckpointDumps,
  pullableBaseImage,
} from '../../../src/core/kube/checkpoint-dumps.js';
import { formatImageRef, parseImageRef } from '../../../src/core/kube/oci-image.js';
import { planVolumes, propagationOf } from '../../../src/core/kube/restore-pod.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { containerdConfigDump, containerdSpecDump } from '../../helpers/kube-archive.js';

const dumps = (config: object, spec: object) =>
  parseCheckpointDumps(Buffer.from(JSON.stringify(config)), Buffer.from(JSON.stringify(spec)));
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof ExtmountError ? err.exitCode : -1;
  }
  return 0;
};

describe('checkpoint dumps', () => {
  it("reads containerd's: container, pod, namespace from the CRI annotations; the base image by repo digest", () => {
    const info = checkpointInfo(dumps(containerdConfigDump(), containerdSpecDump()));
    assert.equal(info.engine, 'containerd');
    assert.deepEqual([info.container, info.pod, info.namespace], ['counter', 'counter-pod', 'default']);
    assert.equal(pullableBaseImage(info), `127.0.0.1:5000/extmount-test@sha256:${'4'.repeat(64)}`);
    assert.equal(checkpointAnnotations(info)['org.criu.checkpoint.rootfsImageID'], info.rootfsImageRef);
  });
  it('refuses (exit 2) a containerd base image known by id only, as ctr import leaves it', () => {
    const info = checkpointInfo(
      dumps(containerdConfigDump({ rootfsImageRef: `sha256:${'a'.repeat(64)}` }), containerdSpecDump()),
    );
    assert.equal(
      code(() => pullableBaseImage(info)),
      2,
    );
  });
  it("reads Podman's (a captured config.dump/spec.dump) and CRI-O's (io.kubernetes.cri-o.Metadata)", () => {
    const dir = join(FIXTURES, 'podman-archive/4.3.1');
    const podman = checkpointInfo(
      parseCheckpointDumps(readFileSync(join(dir, 'config.dump')), readFileSync(join(dir, 'spec.dump'))),
    );
    assert.equal(podman.engine, 'Podman');
    assert.equal(podman.container, 'pm1');
    assert.equal(pullableBaseImage(podman), 'localhost/extmount-busybox:1');
    const crio = checkpointInfo(
      dumps(
        { rootfsImageName: 'quay.io/x/y:1', rootfsImageRef: 'quay.io/x/y@sha256:' + 'b'.repeat(64) },
        {
          annotations: {
            'io.container.manager': 'cri-o',
            'io.kubernetes.cri-o.Metadata': '{"name":"web"}',
            'io.kubernetes.pod.name': 'p',
            'io.kubernetes.pod.namespace': 'ns',
          },
        },
      ),
    );
    assert.deepEqual([crio.engine, crio.container, crio.pod, crio.namespace], ['CRI-O', 'web', 'p', 'ns']);
  });
});

describe('image references', () => {
  it('reads them as the docker CLI does', () => {
    assert.deepEqual(parseImageRef('127.0.0.1:5000/a/b:1'), {
      registry: '127.0.0.1:5000',
      repository: 'a/b',
      reference: '1',
    });
    assert.deepEqual(parseImageRef('busybox'), {
      registry: 'docker.io',
      repository: 'library/busybox',
      reference: 'latest',
    });
    assert.deepEqual(parseImageRef('localhost/x'), { registry: 'localhost', repository: 'x', reference: 'latest' });
    assert.equal(formatImageRef(parseImageRef(`r.io/x@sha256:${'c'.repeat(64)}`)), `r.io/x@sha256:${'c'.repeat(64)}`);
    for (const bad of ['UPPER/x', 'r.io/x:', 'a b', 'r.io/x@sha256:12'])
      assert.equal(
        code(() => parseImageRef(bad)),
        2,
        bad,
      );
  });
});

describe('restore Pod volumes', () => {
  it('maps propagation as the kubelet sets it for CRI', () => {
    assert.equal(propagationOf(['rbind', 'rslave']), 'HostToContainer');
    assert.equal(propagationOf(['rbind', 'rshared']), 'Bidirectional');
    assert.equal(propagationOf(['rbind', 'rprivate']), undefined);
  });
  it('refuses a plugin volume (CSI …/mount) and a subPath, which the archive does not describe', () => {
    const uid = '5f0c9d8e-4b1a-4c2d-9e3f-0a1b2c3d4e5f';
    for (const source of [
      `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/pvc-1/mount`,
      `/var/lib/kubelet/pods/${uid}/volume-subpaths/cfg/counter/0`,
    ]) {
      assert.equal(
        code(() => planVolumes({ mounts: [{ destination: '/x', type: 'bind', source, options: ['rbind'] }] }, [])),
        2,
        source,
      );
    }
  });
  it("knows the kubelet's volumes of a static pod too (a 32-hex UID, not a UUID): an emptyDir is declared again, not made a hostPath", () => {
    for (const uid of ['5f0c9d8e-4b1a-4c2d-9e3f-0a1b2c3d4e5f', 'c2b7e6f0a9d84e1b8f3a2c1d0e9f8a7b']) {
      const planned = planVolumes(
        {
          mounts: [
            {
              destination: '/cache',
              type: 'bind',
              source: `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~empty-dir/cache`,
              options: ['rbind', 'rprivate', 'rw'],
            },
          ],
        },
        [],
      );
      assert.deepEqual(
        planned.volumes.map((v) => Object.keys(v).sort()),
        [['emptyDir', 'name']],
        uid,
      );
    }
  });
});
