// What the copy on the target keeps of the source's Config and HostConfig, field by field, as the
// engines of each stack report them: every field is compared, and the only differences allowed are
// the ones migrate makes on purpose (listed below, each with its reason).
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { restoreBlocker } from '../../src/core/docker/restore-blockers.js';
import { LABEL_FROM } from '../../src/core/migrate/migrate-config.js';
import { runCli } from '../helpers/cli.js';
import { startPair, TEST_IMAGE, type Daemon, type EnginePair } from '../helpers/dockerd.js';
import { missing, requireE2E } from '../helpers/e2e.js';

const needs = ['root', 'dockerd', 'criu'] as const;

type Fields = Record<string, unknown>;

/** Keys whose values differ between two inspect sections, each with both values. */
function differences(source: Fields, target: Fields, ignore: readonly string[]): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  for (const key of new Set([...Object.keys(source), ...Object.keys(target)])) {
    if (ignore.includes(key)) continue;
    try {
      assert.deepStrictEqual(target[key], source[key]);
    } catch {
      out[key] = [source[key], target[key]];
    }
  }
  return out;
}

describe("migrate keeps the container's configuration", () => {
  let pair: EnginePair | undefined;
  before(async () => {
    if (!(await missing(needs))) pair = await startPair('extmount-fields-');
  });
  after(() => pair?.stop());

  it('every Config and HostConfig field of a container made with many settings is the same on the target', async (t) => {
    if (!(await requireE2E(t, needs))) return;
    const { base, a, b, containerd } = pair!;
    const data = await mkdtemp(join(base, 'data-'));
    const created = await a.docker.createContainer({
      name: 'fields1',
      Image: TEST_IMAGE,
      Entrypoint: ['sh', '-c'],
      Cmd: ['while true; do sleep 1; done'],
      Env: ['A=1', 'B=two words'],
      Labels: { 'com.example.role': 'audit' },
      WorkingDir: '/tmp',
      User: '0:0',
      Hostname: 'fieldhost',
      Domainname: 'example.test',
      StopSignal: 'SIGINT',
      StopTimeout: 7,
      Healthcheck: { Test: ['CMD', 'true'], Interval: 60e9, Retries: 2 },
      HostConfig: {
        NetworkMode: 'none',
        Binds: [`${data}:/data:ro`],
        Tmpfs: { '/scratch': 'size=1m' },
        Memory: 256 * 1024 * 1024,
        CpuShares: 512,
        PidsLimit: 100,
        CapAdd: ['SYS_PTRACE'],
        CapDrop: ['MKNOD'],
        Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
        ShmSize: 32 * 1024 * 1024,
        OomScoreAdj: 100,
        GroupAdd: ['10'],
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '1m' } },
      },
    } as never);
    await created.start();
    const source = await created.inspect();
    const r = await runCli(['migrate', 'fields1', '--from', a.host, '--to', b.host]);
    assert.equal(r.exitCode, 0, r.stderr);
    const target = await b.docker.getContainer('fields1').inspect();
    assert.equal(target.State.Running, true);

    // Config: the label that ties the copy to its source is added; a --network none copy is made
    // NetworkDisabled where containerd#12141 keeps the engine from restoring the shape.
    const copyNeeded =
      restoreBlocker(containerd, { networkMode: 'none', networkDisabled: false, bridgeExists: false }) !== undefined;
    const config = differences(source.Config as unknown as Fields, target.Config as unknown as Fields, [
      'Labels',
      'NetworkDisabled',
    ]);
    assert.deepEqual(config, {}, 'Config fields the copy lost or changed');
    assert.deepEqual(target.Config.Labels, { ...source.Config.Labels, [LABEL_FROM]: source.Id });
    assert.equal((target.Config as { NetworkDisabled?: boolean }).NetworkDisabled === true, copyNeeded);

    // HostConfig: binds are given as Mounts (a missing source then fails instead of being created empty).
    const host = differences(source.HostConfig as unknown as Fields, target.HostConfig as unknown as Fields, [
      'Binds',
      'Mounts',
    ]);
    assert.deepEqual(host, {}, 'HostConfig fields the copy lost or changed');
    // A NetworkDisabled copy gets /etc/hosts, /etc/hostname and /etc/resolv.conf as binds (migrate/network-files.ts).
    const netFiles = (target.Mounts ?? [])
      .filter((m) => m.Destination.startsWith('/etc/'))
      .map((m) => m.Destination)
      .sort();
    assert.deepEqual(netFiles, copyNeeded ? ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'] : []);
    const binds = target.HostConfig.Mounts?.filter((m) => m.Type === 'bind' && !m.Target.startsWith('/etc/')).map(
      (m) => ({ Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly }),
    );
    assert.deepEqual(binds, [{ Source: data, Target: '/data', ReadOnly: true }]);
    const mounts = (c: typeof source) =>
      (c.Mounts ?? [])
        .filter((m) => !m.Destination.startsWith('/etc/'))
        .map((m) => ({ type: m.Type, source: m.Source, destination: m.Destination, rw: m.RW }))
        .sort((x, y) => x.destination.localeCompare(y.destination));
    assert.deepEqual(mounts(target), mounts(source));
    for (const file of ['hostname', 'hosts']) {
      const read = async (d: Daemon) => (await d.cli(['exec', 'fields1', 'cat', `/etc/${file}`])).stdout;
      if (file === 'hostname') assert.equal((await read(b)).trim(), 'fieldhost');
      else assert.match(await read(b), /localhost/);
    }
  });
});
