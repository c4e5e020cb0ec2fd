import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import { checkManifestAgainstImages } from '../../../src/core/checkpoint/image-check.js';
import {
  MANIFEST_MAX_ITEMS,
  MANIFEST_MAX_MOUNTS,
  manifestFromPlan,
  renderManifest,
} from '../../../src/core/checkpoint/manifest.js';
import { parseManifest } from '../../../src/core/checkpoint/manifest-read.js';
import type { MountEntry } from '../../../src/core/images/criu-image.js';

const plan = {
  rootHostPath: '/tmp/x/root',
  enableExternalMasters: true,
  enableExternalSharing: false,
  mounts: [
    {
      mountId: 64,
      mountpoint: '/bar',
      key: 'barmount',
      hostPath: '/tmp/x/foo',
      kind: 'bind' as const,
      fileType: 'directory' as const,
      readOnly: false,
      propagation: 'private',
      reason: 'r',
    },
    {
      mountId: 65,
      mountpoint: '/vol',
      key: 'myvol',
      hostPath: '/var/lib/docker/volumes/myvol/_data',
      kind: 'volume' as const,
      fileType: undefined,
      volumeName: 'myvol',
      readOnly: true,
      propagation: 'slave',
      reason: 'r',
    },
  ],
};
const meta = {
  extmount: '0.1.0',
  criu: '4.1.1',
  createdAt: '2026-11-26T00:00:00.000Z',
  target: { kind: 'pid' as const, pid: 42, root: '/tmp/x/root' },
};

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseManifest(text, 'm.yaml'),
    (e: unknown) => e instanceof ExtmountError && e.exitCode === 2 && pattern.test(e.message),
  );
}

describe('manifest', () => {
  const text = renderManifest(manifestFromPlan(plan, meta));

  it('round-trips through YAML', () => {
    const manifest = parseManifest(text, 'm.yaml');
    assert.deepEqual(manifest, manifestFromPlan(plan, meta));
    assert.equal(manifest.mounts[1]!.volume, 'myvol');
    assert.equal(manifest.mounts[1]!.type, 'unknown');
  });

  it('refuses what it cannot validate', () => {
    rejects('format: other/v9\n', /unknown format/);
    rejects('[1, 2]', /expected a YAML mapping/);
    rejects('{{{', /not valid YAML/);
    rejects(text.replace('key: barmount', 'key: "bar:mount"'), /may only hold/);
    rejects(text.replace('key: barmount', 'key: "../x"'), /contains "\.\."/);
    rejects(text.replace('key: myvol', 'key: barmount'), /key barmount appears twice/);
    rejects(text.replace('mountpoint: /bar', 'mountpoint: bar'), /mountpoint must be an absolute path/);
    rejects(text.replace('mountpoint: /bar', 'mountpoint: "/b\\nar"'), /mountpoint must be an absolute path/);
    rejects(
      text.replace('hostPath: /tmp/x/foo', 'hostPath: /tmp/../etc'),
      /hostPath must be null or an absolute path without/,
    );
    rejects(text.replace('hostPath: /tmp/x/foo', 'hostPath: "/tmp/\\0x"'), /hostPath/);
    rejects(text.replace('kind: bind', 'kind: evil'), /kind must be one of/);
    rejects(text.replace('pid: 42', 'pid: -1'), /target.pid/);
    rejects(text.replace('enableExternalMasters: true', 'enableExternalMasters: yes please'), /enableExternalMasters/);
    rejects(`${text}\nx: &a [1]\ny: *a\n`, /YAML/);
  });

  it('refuses aliases, unknown and non-core tags, merge keys and a second document, without printing a warning', () => {
    const warnings: unknown[] = [];
    const onWarning = (w: unknown) => warnings.push(w);
    const savedWarn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args);
    process.on('warning', onWarning);
    try {
      rejects(
        text.replace('kind: bind', 'kind: &k bind').replace('kind: volume', 'kind: *k'),
        /YAML (aliases|anchors) are not allowed/,
      );
      rejects(text.replace('kind: volume', 'kind: *k'), /not valid YAML|YAML aliases are not allowed/);
      rejects(text.replace('kind: bind', 'kind: &k bind'), /YAML anchors are not allowed \(&k\)/);
      rejects(text.replace('kind: bind', 'kind: !evil bind'), /not valid YAML \(Unresolved tag: !evil/);
      rejects(
        text.replace('propagation: private', 'propagation: !!binary cHJpdmF0ZQ=='),
        /not valid YAML \(Unresolved tag: tag:yaml.org,2002:binary/,
      );
      rejects(text.replace('propagation: private', 'propagation: !!set {a}'), /not valid YAML \(Unresolved tag/);
      rejects(
        text.replace('propagation: private', 'propagation: !!str private'),
        /YAML tags are not allowed \(tag:yaml.org,2002:str\)/,
      );
      rejects(text.replace('propagation: private', 'propagation: !!js/function "x"'), /not valid YAML/);
      rejects(`${text}---\nformat: extmount/v1\n`, /not valid YAML/);
      rejects(
        text.replace('key: barmount', 'key: barmount\n    key: other'),
        /not valid YAML \(Map keys must be unique/,
      );
    } finally {
      console.warn = savedWarn;
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });

  it('refuses more mounts than MANIFEST_MAX_MOUNTS, and a text with more items than MANIFEST_MAX_ITEMS before parsing it', () => {
    const one = text.slice(text.indexOf('  - key: barmount'), text.indexOf('  - key: myvol'));
    const many = Array.from({ length: MANIFEST_MAX_MOUNTS + 1 }, (_, i) => one.replace('barmount', `k${i}`)).join('');
    rejects(
      text.replace(/mounts:\n[\s\S]*$/, `mounts:\n${many}`),
      new RegExp(`${MANIFEST_MAX_MOUNTS + 1} mounts, more than the ${MANIFEST_MAX_MOUNTS}`),
    );
    // 200,000 flow entries in 600 KB: under the byte cap, refused by the item count in milliseconds.
    const flood = text.replace(/mounts:\n[\s\S]*$/, `mounts: [${Array(200_000).fill('{}').join(',')}]\n`);
    const started = Date.now();
    rejects(flood, new RegExp(`more than the ${MANIFEST_MAX_ITEMS} a manifest may have`));
    assert.ok(Date.now() - started < 500, `took ${Date.now() - started} ms: was it parsed?`);
  });

  it('the writer refuses shapes it cannot write faithfully instead of writing something else', () => {
    const base = manifestFromPlan(plan, meta);
    assert.throws(() => renderManifest({ ...base, mounts: ['x'] as never }), /mounts holds "x", not a mapping/);
    assert.throws(() => renderManifest({ ...base, mounts: [{}] as never }), /not a mapping/);
    assert.throws(() => renderManifest({ ...base, target: {} as never }), /target is an empty mapping/);
  });

  it('writes YAML that reads back to the same manifest, whatever the strings hold (2,000 generated manifests)', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    // Quotes, YAML indicators, comments, escapes, controls, C1, line and paragraph separators, BOM, noncharacters, astral and lone surrogates.
    const alphabet = [
      ...'"\'\\:#-?&*!|>%@`{}[],. \t/aZ09',
      '\x00',
      '\x07',
      '\x1b',
      '\x7f',
      '\x85',
      '\x9f',
      '\u00a0',
      '\u2028',
      '\u2029',
      '\ufeff',
      '\ufffe',
      '\uffff',
      '\ud83d\ude00',
      '\ud800',
      'ä',
      '→',
    ];
    // Strings a plain scalar would turn into another type, beside random ones.
    const typed = [
      'true',
      'False',
      'null',
      '~',
      'yes',
      'No',
      'on',
      'y',
      '1',
      '0x1f',
      '1e3',
      '.inf',
      '-.5',
      '0.1.0',
      '4.1',
      '2026-12-02',
      '',
      ' x',
      'x ',
      '-',
      '- x',
      'a: b',
      'a #b',
      '@x',
      '`x',
      '!x',
      '&x',
      '*x',
      '%x',
      '|',
      '>',
    ];
    const text = (n: number) =>
      rand() < 0.3
        ? typed[Math.floor(rand() * typed.length)]!
        : Array.from({ length: Math.floor(rand() * n) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    const path = () =>
      `/${text(12)
        .replace(/[\n\r\x00]/g, 'x')
        .replace(/\.\./g, '.x')}`.replace(/\/\.\.?(?=\/|$)/g, '/x');
    for (let i = 0; i < 2000; i++) {
      const manifest = manifestFromPlan(
        {
          rootHostPath: null,
          enableExternalMasters: rand() < 0.5,
          enableExternalSharing: rand() < 0.5,
          mounts: Array.from({ length: Math.floor(rand() * 3) }, (_, n) => ({
            mountId: n,
            mountpoint: path(),
            key: `k${n}`,
            hostPath: rand() < 0.2 ? null : path(),
            kind: 'bind' as const,
            fileType: undefined,
            readOnly: rand() < 0.5,
            propagation: text(10),
            reason: '',
          })),
        },
        {
          extmount: text(8),
          criu: text(8),
          createdAt: text(8),
          target:
            rand() < 0.5
              ? { kind: 'pid', pid: 1 + Math.floor(rand() * 1e6), root: rand() < 0.5 ? null : path() }
              : { kind: 'container', id: text(8), name: text(20), image: text(20) },
        },
      );
      const rendered = renderManifest(manifest);
      // Only what the YAML spec calls printable (c-printable), less the separators some readers break lines at.
      assert.match(
        rendered,
        /^[\t\n\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]*$/u,
        `manifest ${i}`,
      );
      assert.deepEqual(parseManifest(rendered, 'm.yaml'), manifest, `manifest ${i}:\n${rendered}`);
    }
  });
});

describe('checkManifestAgainstImages', () => {
  const manifest = manifestFromPlan(plan, meta);
  const entry = (mountpoint: string, externalKey: string | null) => ({ mountpoint, externalKey }) as MountEntry;

  it('accepts images whose external keys the manifest maps at the same mountpoints', () => {
    checkManifestAgainstImages(manifest, [entry('/', null), entry('/bar', 'barmount'), entry('/vol', 'myvol')], 'DIR');
  });
  it('refuses an image key without a mapping, naming the key', () => {
    assert.throws(
      () =>
        checkManifestAgainstImages(
          manifest,
          [entry('/bar', 'barmount'), entry('/vol', 'myvol'), entry('/x', 'xkey')],
          'DIR',
        ),
      /key xkey \(at \/x\)/,
    );
  });
  it('finds mounts under the key runc gave them (their destination)', () => {
    const imageKeyOf = (m: { kind: string; key: string; mountpoint: string }) =>
      m.kind === 'volume' ? m.mountpoint : m.key;
    checkManifestAgainstImages(manifest, [entry('/bar', 'barmount'), entry('/vol', '/vol')], 'DIR', { imageKeyOf });
    assert.throws(
      () =>
        checkManifestAgainstImages(manifest, [entry('/bar', 'barmount'), entry('/vol', 'myvol')], 'DIR', {
          imageKeyOf,
        }),
      /key myvol \(at \/vol\)/,
    );
  });
  it('refuses a moved mountpoint and a manifest key absent from the images', () => {
    assert.throws(
      () => checkManifestAgainstImages(manifest, [entry('/baz', 'barmount'), entry('/vol', 'myvol')], 'DIR'),
      /at \/baz in the images but at \/bar/,
    );
    assert.throws(
      () => checkManifestAgainstImages(manifest, [entry('/bar', 'barmount')], 'DIR'),
      /maps key myvol \(\/vol\), which the images do not hold/,
    );
  });
});
