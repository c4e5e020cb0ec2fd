import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  LABEL_FROM,
  checkpointName,
  isMigrateCheckpointName,
  decodeRestartPolicy,
  encodeRestartPolicy,
  migrationRefusal,
  targetCreateOptions,
  isNetworkFilesBind,
  networkFilesVolume,
  type SourceInspect,
} from '../../../src/core/migrate/migrate-config.js';
import type { BindTarget } from '../../../src/core/migrate/migrate-plan.js';

function source(overrides: Partial<SourceInspect['HostConfig']> = {}): SourceInspect {
  return {
    Id: 'a'.repeat(64),
    Name: '/web',
    Image: 'sha256:' + 'b'.repeat(64),
    State: { Running: true, Pid: 42 },
    Config: {
      Image: 'busybox:1',
      Cmd: ['sh', '-c', 'loop'],
      Entrypoint: null,
      Env: ['A=1'],
      User: '1000',
      WorkingDir: '/w',
      Labels: { app: 'web' },
      Tty: false,
      Hostname: 'web1',
    },
    HostConfig: {
      Binds: ['/srv/a:/data', 'vol1:/vol'],
      NetworkMode: 'none',
      Runtime: 'extmount',
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      Mounts: [{ Type: 'tmpfs', Target: '/scratch' }],
      Memory: 1024,
      ...overrides,
    },
    Mounts: [
      { Type: 'bind', Source: '/srv/a', Destination: '/data', RW: true, Propagation: 'rprivate' },
      {
        Type: 'volume',
        Name: 'vol1',
        Source: '/var/lib/docker/volumes/vol1/_data',
        Destination: '/vol',
        RW: false,
        Driver: 'local',
      },
    ],
  };
}

const binds: BindTarget[] = [
  { source: '/srv/a', target: '/srv/b', destination: '/data', readOnly: false, propagation: 'rprivate', from: 'map' },
];

describe('migrationRefusal', () => {
  it('accepts a plain container', () => assert.equal(migrationRefusal(source()), undefined));
  it('refuses --rm (the checkpoint exit would delete it) and shared IPC, PID, network namespaces', () => {
    assert.match(migrationRefusal(source({ AutoRemove: true }))!, /--rm/);
    assert.match(migrationRefusal(source({ IpcMode: 'shareable' }))!, /IPC mode/);
    assert.match(migrationRefusal(source({ PidMode: 'container:x' }))!, /PID mode/);
    assert.match(migrationRefusal(source({ NetworkMode: 'container:x' }))!, /network mode/);
    assert.match(migrationRefusal(source({ VolumesFrom: ['x'] }))!, /volumes-from/);
  });
});

describe('targetCreateOptions', () => {
  const body = targetCreateOptions(source(), { name: 'web2', image: 'busybox:1', sourceId: 'a'.repeat(64), binds }) as {
    name: string;
    Image: string;
    Cmd: string[];
    Entrypoint?: unknown;
    Env: string[];
    User: string;
    WorkingDir: string;
    Hostname: string;
    Labels: Record<string, string>;
    HostConfig: Record<string, unknown> & { Mounts: Array<Record<string, unknown>> };
  };

  it('keeps the command, environment, user, workdir, labels and engine settings', () => {
    assert.equal(body.name, 'web2');
    assert.equal(body.Image, 'busybox:1');
    assert.deepEqual(body.Cmd, ['sh', '-c', 'loop']);
    assert.equal('Entrypoint' in body, false);
    assert.deepEqual(body.Env, ['A=1']);
    assert.equal(body.User, '1000');
    assert.equal(body.WorkingDir, '/w');
    assert.equal(body.Hostname, 'web1');
    assert.equal(body.HostConfig.Runtime, 'extmount');
    assert.equal(body.HostConfig.NetworkMode, 'none');
    assert.equal(body.HostConfig.Memory, 1024);
  });

  it('labels it with the source id, and holds back the restart policy until it is verified', () => {
    assert.deepEqual(body.Labels, { app: 'web', [LABEL_FROM]: 'a'.repeat(64) });
    assert.deepEqual(body.HostConfig.RestartPolicy, { Name: 'no' });
  });

  it('gives binds remapped as Mounts (a missing source fails), volumes by name without copy-up, tmpfs as they were', () => {
    assert.equal(body.HostConfig.Binds, undefined);
    assert.deepEqual(body.HostConfig.Mounts, [
      { Type: 'bind', Source: '/srv/b', Target: '/data', ReadOnly: false, BindOptions: { Propagation: 'rprivate' } },
      { Type: 'volume', Source: 'vol1', Target: '/vol', ReadOnly: true, VolumeOptions: { NoCopy: true } },
      { Type: 'tmpfs', Target: '/scratch' },
    ]);
  });

  it('carries NetworkDisabled (the network shape a checkpoint was dumped with must not change)', () => {
    assert.equal('NetworkDisabled' in body, false);
    const disabled = source();
    disabled.Config.NetworkDisabled = true;
    assert.equal(targetCreateOptions(disabled, { name: 'x', image: 'i', sourceId: 'a', binds }).NetworkDisabled, true);
  });

  it('creates a --network none copy with NetworkDisabled when asked, keeping its network mode', () => {
    const none = source();
    none.HostConfig.NetworkMode = 'none';
    const copy = targetCreateOptions(none, { name: 'x', image: 'i', sourceId: 'a', binds, networkDisabled: true }) as {
      NetworkDisabled?: boolean;
      HostConfig: { NetworkMode?: string };
    };
    assert.equal(copy.NetworkDisabled, true);
    assert.equal(copy.HostConfig.NetworkMode, 'none');
  });

  it("makes a copy's network files anew: their binds from the source are left out, the new ones added", () => {
    const hop = source();
    const netfile = {
      Type: 'bind',
      Source: '/var/lib/docker/volumes/extmount-netfiles-0123456789ab/_data/hosts',
      Destination: '/etc/hosts',
      RW: true,
    };
    hop.Mounts = [...(hop.Mounts ?? []), netfile];
    const extra = {
      Type: 'bind',
      Source: '/x/volumes/extmount-netfiles-ba9876543210/_data/hosts',
      Target: '/etc/hosts',
    };
    const copy = targetCreateOptions(hop, { name: 'x', image: 'i', sourceId: 'a', binds, extraMounts: [extra] }) as {
      HostConfig: { Mounts: Array<{ Target: string; Source?: string }> };
    };
    assert.deepEqual(
      copy.HostConfig.Mounts.filter((m) => m.Target === '/etc/hosts'),
      [extra],
    );
  });

  it('knows a network-files bind by its volume, file and destination only', () => {
    const ok = {
      Source: '/d/volumes/extmount-netfiles-0123456789ab/_data/resolv.conf',
      Destination: '/etc/resolv.conf',
    };
    assert.equal(isNetworkFilesBind(ok), true);
    assert.equal(isNetworkFilesBind({ ...ok, Destination: '/etc/hosts' }), false);
    assert.equal(isNetworkFilesBind({ ...ok, Type: 'volume' }), false);
    assert.equal(
      isNetworkFilesBind({ ...ok, Source: '/d/volumes/extmount-netfiles-0123456789ab/_data/shadow' }),
      false,
    );
    assert.equal(isNetworkFilesBind({ ...ok, Source: '/home/me/resolv.conf' }), false);
    assert.equal(networkFilesVolume('0123456789abcdef'), 'extmount-netfiles-0123456789ab');
  });

  it('refuses a bind without a planned target', () => {
    assert.throws(
      () => targetCreateOptions(source(), { name: 'x', image: 'i', sourceId: 'a', binds: [] }),
      /no planned target/,
    );
  });
});

describe('restart policy record and checkpoint name', () => {
  it('round-trips the restart policy; anything unreadable is "no"', () => {
    assert.deepEqual(decodeRestartPolicy(encodeRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 3 })), {
      Name: 'on-failure',
      MaximumRetryCount: 3,
    });
    assert.deepEqual(decodeRestartPolicy(encodeRestartPolicy(undefined)), { Name: 'no' });
    assert.deepEqual(decodeRestartPolicy('{"Name":"sometimes"}'), { Name: 'no' });
    assert.deepEqual(decodeRestartPolicy('not json'), { Name: 'no' });
  });

  it('names checkpoints as the engine allows, sortable by time, apart per run', () => {
    const name = checkpointName(new Date('2026-11-27T00:10:10.123Z'), '0a1b2c3d');
    assert.equal(name, 'extmount-migrate-20261127t001010z-0a1b2c3d');
    assert.match(name, /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
    assert.notEqual(checkpointName(new Date('2026-11-27T00:10:10.123Z'), '0a1b2c3e'), name);
    assert.throws(() => checkpointName(new Date(), 'x y'), /8 hex digits/);
  });
  it('knows its checkpoint names, old and new, and nothing else', () => {
    for (const ok of ['extmount-migrate-20261127t001010z-0a1b2c3d', 'extmount-migrate-20261127t001010z'])
      assert.equal(isMigrateCheckpointName(ok), true, ok);
    for (const no of [
      'extmount-migrate-x',
      'extmount-migrate-20261127t001010z-../x',
      'cp1',
      'extmount-migrate-20261127t001010z-0A1B2C3D',
    ])
      assert.equal(isMigrateCheckpointName(no), false, no);
  });
});
