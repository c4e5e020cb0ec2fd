import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOciSpec, resolveBindDestinations } from '../../../src/core/runtime/oci-bundle.js';
import { restoreWalkProblem } from '../../../src/core/runtime/restore-walk.js';

/** Docker's mounts for a container with one bind at /dest, and a rootfs whose symlinks are `links`. */
function walk(links: Record<string, string>, extra: Array<Record<string, unknown>> = []) {
  const mounts = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
    { destination: '/dev/shm', type: 'bind', source: '/var/lib/docker/containers/c/mounts/shm', options: ['rbind'] },
    { destination: '/dest', type: 'bind', source: '/srv/host-data', options: ['rbind', 'rprivate'] },
    {
      destination: '/etc/resolv.conf',
      type: 'bind',
      source: '/var/lib/docker/containers/c/resolv.conf',
      options: ['rbind'],
    },
    { destination: '/etc/hostname', type: 'bind', source: '/var/lib/docker/containers/c/hostname', options: ['rbind'] },
    { destination: '/etc/hosts', type: 'bind', source: '/var/lib/docker/containers/c/hosts', options: ['rbind'] },
    ...extra,
  ];
  const { view } = parseOciSpec(JSON.stringify({ root: { path: 'rootfs' }, mounts }), '/b');
  return resolveBindDestinations(view, (path) => links[path]).mounts!;
}

describe('restoreWalkProblem: where runc would make mountpoints', () => {
  it("a rootfs as the image left it: nothing to refuse, with or without the images' mountpoints", () => {
    const mounts = walk({});
    assert.equal(mounts.length, 7);
    assert.equal(restoreWalkProblem(mounts), undefined);
    assert.equal(
      restoreWalkProblem(mounts, new Set(['/', '/proc', '/dev', '/dev/shm', '/dest', '/etc/hosts'])),
      undefined,
    );
  });
  it('the issue\'s case: /dest made a symlink to "/" — the bind would cover the root, every later mountpoint made in the host\'s source', () => {
    const problem = restoreWalkProblem(walk({ '/dest': '/' }));
    assert.equal(problem?.destination, '/dest');
    assert.match(problem!.why, /leads to the container's root \("\/"\) through a symlink/);
    // Relative and roundabout spellings resolve the same way (securejoin never leaves the rootfs).
    assert.equal(restoreWalkProblem(walk({ '/dest': '../../..' }))?.destination, '/dest');
    assert.equal(restoreWalkProblem(walk({ '/dest': '/etc/../.' }))?.destination, '/dest');
  });
  it('a bind moved onto a folder other mounts go into (/dest -> /etc): named, with the mountpoint that would land in the host', () => {
    const problem = restoreWalkProblem(walk({ '/dest': '/etc' }));
    assert.equal(problem?.destination, '/dest');
    assert.match(
      problem!.why,
      /leads to \/etc through a symlink in the rootfs: runc would make the mountpoint \/etc\/resolv\.conf inside the host's source of the bind \/dest/,
    );
  });
  it('another mount led into a bind (/etc -> /dest/etc): that mount is named', () => {
    const problem = restoreWalkProblem(walk({ '/etc': '/dest/etc' }));
    assert.equal(problem?.destination, '/etc/resolv.conf');
    assert.match(problem!.why, /leads to \/dest\/etc\/resolv\.conf .* inside the host's source of the bind \/dest/);
  });
  it("symlinks the spec itself nests through are runc's ordinary walk (/var/run -> /run)", () => {
    const mounts = walk({ '/var/run': '/run' }, [
      { destination: '/var/run/a', type: 'bind', source: '/srv/a', options: ['rbind'] },
      { destination: '/var/run/a/b', type: 'bind', source: '/srv/b', options: ['rbind'] },
    ]);
    assert.deepEqual(
      mounts.slice(-2).map((m) => m.destination),
      ['/run/a', '/run/a/b'],
    );
    assert.equal(restoreWalkProblem(mounts, new Set(['/run/a', '/run/a/b'])), undefined);
  });
  it('a bind moved inside the container, where the images have it elsewhere: refused only with the images to tell', () => {
    const mounts = walk({ '/dest': '/tmp/elsewhere' });
    assert.equal(restoreWalkProblem(mounts), undefined);
    const problem = restoreWalkProblem(mounts, new Set(['/dest', '/proc']));
    assert.equal(problem?.destination, '/dest');
    assert.match(
      problem!.why,
      /leads to \/tmp\/elsewhere .* where the checkpoint has no mount \(it was checkpointed at \/dest\)/,
    );
  });
  it('a tmpfs or proc over a folder is no bind: what is made below it stays in the container', () => {
    assert.equal(restoreWalkProblem(walk({ '/etc': '/dev/etc' })), undefined);
  });
});
