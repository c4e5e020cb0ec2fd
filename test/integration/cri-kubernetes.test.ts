// Kubernetes through CRI, as a kubelet drives containerd 2.1+ (the sid stack; containerd before 2.1 has
// no CRI checkpoint/restore, and this file skips there, loudly). One bed (test/helpers/cri-bed.ts): nodes
// a and b, a registry, handlers `runc` and `extmount`. One pod carries every mount shape a kubelet
// makes: hostPath plain (/data), hostPath HostToContainer with a node mount made under it after start
// (/prop, /prop/sub), an emptyDir (/cache), a configMap and a secret (read-only, /etc/cfg, /etc/creds), a hostPath file
// (/etc/node-token). Its process keeps a token and a count in memory and writes them to /dev/count
// (the container's own tmpfs, which the checkpoint carries): a restored process shows the same token
// further on, a restarted one a new token.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { CLI, runCli } from '../helpers/cli.js';
import { CriBed, REGISTRY, TEST_IMAGE } from '../helpers/cri-bed.js';
import { CriError, type CriClient } from '../helpers/cri-client.js';
import { continued, counterLoop, hostMounts, missing, requireE2E, waitFor, type Count } from '../helpers/e2e.js';
import { parsePod, removePod, runPod, type PodManifest, type RunningPod } from '../helpers/kubelet-standin.js';

/** Each node's own content in every volume: what the restored process shows must be b's. */
interface NodePaths {
  data: string;
  prop: string;
  token: string;
}

async function nodePaths(host: string, name: string): Promise<NodePaths> {
  const p = { data: join(host, 'srv/data'), prop: join(host, 'srv/prop'), token: join(host, 'etc/node-token') };
  await mkdir(p.data, { recursive: true });
  await mkdir(p.prop, { recursive: true });
  await mkdir(join(host, 'etc'), { recursive: true });
  await writeFile(join(p.data, 'who'), `data-${name}\n`);
  await writeFile(p.token, `token-${name}\n`);
  return p;
}

/** The Pod a user would have written for node a: every mount shape, under `handler`. */
function sourcePod(name: string, handler: string, p: NodePaths): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName: 'a',
      runtimeClassName: handler,
      restartPolicy: 'Never',
      volumes: [
        { name: 'data', hostPath: { path: p.data, type: 'Directory' } },
        { name: 'prop', hostPath: { path: p.prop, type: 'Directory' } },
        { name: 'cache', emptyDir: {} },
        { name: 'counter-config', configMap: { name: 'counter-config' } },
        { name: 'counter-secret', secret: { secretName: 'counter-secret' } },
        { name: 'token', hostPath: { path: p.token, type: 'File' } },
      ],
      containers: [
        {
          name: 'counter',
          image: TEST_IMAGE,
          command: ['/bin/sh', '-c', counterLoop('/dev/count')],
          volumeMounts: [
            { name: 'data', mountPath: '/data' },
            { name: 'prop', mountPath: '/prop', mountPropagation: 'HostToContainer' },
            { name: 'cache', mountPath: '/cache' },
            { name: 'counter-config', mountPath: '/etc/cfg', readOnly: true },
            { name: 'counter-secret', mountPath: '/etc/creds', readOnly: true },
            { name: 'token', mountPath: '/etc/node-token' },
          ],
        },
      ],
    },
  });
}

/** "mountPath source propagation" for each volumeMount of the Pod's first container, sorted. */
function declaredMounts(pod: PodManifest): string[] {
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  return (pod.spec.containers[0]!.volumeMounts ?? [])
    .map((m) => {
      const v = volumes.get(m.name);
      const source = v?.hostPath
        ? `hostPath:${v.hostPath.path}`
        : v?.emptyDir
          ? 'emptyDir'
          : v?.configMap
            ? `configMap:${v.configMap.name}`
            : v?.secret
              ? `secret:${v.secret.secretName}`
              : `? ${JSON.stringify(v)}`;
      return `${m.mountPath} ${source} ${m.mountPropagation ?? 'None'}`;
    })
    .sort();
}

async function exec(cri: CriClient, id: string, cmd: string[]): Promise<string> {
  const r = await cri.execSync(id, cmd);
  assert.equal(r.exitCode, 0, `${cmd.join(' ')} in ${id.slice(0, 12)}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout.trim();
}

async function count(pod: RunningPod): Promise<Count> {
  return waitFor('the counter', async () => {
    const [token, n] = (await exec(pod.node.cri, pod.containers.counter!, ['cat', '/dev/count'])).split(' ');
    return token && n && /^\d+$/.test(n) ? { token, n: Number(n) } : undefined;
  });
}

/** A tmpfs the node mounts at `dir` holding `who`: a node mount under a HostToContainer hostPath. */
async function nodeMount(dir: string, who: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  await writeFile(join(dir, 'who'), `${who}\n`);
}

const mountIds = (dirs: string[]) => dirs.map((d) => hostMounts().find((m) => m.mountpoint === d)?.id);

/** `checkpointctl inspect --mounts` reads the archive and lists the container's mount destinations. */
async function assertCheckpointctlReads(tar: string, destinations: string[]): Promise<void> {
  const r = await execa('checkpointctl', ['inspect', '--mounts', tar], { reject: false });
  assert.equal(r.exitCode, 0, `checkpointctl inspect --mounts ${tar}: ${r.stderr}`);
  for (const d of destinations)
    assert.match(
      String(r.stdout),
      new RegExp(`${d.replace(/[/.]/g, '\\$&')}\\b`),
      `checkpointctl does not list ${d}:\n${r.stdout}`,
    );
}

const needs = ['root', 'criu', 'cri'] as const;

describe('Kubernetes: CRI checkpoint on node a, restore on node b (containerd 2.1+)', () => {
  let bed: CriBed | undefined;
  let a: NodePaths;
  let b: NodePaths;
  // What each node's kubelet gets from the API server (node-specific here, to tell whose bind the container shows).
  const api = {
    a: { configMaps: { 'counter-config': { who: 'cfg-a' } }, secrets: { 'counter-secret': { who: 'secret-a' } } },
    b: { configMaps: { 'counter-config': { who: 'cfg-b' } }, secrets: { 'counter-secret': { who: 'secret-b' } } },
  };
  const checkpointImage = `${REGISTRY}/extmount/counter-checkpoint:1`;
  let restoreYaml = '';
  let ready = false;

  before(async () => {
    if (await missing(needs)) return;
    bed = await CriBed.start();
    a = await nodePaths(bed.a.host, 'a');
    b = await nodePaths(bed.b.host, 'b');
    ready = true;
  });

  // A failed case leaves neither pods nor node mounts to the next one (a passing case asserts it left none).
  afterEach(async () => {
    if (!bed) return;
    for (const node of bed.nodes) {
      for (const p of await node.cri.listPodSandboxes()) {
        await node.cri.stopPodSandbox(p.id);
        await node.cri.removePodSandbox(p.id);
      }
    }
    for (const m of hostMounts()
      .filter((x) => [a.prop, b.prop].some((d) => x.mountpoint.startsWith(`${d}/`)))
      .reverse())
      await execa('umount', [m.mountpoint]);
  });

  after(async () => {
    await bed?.stop();
  });

  const cli = (args: string[]) => bed!.inNetns(process.execPath, [CLI, ...args], { reject: false });

  it("install-runtime --containerd --apply made the nodes' extmount handler (the cases below run it): a re-run changes nothing, one backup is kept", async (t) => {
    if (!(await requireE2E(t, needs)) || !ready) return;
    const node = bed!.a;
    const files = [join(node.dir, 'config.toml'), join(node.dir, 'conf.d/extmount.toml')];
    const read = () => Promise.all(files.map((f) => readFile(f, 'utf8')));
    const before = await read();
    assert.match(before[0]!, /^imports = \[.*conf\.d\/extmount\.toml.*\]$/m);
    assert.match(before[1]!, /BinaryName = ".*\/hooks\/extmount-runc"/);
    const again = await runCli([
      'install-runtime',
      '--containerd',
      '--apply',
      '--containerd-config',
      files[0]!,
      '--drop-in',
      files[1]!,
    ]);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.deepEqual(await read(), before);
    assert.equal((await readdir(node.dir)).filter((f) => f.startsWith('config.toml.extmount-backup-')).length, 1);
  });

  it("extmount handler: the restore Pod on b continues the process, with b's content in every mount shape and both nodes' mounts intact", async (t) => {
    if (!(await requireE2E(t, needs)) || !ready) return;
    const bedNow = bed!;
    const podYaml = sourcePod('counter', 'extmount', a);
    const src = await runPod(bedNow.a, podYaml, api.a);
    const id = src.containers.counter!;
    await count(src);
    // The node mounts under /prop after the container started: only HostToContainer shows them.
    const subA = join(a.prop, 'sub');
    await nodeMount(subA, 'sub-a');
    assert.equal(await exec(bedNow.a.cri, id, ['cat', '/prop/sub/who']), 'sub-a');

    const archive = join(bedNow.dir, 'counter-a.tar');
    const before = await waitFor('the counter to count a while', async () => {
      const c = await count(src);
      return c.n >= 5 ? c : undefined;
    });
    await bedNow.a.cri.checkpointContainer(id, archive);
    // containerd's CRI pauses the task before it asks for the checkpoint: the analysis ran on pause,
    // outside the freeze, and runc ran from the sh with it (docs/docker-runtime.md).
    const state = join(bedNow.a.dir, 'state', id);
    const last = JSON.parse(await readFile(join(state, 'last-checkpoint.json'), 'utf8')) as {
      ok: boolean;
      preparedAt?: string;
    };
    assert.ok(last.ok && last.preparedAt, `the checkpoint was not the one prepared on pause: ${JSON.stringify(last)}`);
    assert.match(await readFile(join(state, 'runtime.log'), 'utf8'), /pause: checkpoint prepared in \d+ ms/);
    await assertCheckpointctlReads(archive, ['/data', '/prop', '/cache', '/etc/cfg', '/etc/creds', '/etc/node-token']);
    const image = await cli(['checkpoint-image', archive, '--tag', checkpointImage, '--push']);
    assert.equal(image.exitCode, 0, `checkpoint-image: ${image.stderr}`);

    // The restore Pod from the image alone (its spec.dump), as after a kubelet checkpoint; and from the
    // original Pod (--pod): both declare the same mounts.
    const maps = ['--map', `${a.data}=${b.data}`, '--map', `${a.prop}=${b.prop}`, '--map', `${a.token}=${b.token}`];
    const restore = await cli(['restore-pod', checkpointImage, '--node', 'b', ...maps]);
    assert.equal(restore.exitCode, 0, `restore-pod: ${restore.stderr}`);
    restoreYaml = restore.stdout;
    t.diagnostic(`restore-pod ${checkpointImage} --node b:\n${restoreYaml}`);
    const podFile = join(bedNow.dir, 'counter-a.yaml');
    await writeFile(podFile, podYaml);
    const fromPod = await cli([
      'restore-pod',
      archive,
      '--image',
      checkpointImage,
      '--node',
      'b',
      '--pod',
      podFile,
      ...maps,
    ]);
    assert.equal(fromPod.exitCode, 0, `restore-pod --pod: ${fromPod.stderr}`);
    const pod = parsePod(restoreYaml);
    assert.equal(pod.spec.nodeName, 'b');
    assert.equal(pod.spec.runtimeClassName, 'extmount');
    assert.equal(pod.spec.containers[0]!.image, checkpointImage);
    assert.deepEqual(declaredMounts(pod), declaredMounts(parsePod(fromPod.stdout)));
    assert.deepEqual(
      declaredMounts(pod).filter(
        (m) => m.startsWith('/data ') || m.startsWith('/prop ') || m.startsWith('/etc/node-token '),
      ),
      [
        `/data hostPath:${b.data} None`,
        `/etc/node-token hostPath:${b.token} None`,
        `/prop hostPath:${b.prop} HostToContainer`,
      ],
    );

    // Node b's own mount under its /prop, made before the restore as any node mount would be.
    const subB = join(b.prop, 'sub');
    await nodeMount(subB, 'sub-b');
    const nodeMountsBefore = mountIds([subA, subB]);
    const dst = await runPod(bedNow.b, restoreYaml, api.b);
    const rid = dst.containers.counter!;
    assert.equal((await bedNow.b.cri.containerStatus(rid)).state, 'CONTAINER_RUNNING');
    const now = await waitFor('the restored counter to go on', async () => {
      const c = await count(dst);
      return c.n > before.n ? c : undefined;
    });
    assert.ok(
      continued(now, before),
      `not the same process: before ${JSON.stringify(before)}, after ${JSON.stringify(now)}`,
    );
    t.diagnostic(`counter on a at the checkpoint ${JSON.stringify(before)}, restored on b ${JSON.stringify(now)}`);
    const cat = (path: string) => exec(bedNow.b.cri, rid, ['cat', path]);
    assert.equal(await cat('/data/who'), 'data-b');
    assert.equal(await cat('/prop/sub/who'), 'sub-b');
    assert.equal(await cat('/etc/cfg/who'), 'cfg-b');
    assert.equal(await cat('/etc/creds/who'), 'secret-b');
    assert.equal(await cat('/etc/node-token'), 'token-b');
    // The configMap stays read-only; the emptyDir is b's, new for the new pod.
    for (const ro of ['/etc/cfg', '/etc/creds'])
      assert.notEqual(
        (await bedNow.b.cri.execSync(rid, ['touch', `${ro}/x`])).exitCode,
        0,
        `${ro} is writable after the restore`,
      );
    await exec(bedNow.b.cri, rid, ['sh', '-c', 'echo restored > /cache/mark']);
    assert.ok(
      existsSync(join(dst.volumesDir, 'kubernetes.io~empty-dir/cache/mark')),
      "the emptyDir is not b's kubelet dir",
    );
    // Propagation kept: a node mount made under /prop after the restore shows in the container.
    const lateB = join(b.prop, 'late');
    await nodeMount(lateB, 'late-b');
    assert.equal(
      await waitFor(
        '/prop/late in the restored container',
        async () => (await cat('/prop/late/who').catch(() => '')) || undefined,
      ),
      'late-b',
    );
    // The source was left running by the checkpoint (the kubelet's is non-disruptive), its mount untouched.
    assert.equal((await bedNow.a.cri.containerStatus(id)).state, 'CONTAINER_RUNNING');
    assert.equal((await count(src)).token, before.token);
    assert.deepEqual(mountIds([subA, subB]), nodeMountsBefore, 'a node mount was replaced or lost');

    await removePod(dst);
    await removePod(src);
    assert.deepEqual(await bedNow.leftovers(), []);
    assert.deepEqual(mountIds([subA, subB]), nodeMountsBefore, 'removing the pods took a node mount');
    for (const m of [lateB, subA, subB]) await execa('umount', [m]);

    // The image the restore pulled on b: checkpointctl reads its content as an archive too.
    const mnt = join(bedNow.dir, 'image-mnt');
    await mkdir(mnt);
    await bedNow.ctr(bedNow.b, ['-n', 'k8s.io', 'images', 'mount', checkpointImage, mnt]);
    try {
      const imageTar = join(bedNow.dir, 'counter-image.tar');
      await execa('tar', ['-C', mnt, '-cf', imageTar, '.']);
      await assertCheckpointctlReads(imageTar, ['/data', '/prop']);
    } finally {
      await bedNow.ctr(bedNow.b, ['-n', 'k8s.io', 'images', 'unmount', '--rm', mnt]);
    }
  });

  it('a restore Pod that does not declare a checkpointed mount is refused at start, one extmount line naming it', async (t) => {
    if (!(await requireE2E(t, needs)) || !ready) return;
    assert.ok(restoreYaml, 'no restore Pod from the test before');
    const pod = parsePod(restoreYaml);
    const container = pod.spec.containers[0]!;
    const prop = container.volumeMounts?.find((m) => m.mountPath === '/prop');
    assert.ok(prop, 'the restore Pod declares no /prop');
    container.volumeMounts = container.volumeMounts!.filter((m) => m !== prop);
    pod.spec.volumes = pod.spec.volumes!.filter((v) => v.name !== prop.name);
    pod.metadata.name = 'counter-lacking';
    await assert.rejects(runPod(bed!.b, stringify(pod), api.b), (err: unknown) => {
      assert.ok(err instanceof CriError, String(err));
      assert.equal(err.method, 'StartContainer', err.message);
      const lines = err.details.split('\n').filter((l) => /extmount/.test(l));
      assert.equal(lines.length, 1, `expected one extmount line: ${err.details}`);
      assert.match(lines[0]!, /\/prop\b/);
      t.diagnostic(`StartContainer refused: ${lines[0]}`);
      return true;
    });
    for (const p of await bed!.b.cri.listPodSandboxes()) {
      await bed!.b.cri.stopPodSandbox(p.id);
      await bed!.b.cri.removePodSandbox(p.id);
    }
    assert.deepEqual(await bed!.leftovers(), []);
  });

  it("runc handler: the same pod's checkpoint fails on the node mount under HostToContainer (criu#2840)", async (t) => {
    if (!(await requireE2E(t, needs)) || !ready) return;
    const bedNow = bed!;
    const src = await runPod(bedNow.a, sourcePod('counter-runc', 'runc', a), api.a);
    try {
      await count(src);
      await nodeMount(join(a.prop, 'sub'), 'sub-a');
      const archive = join(bedNow.dir, 'counter-runc.tar');
      const err = await bedNow.a.cri.checkpointContainer(src.containers.counter!, archive).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(
        err,
        "runc's checkpoint of a HostToContainer hostPath with a node mount under it now works: upstream caught up (criu#2840, runc passes no --enable-external-masters); make this a restore case",
      );
      assert.ok(err instanceof CriError, String(err));
      // containerd's message names CRIU's dump log (kept in the task's dir while the container runs).
      const dumpLog = /path= (\S+\/criu-dump\.log)/.exec(err.details)?.[1];
      assert.ok(dumpLog, err.details);
      assert.match(await readFile(dumpLog, 'utf8'), /has unreachable sharing/);
      // The container runs on after the failed checkpoint.
      assert.equal((await bedNow.a.cri.containerStatus(src.containers.counter!)).state, 'CONTAINER_RUNNING');
    } finally {
      await removePod(src);
    }
    assert.deepEqual(await bedNow.leftovers(), []);
  });
});
