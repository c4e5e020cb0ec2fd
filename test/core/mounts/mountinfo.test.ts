import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import { classifyMounts } from '../../../src/core/mounts/classify.js';
import { parseMountinfo, unescapeOctal, type MountInfo } from '../../../src/core/mounts/mountinfo.js';
import { fixture } from '../../helpers/fixtures.js';

function parseFails(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseMountinfo(text, 'input'),
    (err: unknown) => {
      assert.ok(err instanceof ExtmountError, `not an ExtmountError: ${String(err)}`);
      assert.equal(err.code, 'parse');
      assert.equal(err.exitCode, 2);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('parseMountinfo', () => {
  it('reads every field of a real container line', () => {
    const mounts = parseMountinfo(fixture('mountinfo/docker-mixed.mountinfo'));
    const root = mounts[0];
    const vol = mounts.find((m) => m.mountpoint === '/vol');
    assert.equal(root!.mountpoint, '/');
    assert.equal(root!.fstype, 'overlay');
    assert.equal(typeof root!.master, 'number');
    assert.equal(root!.shared, undefined);
    assert.match(root!.superOptions, /^rw,lowerdir=/);
    assert.equal(vol!.mountpoint, '/vol');
    assert.equal(vol!.major, 254);
    assert.equal(vol!.minor, 0);
    assert.match(vol!.root, /\/volumes\/fxvol\/_data$/);
    assert.deepEqual(vol!.options, ['rw', 'relatime']);
    assert.equal(vol!.source, '/dev/vda');
  });

  it('reads the seed tree', () => {
    const mounts = parseMountinfo(fixture('mountinfo/seed.mountinfo'));
    assert.equal(mounts.length, 2);
    assert.equal(mounts[1]!.mountpoint, '/bar');
    assert.equal(mounts[1]!.parentId, mounts[0]!.mountId);
    assert.match(mounts[1]!.root, /\/foo$/);
  });

  it('reads 10,000 real mounts', () => {
    const mounts = parseMountinfo(fixture('mountinfo/many.mountinfo.gz'));
    assert.equal(mounts.length, 10002);
    assert.equal(new Set(mounts.map((m) => m.mountId)).size, mounts.length);
  });

  it('undoes octal escapes in paths and keeps all optional fields', () => {
    const [m] = parseMountinfo(
      '36 35 98:0 /mnt\\0401 /my\\134dir\\012x rw,noatime shared:7 master:1 propagate_from:2 unbindable - ext3 /dev/root rw,errors=continue\n',
    );
    assert.equal(m!.root, '/mnt 1');
    assert.equal(m!.mountpoint, '/my\\dir\nx');
    assert.equal(m!.shared, 7);
    assert.equal(m!.master, 1);
    assert.equal(m!.propagateFrom, 2);
    assert.equal(m!.unbindable, true);
    assert.equal(m!.superOptions, 'rw,errors=continue');
    assert.equal(unescapeOctal('a\\011b'), 'a\tb');
  });

  it('accepts the non-path roots of nsfs mounts (seen on the host)', () => {
    const [m] = parseMountinfo('96 27 0:4 net:[4026532182] /run/netns/x rw - nsfs nsfs rw\n');
    assert.equal(m!.root, 'net:[4026532182]');
  });

  it('ignores optional fields it does not know (proc(5))', () => {
    const [m] = parseMountinfo('1 0 8:1 / / rw future:3 - ext4 /dev/sda1 rw\n');
    assert.equal(m!.shared, undefined);
  });

  it('names the line and field of malformed input', () => {
    parseFails('', /no mounts/);
    parseFails('garbage\n', /line 1: truncated/);
    parseFails('1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:1 / /x rw -', /line 2: (truncated|expected 3 fields)/);
    parseFails('1 0 8:1 / / rw master:x - ext4 /dev/sda1 rw\n', /line 1: optional field master:N is "x"/);
    parseFails('x 0 8:1 / / rw - ext4 /dev/sda1 rw\n', /line 1: mount ID is "x"/);
    parseFails('1 0 81 / / rw - ext4 /dev/sda1 rw\n', /line 1: field 3 \(major:minor\)/);
    parseFails('1 0 8:1 / relative rw - ext4 /dev/sda1 rw\n', /line 1: mount point "relative" is not an absolute path/);
    parseFails(
      '1 0 8:1 / / rw - ext4 /dev/sda1 rw\n1 0 8:1 / /x rw - ext4 /dev/sda1 rw\n',
      /line 2: mount ID 1 appears twice/,
    );
    parseFails('1 0 8:1 / / rw - ext4\0 /dev/sda1 rw\n', /control or binary/);
    parseFails('1 0 8:1 / / rw  - ext4 /dev/sda1 rw\n', /line 1:/);
  });
});

describe("parseMountinfo: the kernel format (issue 11, a raw \\001 in another container's mount)", () => {
  // seed.host.mountinfo with, at line 11, the line the kernel writes for
  // `mount -t tmpfs "$(printf 'evil\001src with space')" DIR` (captured here: only the spaces are escaped).
  const text = fixture('mountinfo/control-byte.host.mountinfo');

  it('a file passed in stays strict: the raw byte is refused, naming the line', () => {
    parseFails(text, /line 11: contains control or binary bytes/);
  });

  it('read from /proc, the line is data: the source keeps its byte, every other mount parses as before', () => {
    const mounts = parseMountinfo(text, '/proc/self/mountinfo', { format: 'kernel' });
    const evil = mounts.find((m) => m.mountpoint === '/tmp/extmount-evil');
    assert.equal(evil?.source, 'evil\u0001src with space');
    assert.equal(evil?.fstype, 'tmpfs');
    const others = mounts.filter((m) => m !== evil).map(({ line: _line, ...m }) => m);
    const clean = parseMountinfo(fixture('mountinfo/seed.host.mountinfo')).map(({ line: _line, ...m }) => m);
    assert.deepEqual(others, clean);
  });

  it('and the seed tree classifies the same against that host table', () => {
    const tree = parseMountinfo(fixture('mountinfo/seed.mountinfo'));
    const withEvil = classifyMounts(tree, { hostMounts: parseMountinfo(text, 'k', { format: 'kernel' }) });
    const clean = classifyMounts(tree, { hostMounts: parseMountinfo(fixture('mountinfo/seed.host.mountinfo')) });
    assert.deepEqual(
      withEvil.mounts.map((m) => [m.mountpoint, m.class, m.external?.hostPath]),
      clean.mounts.map((m) => [m.mountpoint, m.class, m.external?.hostPath]),
    );
  });

  it('still refuses what the kernel never writes: a line without its fields', () => {
    assert.throws(() => parseMountinfo(`${text}garbage\n`, 'k', { format: 'kernel' }), /line 22: truncated/);
  });
});

describe('parseMountinfo fuzzing', () => {
  // A small deterministic PRNG so a failure can be reproduced from its seed.
  function random(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  const base = fixture('mountinfo/docker-propagated.mountinfo');
  const alphabet = ' -:/\\0123456789abcdefx\n\t,sharedmaster\u0000\u00ff';
  /** Input number `seed`: a truncation, random characters replaced, random garbage, or lines moved. */
  function generated(seed: number): string {
    const rand = random(seed);
    let input: string;
    switch (seed % 4) {
      case 0: // truncation at a random offset
        input = base.slice(0, Math.floor(rand() * base.length));
        break;
      case 1: {
        // random characters replaced
        const chars = [...base];
        for (let n = 0; n < 1 + rand() * 8; n++)
          chars[Math.floor(rand() * chars.length)] = alphabet[Math.floor(rand() * alphabet.length)]!;
        input = chars.join('');
        break;
      }
      case 2: // random garbage
        input = Array.from(
          { length: Math.floor(rand() * 300) },
          () => alphabet[Math.floor(rand() * alphabet.length)],
        ).join('');
        break;
      default: {
        // lines shuffled, duplicated or dropped
        const lines = base.split('\n');
        const i = Math.floor(rand() * lines.length);
        const j = Math.floor(rand() * lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        if (rand() < 0.3) lines.splice(i, 0, lines[j]!);
        if (rand() < 0.3) lines.splice(j, 1);
        input = lines.join('\n');
      }
    }
    return input;
  }

  it('never throws anything but the typed parse error on 12,000 generated inputs', () => {
    let parsed = 0;
    let rejected = 0;
    for (let seed = 0; seed < 12_000; seed++) {
      const input = generated(seed);
      try {
        parseMountinfo(input, `fuzz#${seed}`, { format: seed % 8 < 4 ? 'file' : 'kernel' });
        parsed++;
      } catch (err) {
        if (!(err instanceof ExtmountError) || err.code !== 'parse')
          throw new Error(`seed ${seed}: unexpected ${String(err)}`);
        assert.match(err.message, new RegExp(`^fuzz#${seed}: line \\d+: `));
        rejected++;
      }
    }
    assert.equal(parsed + rejected, 12_000);
    assert.ok(rejected > 6000, `only ${rejected} inputs rejected`);
    assert.ok(parsed > 100, `only ${parsed} inputs parsed`);
  });
  // The parser scans lines instead of splitting them (for speed); this plain split-based reading of
  // proc(5) is the oracle it must agree with, record for record and message for message.
  function plainReading(text: string): MountInfo[] | string {
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const number = (t: string | undefined, what: string): number => {
      if (t === undefined || !/^\d{1,10}$/.test(t)) throw new Error(`${what} is "${t ?? ''}", not a number`);
      return Number(t);
    };
    const mounts: MountInfo[] = [];
    try {
      lines.forEach((raw, i) => {
        const f = raw.split(' ');
        const sep = f.indexOf('-', 6);
        if (sep === -1)
          throw new Error(f.length < 7 ? `truncated: only ${f.length} fields` : 'no "-" separator before fstype');
        if (f.length !== sep + 4) throw new Error(`expected 3 fields after "-", found ${f.length - sep - 1}`);
        const [major, minor, extra] = f[2]!.split(':');
        const m: MountInfo = {
          mountId: number(f[0], 'mount ID'),
          parentId: number(f[1], 'parent ID'),
          major: extra === undefined && /^\d{1,10}$/.test(major!) ? Number(major) : NaN,
          minor: extra === undefined && /^\d{1,10}$/.test(minor ?? '') ? Number(minor) : NaN,
          root: unescapeOctal(f[3]!),
          mountpoint: unescapeOctal(f[4]!),
          options: f[5]!.split(','),
          shared: undefined,
          master: undefined,
          propagateFrom: undefined,
          unbindable: false,
          fstype: unescapeOctal(f[sep + 1]!),
          source: unescapeOctal(f[sep + 2]!),
          superOptions: unescapeOctal(f[sep + 3]!),
          line: i + 1,
        };
        if (Number.isNaN(m.major) || Number.isNaN(m.minor))
          throw new Error(`field 3 (major:minor) is "${f[2]!.slice(0, 40)}${f[2]!.length > 40 ? '…' : ''}"`);
        if (f[5] === '') throw new Error('field 6 (mount options) is empty');
        if (f[sep + 1] === '') throw new Error('field 9 (fstype) is empty');
        if (f[3] === '') throw new Error('field root is empty');
        if (!f[4]!.startsWith('/'))
          throw new Error(`mount point "${f[4]!.slice(0, 40)}${f[4]!.length > 40 ? '…' : ''}" is not an absolute path`);
        for (const tag of f.slice(6, sep)) {
          const [name, value] = [tag.split(':')[0], tag.includes(':') ? tag.slice(tag.indexOf(':') + 1) : ''];
          if (name === '') throw new Error('empty optional field (double space?)');
          if (name === 'shared') m.shared = number(value, 'optional field shared:N');
          if (name === 'master') m.master = number(value, 'optional field master:N');
          if (name === 'propagate_from') m.propagateFrom = number(value, 'optional field propagate_from:N');
          if (name === 'unbindable') m.unbindable = true;
        }
        if (mounts.some((x) => x.mountId === m.mountId)) throw new Error(`mount ID ${m.mountId} appears twice`);
        mounts.push(m);
      });
    } catch (err) {
      return `line ${mounts.length + 1}: ${(err as Error).message}`;
    }
    return mounts.length > 0 ? mounts : 'line 1: no mounts (empty input)';
  }

  it('refuses an optional field with an empty tag (":1"), as a split-based reading does', () => {
    parseFails('36 35 98:0 /a /b rw :1 - ext3 /dev/root rw\n', /line 1: empty optional field/);
    parseFails('36 35 98:0 /a /b rw shared:1 : - ext3 /dev/root rw\n', /line 1: empty optional field/);
  });

  it('agrees with a plain split-based reading on 12,000 generated inputs', () => {
    let agreedOnErrors = 0;
    for (let seed = 0; seed < 12_000; seed++) {
      const input = generated(seed);
      const expected = plainReading(input);
      let actual: MountInfo[] | string;
      try {
        actual = parseMountinfo(input, 'x', { format: 'kernel' });
      } catch (err) {
        actual = (err as Error).message.replace(/^x: /, '');
      }
      if (typeof expected === 'string' && expected.length > 200) continue; // clipped values: compared by the tests above
      assert.deepEqual(actual, expected, `seed ${seed}: ${JSON.stringify(input.slice(0, 200))}`);
      if (typeof expected === 'string') agreedOnErrors++;
    }
    assert.ok(agreedOnErrors > 6000, `only ${agreedOnErrors} inputs rejected alike`);
  });
});
