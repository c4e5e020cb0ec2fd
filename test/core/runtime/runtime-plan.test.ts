import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import { classifyMounts } from '../../../src/core/mounts/classify.js';
import { manifestFromPlan } from '../../../src/core/checkpoint/manifest.js';
import { parseMountinfo } from '../../../src/core/mounts/mountinfo.js';
import { indexMountinfo } from '../../../src/core/mounts/mountinfo-index.js';
import type { OciSpecView } from '../../../src/core/runtime/oci-bundle.js';
import { planExternalMounts } from '../../../src/core/mounts/plan.js';
import { planCriuOptions, toConfigFile } from '../../../src/core/mounts/render.js';
import {
  criuSourceFor,
  declaredTarget,
  dumpPropagationNote,
  dumpPropagationNoteOnHost,
  dumpWarnings,
  planFromManifest,
  planRuntimeRestore,
  splitDumpPlan,
} from '../../../src/core/runtime/runtime-plan.js';
import { containerInfoFromInspect } from '../../../src/adapters/docker/docker.js';
import { fixture, inspectFixture } from '../../helpers/fixtures.js';

const PROP = '/srv/extmount-fixtures/prop';
const DISK2 = '/srv/extmount-fixtures/disk2';
const hostMounts = parseMountinfo(fixture('mountinfo/docker-propagated.host.mountinfo'));
const inspect = inspectFixture('docker-propagated');
const container = containerInfoFromInspect(inspect);
const classification = classifyMounts(parseMountinfo(fixture('mountinfo/docker-propagated.mountinfo')), {
  hostMounts,
  container,
});
const plan = planExternalMounts(classification, {
  fileTypes: new Map([
    [DISK2, 'directory'],
    [PROP, 'directory'],
  ]),
});

// The bundle dockerd wrote for this container: its binds (with the runtime files) and masked paths.
const view: OciSpecView = {
  rootfs: '/r',
  binds: [
    { destination: '/prop', specDestination: '/prop', index: 0, source: PROP, readOnly: false, propagation: 'rslave' },
    ...['hosts', 'hostname', 'resolv.conf'].map((f, i) => ({
      destination: `/etc/${f}`,
      specDestination: `/etc/${f}`,
      index: i + 1,
      source: `${inspect.HostsPath.replace(/hosts$/, f)}`,
      readOnly: false,
      propagation: 'rprivate',
    })),
  ],
  devicePaths: [],
  maskedPaths: inspect.HostConfig.MaskedPaths ?? [],
};

describe('splitDumpPlan', () => {
  const split = splitDumpPlan(plan, view);

  it('keeps for extmount only what runc does not map: the submount that appeared after start', () => {
    assert.deepEqual(
      split.ours.map((m) => [m.mountpoint, m.key, m.kind, m.hostPath]),
      [['/prop/sub', 'prop-sub', 'propagated', DISK2]],
    );
    assert.deepEqual(split.criuPlan.mounts, split.ours);
    assert.equal(split.criuPlan.enableExternalMasters, true);
    assert.equal(
      toConfigFile(planCriuOptions(split.criuPlan, { major: 4, minor: 1, patch: 1, text: '4.1.1' }).dump),
      'external mnt[/prop/sub]:prop-sub\nenable-external-masters\n',
    );
  });

  it("records runc's binds in the manifest too, but not the masked paths", () => {
    assert.deepEqual(split.manifestPlan.mounts.map((m) => m.mountpoint).sort(), [
      '/etc/hostname',
      '/etc/hosts',
      '/etc/resolv.conf',
      '/prop',
      '/prop/sub',
    ]);
  });

  it('has nothing to warn about for a slave with a host path', () => {
    assert.deepEqual(dumpWarnings(split, hostMounts), []);
  });
});

describe('dumpPropagationNote', () => {
  it('says what CRIU cannot bring back for a mount shared with the outside', () => {
    assert.match(
      dumpPropagationNote({ mountpoint: '/x', propagation: 'shared' }) ?? '',
      /restores it as a new peer group/,
    );
    assert.match(dumpPropagationNote({ mountpoint: '/x', propagation: 'shared+slave' }) ?? '', /stays a slave/);
    assert.equal(dumpPropagationNote({ mountpoint: '/x', propagation: 'slave' }), undefined);
  });

  it('warns before the dump when a slave has no host peer group to come back to', () => {
    const sub = { mountpoint: '/prop/sub', key: 'prop-sub', propagation: 'slave', hostPath: DISK2 };
    assert.equal(dumpPropagationNoteOnHost(sub, hostMounts), undefined);
    assert.match(
      dumpPropagationNoteOnHost({ ...sub, hostPath: '/tmp/plain' }, hostMounts) ?? '',
      /will be restored private/,
    );
  });
});

describe('planRuntimeRestore', () => {
  const split = splitDumpPlan(plan, view);
  const manifest = manifestFromPlan(split.manifestPlan, {
    extmount: '0.1.0',
    criu: '4.1.1',
    createdAt: '2026-11-27T00:00:00Z',
    target: { kind: 'container', id: inspect.Id, name: 'c2', image: 'i' },
  });

  it('plans from the indexed host table as from the parsed one (only the lines its binds involve are parsed)', () => {
    const text = fixture('mountinfo/docker-propagated.host.mountinfo');
    const indexed = indexMountinfo(text, 'host');
    for (const maps of [new Map<string, string>(), new Map([['prop', '/srv/other']]), new Map([['prop-sub', DISK2]])])
      assert.deepEqual(
        planRuntimeRestore(manifest, view, maps, [], indexed),
        planRuntimeRestore(manifest, view, maps, [], hostMounts),
      );
  });

  it("gives CRIU a slave copy of the host mount in the submount's peer group, and leaves runc's binds to runc", () => {
    const restore = planRuntimeRestore(manifest, view, new Map(), [], hostMounts);
    assert.equal(restore.ours.length, 1);
    assert.deepEqual(
      { bindFrom: restore.ours[0]!.bindFrom, make: restore.ours[0]!.make, note: restore.ours[0]!.note },
      {
        bindFrom: `${PROP}/sub`,
        make: 'slave',
        note: undefined,
      },
    );
    assert.equal(restore.runcSources.size, 0);
    // Not the recorded DISK2: the mount this host shows at the same place under the declared bind.
    assert.deepEqual(
      restore.toCheck.map((t) => [t.mount.key, t.path, t.from]),
      [['prop-sub', `${PROP}/sub`, 'bind']],
    );
  });

  it('a propagated mount comes back only from under the declared bind, never from a recorded path alone', () => {
    // The manifest's host path edited to /root: ignored, the bind decides.
    const edited = {
      ...manifest,
      mounts: manifest.mounts.map((m) => (m.key === 'prop-sub' ? { ...m, hostPath: '/root' } : m)),
    };
    assert.deepEqual(
      planRuntimeRestore(edited, view, new Map(), [], hostMounts).toCheck.map((t) => t.path),
      [`${PROP}/sub`],
    );
    // The bind now comes from elsewhere, where this host shows no mount below: refused, naming the way out.
    const moved = {
      ...view,
      binds: view.binds.map((b) => (b.destination === '/prop' ? { ...b, source: '/srv/elsewhere' } : b)),
    };
    assert.throws(
      () => planRuntimeRestore(manifest, moved, new Map(), [], hostMounts),
      /\/prop\/sub \(key prop-sub\): this host shows no mount at \/srv\/elsewhere\/sub, under the bind \/prop/,
    );
    // Under no bind at all (the manifest moved it): refused.
    const outside = {
      ...edited,
      mounts: edited.mounts.map((m) => (m.key === 'prop-sub' ? { ...m, mountpoint: '/elsewhere/sub' } : m)),
    };
    assert.throws(
      () =>
        declaredTarget(
          { mount: outside.mounts.find((m) => m.key === 'prop-sub')!, path: '/root', from: 'original' },
          view,
          hostMounts,
        ),
      /is under none of the container's binds: its recorded host path \/root alone is not restored/,
    );
    // --map is a declaration: taken as given (and checked like every target).
    assert.deepEqual(
      planRuntimeRestore(edited, moved, new Map([['prop-sub', DISK2]]), [], hostMounts).toCheck.find(
        (t) => t.mount.key === 'prop-sub',
      )?.from,
      'map',
    );
  });

  it('--map on a config bind changes the bundle source, and is checked', () => {
    const restore = planRuntimeRestore(manifest, view, new Map([['prop', '/srv/other']]), [], hostMounts);
    assert.deepEqual([...restore.runcSources], [['/prop', '/srv/other']]);
    assert.ok(restore.toCheck.some((t) => t.mount.key === 'prop' && t.from === 'map'));
  });

  it('a config bind the new container does not declare is refused (exit 2), naming every such path and how to declare it', () => {
    const without = { ...view, binds: view.binds.filter((b) => b.destination !== '/prop') };
    assert.throws(
      () => planRuntimeRestore(manifest, without, new Map(), [], hostMounts),
      (err: unknown) => {
        assert.ok(err instanceof ExtmountError);
        assert.equal(err.exitCode, 2);
        assert.equal(err.message, 'the checkpoint has bind mounts the new container does not declare: /prop');
        assert.match(err.hint!, /declare them in the Pod \(volumeMounts\) or container/);
        return true;
      },
    );
  });

  it('a target no host mount shares: restored private, and said so', () => {
    const restore = planRuntimeRestore(manifest, view, new Map([['prop-sub', '/tmp/plain']]), [], hostMounts);
    assert.equal(restore.ours[0]!.make, 'shared');
    assert.match(restore.ours[0]!.note ?? '', /restored private/);
  });

  it('renders our mounts only, keyed as dumped', () => {
    const ours = manifest.mounts.filter((m) => m.kind === 'propagated');
    const options = planCriuOptions(
      planFromManifest(manifest, ours),
      { major: 3, minor: 0, patch: 0, text: '3.0.0' },
      { targets: new Map([['prop-sub', '/var/lib/extmount/x/mnt/1']]) },
    );
    assert.equal(
      toConfigFile(options.restore),
      'external mnt[prop-sub]:/var/lib/extmount/x/mnt/1\nenable-external-masters\n',
    );
  });

  it('criuSourceFor keeps a private mount private', () => {
    const target = {
      mount: { ...manifest.mounts.find((m) => m.key === 'prop-sub')!, propagation: 'private' },
      path: DISK2,
      from: 'original' as const,
    };
    assert.deepEqual(criuSourceFor(target, hostMounts), { target, bindFrom: DISK2, make: 'private' });
  });
});
