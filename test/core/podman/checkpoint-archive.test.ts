// `restore --import`'s pure parts on the dumps of a real Podman archive (test/fixtures/podman-archive).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import { encodeFileEntry, END_OF_ARCHIVE, encodeEntry, tarFiles } from '../../../src/core/migrate/migrate-tar.js';
import { parseMigrateMaps, planBindTargets } from '../../../src/core/migrate/migrate-plan.js';
import { archiveMounts, compressionOf, parseDumps, rewriteDumps } from '../../../src/core/podman/checkpoint-archive.js';
import { parseRawJson, stringifyRawJson } from '../../../src/core/podman/raw-json.js';
import { fixture } from '../../helpers/fixtures.js';

const dumps = () =>
  parseDumps(
    Buffer.from(fixture('podman-archive/4.3.1/config.dump')),
    Buffer.from(fixture('podman-archive/4.3.1/spec.dump')),
  );
const config = { remap: [], hostPaths: { allow: [], deny: ['/etc', '/var/lib/containers'] } };

describe('podman checkpoint archive dumps', () => {
  it("sorts every mount of spec.dump: the container's binds, its local volume; Podman's own files and kernel filesystems pass", () => {
    assert.deepEqual(archiveMounts(dumps()), {
      binds: [{ source: '/tmp/pmx/data', destination: '/data', readOnly: false, propagation: 'rprivate' }],
      volumes: [{ name: 'pmvol', destination: '/vol' }],
    });
  });

  it('rewrites the bind in both dumps and changes nothing else', () => {
    const d = dumps();
    const { binds, volumes } = archiveMounts(d);
    const targets = planBindTargets(binds, parseMigrateMaps(['/tmp/pmx=/srv/b']), config, []);
    assert.deepEqual(
      targets.map((t) => [t.target, t.from]),
      [['/srv/b/data', 'map']],
    );
    const out = rewriteDumps(d, targets, volumes, '/var/lib/other/volumes');
    const before = {
      config: JSON.parse(fixture('podman-archive/4.3.1/config.dump')),
      spec: JSON.parse(fixture('podman-archive/4.3.1/spec.dump')),
    };
    const after = { config: JSON.parse(out.config.toString()), spec: JSON.parse(out.spec.toString()) };
    const sources = (mounts: { destination: string; source: string }[]) =>
      mounts.map((m) => `${m.destination}=${m.source}`);
    assert.deepEqual(
      sources(after.config.spec.mounts).filter((m) => m.startsWith('/data=')),
      ['/data=/srv/b/data'],
    );
    assert.deepEqual(
      sources(after.spec.mounts).filter((m) => m.startsWith('/data=') || m.startsWith('/vol=')),
      ['/data=/srv/b/data', '/vol=/var/lib/other/volumes/pmvol/_data'],
    );
    // Podman's own files keep their sources (Podman drops them and makes its own).
    assert.equal(
      after.spec.mounts.filter((m: { source: string }) => m.source.startsWith('/tmp/pmx/')).length,
      before.spec.mounts.filter((m: { source: string }) => m.source.startsWith('/tmp/pmx/')).length - 2,
    );
    // The exporting host's pid files (its runroot) are left to Podman to place.
    assert.deepEqual([after.config.conmonPidFile, after.config.pid_file], ['', '']);
    assert.match(before.config.conmonPidFile, new RegExp(`/${before.config.id}/userdata/conmon.pid$`));
    after.config.conmonPidFile = before.config.conmonPidFile;
    after.config.pid_file = before.config.pid_file;
    // Put the source back: every other value is as Podman wrote it.
    after.config.spec.mounts.find((m: { destination: string }) => m.destination === '/data').source = '/tmp/pmx/data';
    after.spec.mounts.find((m: { destination: string }) => m.destination === '/data').source = '/tmp/pmx/data';
    after.spec.mounts.find((m: { destination: string }) => m.destination === '/vol').source = before.spec.mounts.find(
      (m: { destination: string }) => m.destination === '/vol',
    ).source;
    assert.deepEqual(after, before);
  });

  it('a bind mapped to a denied path is refused with exit 2', () => {
    const d = dumps();
    assert.throws(
      () => planBindTargets(archiveMounts(d).binds, parseMigrateMaps(['/tmp/pmx/data=/etc/x']), config, []),
      (e: unknown) => e instanceof ExtmountError && e.exitCode === 2 && /denied host path \/etc/.test(e.message),
    );
  });

  it('refuses what it cannot check: odd sources, hooks, mounts of other kinds, a runtime by path, a bind hidden by case', () => {
    const cfg = (extra: object = {}) =>
      Buffer.from(
        JSON.stringify({ id: 'x', spec: { mounts: [] }, namedVolumes: [{ volumeName: 'v', dest: '/v' }], ...extra }),
      );
    const spec = (mounts: object[], extra: object = {}) => Buffer.from(JSON.stringify({ mounts, ...extra }));
    const check = (config: Buffer, specDump: Buffer, pattern: RegExp) =>
      assert.throws(
        () => archiveMounts(parseDumps(config, specDump)),
        (e: unknown) => e instanceof ExtmountError && e.exitCode === 2 && pattern.test(e.message),
        pattern.source,
      );
    for (const source of ['data', '/a\nb', '/a/../etc', 7])
      check(
        cfg(),
        spec([{ destination: '/data', type: 'bind', source, options: ['rbind'] }]),
        /without a clean absolute source/,
      );
    check(cfg(), spec([], { hooks: { prestart: [{ path: '/bin/sh' }] } }), /has OCI hooks/);
    check(
      cfg(),
      spec([{ destination: '/x', type: 'overlay', source: 'overlay', options: ['lowerdir=/etc'] }]),
      /mounts \/x as "overlay"/,
    );
    check(
      cfg(),
      spec([{ destination: '/v', type: 'bind', source: '/etc', options: ['rbind'] }]),
      /binds volume v from \/etc, not a local volume's folder/,
    );
    check(
      cfg(),
      spec([
        { destination: '/d', type: 'bind', source: '/a' },
        { destination: '/d', type: 'tmpfs', source: 'tmpfs' },
      ]),
      /mounts \/d twice/,
    );
    check(cfg({ runtime: '/tmp/evil' }), spec([]), /names its OCI runtime "\/tmp\/evil"/);
    // Go reads "Source" into the same field as "source": two of them are refused, one alone is the source.
    check(
      cfg(),
      Buffer.from('{"mounts":[{"destination":"/d","type":"bind","source":"/srv/a","Source":"/etc"}]}'),
      /a second key "Source" for one field/,
    );
    assert.deepEqual(
      archiveMounts(
        parseDumps(cfg(), Buffer.from('{"Mounts":[{"Destination":"/d","Type":"bind","Source":"/etc"}]}')),
      ).binds.map((b) => b.source),
      ['/etc'],
    );
    assert.throws(() => parseDumps(Buffer.from('{"spec": 1}'), spec([])), /no container spec/);
    assert.deepEqual(
      archiveMounts(
        parseDumps(
          cfg(),
          spec([
            { destination: '/etc/hosts', type: 'bind', source: '/x/hosts' },
            { destination: '/proc', type: 'proc', source: 'proc' },
          ]),
        ),
      ),
      { binds: [], volumes: [] },
    );
  });

  it('knows the archive kinds Podman writes by their first bytes', () => {
    assert.equal(compressionOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
    assert.equal(compressionOf(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
    assert.equal(
      compressionOf(
        encodeEntry({
          name: 'checkpoint',
          type: 'dir',
          mode: 0o700,
          uid: 0,
          gid: 0,
          mtime: 0,
          devmajor: 0,
          devminor: 0,
        }),
      ),
      'none',
    );
    assert.equal(compressionOf(Buffer.from('PK\x03\x04')), undefined);
  });
});

describe('raw JSON', () => {
  it("keeps Go's uint64 values exactly (JSON.parse would round them)", () => {
    const text =
      '{"rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":1.5e3}],"a":"é\\n\\"<","b":[true,false,null,-0]}';
    assert.equal(stringifyRawJson(parseRawJson(text, 'x')), text);
  });

  it('refuses malformed or too deeply nested text with exit 2', () => {
    for (const text of ['{"a":}', '[1,]', '{"a":1} x', '"open', '['.repeat(100) + ']'.repeat(100), '{a:1}']) {
      assert.throws(
        () => parseRawJson(text, 'x'),
        (e: unknown) => e instanceof ExtmountError && e.exitCode === 2,
        text.slice(0, 20),
      );
    }
  });

  it('a "__proto__" key is data, not a prototype', () => {
    const value = parseRawJson('{"__proto__":{"polluted":true}}', 'x') as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(stringifyRawJson(value as never), '{"__proto__":{"polluted":true}}');
  });
});

describe('tarFiles', () => {
  it('reads the files of a small archive, past pax headers; refuses a cut one', () => {
    const long = `checkpoint/${'n'.repeat(120)}`;
    const archive = Buffer.concat([
      encodeFileEntry({ name: 'config.dump', mode: 0o600, uid: 0, gid: 0, mtime: 0 }, Buffer.from('{"a":1}')),
      encodeEntry({ name: long, type: 'dir', mode: 0o700, uid: 0, gid: 0, mtime: 0, devmajor: 0, devminor: 0 }),
      encodeFileEntry({ name: 'spec.dump', mode: 0o600, uid: 0, gid: 0, mtime: 0 }, Buffer.alloc(700, 0x61)),
      END_OF_ARCHIVE,
    ]);
    const files = tarFiles(archive);
    assert.deepEqual([...files.keys()], ['config.dump', 'spec.dump']);
    assert.equal(files.get('config.dump')!.toString(), '{"a":1}');
    assert.equal(files.get('spec.dump')!.length, 700);
    assert.throws(() => tarFiles(archive.subarray(0, 1024 + 100)), /ends in the middle/);
  });
});
