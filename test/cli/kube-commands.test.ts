// checkpoint-image and restore-pod through main(), on a containerd-shaped checkpoint archive built here.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { main } from '../../src/cli/main.js';
import type { CommandIO } from '../../src/commands/io.js';
import { tarFiles } from '../../src/core/migrate/migrate-tar.js';
import { containerdArchive } from '../helpers/kube-archive.js';
import { FIXTURES } from '../helpers/fixtures.js';

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = { out: (t) => out.push(t), err: (t) => err.push(t), env: { HOME: '/nonexistent' } };
  return { code: await main(argv, io), out, err };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('checkpoint-image and restore-pod on a containerd checkpoint archive', () => {
  let dir: string;
  let archive: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-kube-'));
    archive = join(dir, 'checkpoint-counter-pod_default-counter-2026-12-07T01:05:00Z.tar');
    await writeFile(archive, containerdArchive());
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it("--output writes an OCI layout: index → manifest (annotations) → config → the layer, the archive's entries", async () => {
    const output = join(dir, 'image.tar');
    const r = await run([
      'checkpoint-image',
      archive,
      '--tag',
      '127.0.0.1:5000/counter-checkpoint:1',
      '--output',
      output,
      '--json',
    ]);
    assert.equal(r.code, 0, r.err.join('\n'));
    const report = JSON.parse(r.out.join('\n'));
    assert.equal(report.ref, '127.0.0.1:5000/counter-checkpoint:1');
    assert.equal(report.baseImage, `127.0.0.1:5000/extmount-test@sha256:${'4'.repeat(64)}`);
    assert.equal(report.annotations['org.criu.checkpoint.container.name'], 'counter');
    assert.equal(report.annotations['org.criu.checkpoint.pod.name'], 'counter-pod');
    assert.equal(report.annotations['org.criu.checkpoint.engine.name'], 'containerd');
    const files = tarFiles(await readFile(output));
    const blob = (digest: string) => files.get(`blobs/sha256/${digest.slice(7)}`)!;
    assert.deepEqual(JSON.parse(files.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.equal(index.manifests[0].digest, report.digest);
    assert.equal(
      index.manifests[0].annotations['org.opencontainers.image.ref.name'],
      '127.0.0.1:5000/counter-checkpoint:1',
    );
    const manifestBytes = blob(report.digest);
    assert.equal(sha(manifestBytes), report.digest);
    const manifest = JSON.parse(manifestBytes.toString());
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(manifest.annotations, report.annotations);
    const config = JSON.parse(blob(manifest.config.digest).toString());
    assert.equal(config.os, 'linux');
    assert.deepEqual(config.rootfs.diff_ids, [manifest.layers[0].digest]);
    const layer = blob(manifest.layers[0].digest);
    assert.equal(sha(layer), manifest.layers[0].digest);
    assert.equal(layer.length, manifest.layers[0].size);
    const entries = tarFiles(layer);
    assert.deepEqual([...entries.keys()].sort(), [
      'checkpoint/extmount.yaml',
      'checkpoint/inventory.img',
      'checkpoint/pages-1.img',
      'config.dump',
      'container.log',
      'rootfs-diff.tar',
      'spec.dump',
      'status',
      'status.dump',
    ]);
    // GNU tar reads it too (what ctr import's unpacker and skopeo read is plain tar as well).
    assert.match(execFileSync('tar', ['-tf', output], { encoding: 'utf8' }), /^index\.json$/m);
    // The same archive gzip-compressed gives the same image.
    const gz = join(dir, 'gz.tar.gz');
    await writeFile(gz, gzipSync(containerdArchive()));
    const again = await run([
      'checkpoint-image',
      gz,
      '--tag',
      '127.0.0.1:5000/counter-checkpoint:1',
      '--output',
      join(dir, 'image2.tar'),
      '--json',
    ]);
    assert.equal(JSON.parse(again.out.join('\n')).digest, report.digest);
  });

  it('refuses (exit 2, one line) an archive whose base image has no repo digest, writing nothing', async () => {
    const bare = join(dir, 'bare.tar');
    await writeFile(bare, containerdArchive({ rootfsImageRef: `sha256:${'5'.repeat(64)}` }));
    const r = await run(['checkpoint-image', bare, '--tag', 'localhost:5000/x:1', '--output', join(dir, 'never.tar')]);
    assert.equal(r.code, 2);
    assert.equal(r.err.length, 1);
    assert.match(
      r.err[0]!,
      /base image .*no repo digest.* cannot be pulled on another node; push the base image to a registry/,
    );
    await assert.rejects(readFile(join(dir, 'never.tar')));
  });

  it('restore-pod prints the Pod: command, env, hostPaths remapped with propagation and ro, kubelet volumes again', async () => {
    const r = await run([
      'restore-pod',
      archive,
      '--image',
      '127.0.0.1:5000/counter-checkpoint:1',
      '--node',
      'node-b',
      '--map',
      '/srv/a=/srv/b',
    ]);
    assert.equal(r.code, 0, r.err.join('\n'));
    const pod = parseYaml(r.out.join('\n'));
    assert.equal(pod.kind, 'Pod');
    assert.equal(pod.metadata.namespace, 'default');
    assert.equal(pod.spec.nodeName, 'node-b');
    assert.equal(pod.spec.runtimeClassName, 'extmount');
    const [c] = pod.spec.containers;
    assert.equal(c.name, 'counter');
    assert.equal(c.image, '127.0.0.1:5000/counter-checkpoint:1');
    assert.deepEqual(c.command, ['sh', '-c', 'while :; do date >> /data/log; sleep 1; done']);
    assert.equal(c.workingDir, '/work');
    assert.deepEqual(
      c.env.map((e: { name: string }) => e.name),
      ['PATH', 'TOKEN'],
    );
    assert.equal(c.env[1].value, 'abc=def');
    const mount = (path: string) => c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === path);
    const volume = (name: string) => pod.spec.volumes.find((v: { name: string }) => v.name === name);
    assert.deepEqual(volume(mount('/data').name).hostPath, { path: '/srv/b/data' });
    assert.equal(mount('/data').mountPropagation, undefined);
    assert.equal(mount('/prop').mountPropagation, 'HostToContainer');
    assert.equal(mount('/shared').mountPropagation, 'Bidirectional');
    assert.deepEqual(volume(mount('/etc/app.conf').name).hostPath, { path: '/etc/a/app.conf' });
    assert.equal(mount('/etc/app.conf').readOnly, true);
    assert.deepEqual(volume('cache'), { name: 'cache', emptyDir: {} });
    assert.deepEqual(volume('app-config'), { name: 'app-config', configMap: { name: 'app-config' } });
    assert.deepEqual(volume('tls'), { name: 'tls', secret: { secretName: 'tls' } });
    assert.equal(volume('kube-api-access-x7k2p').projected.sources[0].serviceAccountToken.path, 'token');
    assert.equal(mount('/etc/tls').readOnly, true);
    // The runtime's and kubelet's own files are not declared.
    for (const p of ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/dev/shm', '/dev/termination-log'])
      assert.equal(mount(p), undefined, p);
    assert.equal(c.volumeMounts.length, 8);
    assert.ok(r.err.some((l) => /warning: volume app-config/.test(l)));
    assert.ok(!r.err.some((l) => /--map/.test(l)));
    const typo = await run(['restore-pod', archive, '--image', 'r/c:1', '--node', 'b', '--map', '/srv/x=/srv/b']);
    assert.equal(typo.code, 0);
    assert.ok(
      typo.err.includes('extmount: warning: --map /srv/x=/srv/b: no hostPath of the checkpoint is at or under /srv/x'),
      typo.err.join('\n'),
    );
  });

  it('restore-pod reads the OCI layout checkpoint-image wrote, naming its image; --pod FILE keeps that Pod, remapped', async () => {
    const output = join(dir, 'image3.tar');
    assert.equal((await run(['checkpoint-image', archive, '--tag', '127.0.0.1:5000/c:2', '--output', output])).code, 0);
    const r = await run(['restore-pod', output, '--image', '127.0.0.1:5000/c:2', '--node', 'b', '--json']);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(JSON.parse(r.out.join('\n')).spec.containers[0].name, 'counter');
    const podFile = join(dir, 'pod.yaml');
    await writeFile(
      podFile,
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: counter-pod, namespace: default, uid: x, resourceVersion: "9"}',
        'spec:',
        '  nodeName: a',
        '  containers:',
        '  - {name: counter, image: old:1, volumeMounts: [{name: d, mountPath: /data}]}',
        '  volumes:',
        '  - {name: d, hostPath: {path: /srv/a/data, type: Directory}}',
        'status: {phase: Running}',
      ].join('\n'),
    );
    const p = await run([
      'restore-pod',
      archive,
      '--image',
      'reg/c:2',
      '--node',
      'b',
      '--pod',
      podFile,
      '--map',
      '/srv/a=/srv/b',
      '--handler',
      'other',
    ]);
    assert.equal(p.code, 0, p.err.join('\n'));
    const pod = parseYaml(p.out.join('\n'));
    assert.deepEqual(pod.metadata, { name: 'counter-pod', namespace: 'default' });
    assert.equal(pod.status, undefined);
    assert.equal(pod.spec.nodeName, 'b');
    assert.equal(pod.spec.runtimeClassName, 'other');
    assert.equal(pod.spec.containers[0].image, 'reg/c:2');
    assert.deepEqual(pod.spec.volumes[0].hostPath, { path: '/srv/b/data', type: 'Directory' });
  });

  it('restore-pod refuses a volume the archive cannot describe (exit 2: give --pod FILE), and an ARCHIVE without --image', async () => {
    const csi = join(dir, 'csi.tar');
    await writeFile(
      csi,
      containerdArchive({
        extraMounts: [
          {
            destination: '/pv',
            type: 'bind',
            source: '/var/lib/kubelet/pods/5f0c9d8e-4b1a-4c2d-9e3f-0a1b2c3d4e5f/volumes/kubernetes.io~csi/pvc-1',
            options: ['rbind', 'rprivate', 'rw'],
          },
        ],
      }),
    );
    const r = await run(['restore-pod', csi, '--image', 'reg/c:1', '--node', 'b']);
    assert.equal(r.code, 2);
    assert.match(r.err[0]!, /the csi volume pvc-1 at \/pv.*; give the original Pod with --pod FILE$/);
    const noImage = await run(['restore-pod', archive, '--node', 'b']);
    assert.equal(noImage.code, 2);
    assert.match(noImage.err[0]!, /give --image REF/);
  });

  it('show reads the CRIU images inside an archive and inside the OCI layout, as it reads the images dir', async () => {
    const seed = join(FIXTURES, 'images/seed');
    const images = {
      'inventory.img': await readFile(join(seed, 'inventory.img')),
      'mountpoints-10.img': await readFile(join(seed, 'mountpoints-10.img')),
    };
    const withImages = join(dir, 'with-images.tar.gz');
    await writeFile(withImages, gzipSync(containerdArchive({ images })));
    const fromDir = await run(['show', seed, '--json']);
    assert.equal(fromDir.code, 0, fromDir.err.join('\n'));
    const entries = (r: { out: string[] }) =>
      JSON.parse(r.out.join('\n')).files.map((f: { magic: string; entries: unknown }) => [f.magic, f.entries]);
    const fromArchive = await run(['show', withImages, '--json']);
    assert.equal(fromArchive.code, 0, fromArchive.err.join('\n'));
    assert.deepEqual(entries(fromArchive), entries(fromDir));
    assert.deepEqual(
      JSON.parse(fromArchive.out.join('\n')).files.map((f: { file: string }) => f.file),
      [`${withImages}:checkpoint/inventory.img`, `${withImages}:checkpoint/mountpoints-10.img`],
    );
    const layout = join(dir, 'with-images-image.tar');
    assert.equal((await run(['checkpoint-image', withImages, '--tag', 'localhost/x:1', '--output', layout])).code, 0);
    assert.deepEqual(entries(await run(['show', layout, '--json'])), entries(fromDir));
    const text = await run(['show', withImages]);
    assert.match(text.out.join('\n'), /mountpoints-10\.img/);
  });
});
