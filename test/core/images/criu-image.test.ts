// Tests for the CRIU image decoder and `show` on images dumped by CRIU 4.1.1 here, plus synthetic ones.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  IMG_COMMON_MAGIC,
  IMG_SERVICE_MAGIC,
  INVENTORY_MAGIC,
  MNTS_MAGIC,
  decodeCriuImage,
  type CriuImage,
  type InventoryImage,
  type MountpointsImage,
} from '../../../src/core/images/criu-image.js';
import { ExtmountError } from '../../../src/core/errors.js';
import { formatImage, formatMountTable } from '../../../src/core/images/show-format.js';
import { runShow } from '../../../src/commands/show.js';
import {
  bytesField,
  encodeMount,
  frameImage,
  mountpointsImage,
  stringField,
  varintField,
} from '../../helpers/criu-image-encoder.js';

const seedDir = fileURLToPath(new URL('../../../../test/fixtures/images/seed/', import.meta.url));
const fixtureNames = ['mountpoints-10.img', 'inventory.img', 'pstree.img'];

async function seedImage(name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(seedDir + name));
}

function decodeMountpoints(bytes: Uint8Array, name = 'mountpoints.img'): MountpointsImage {
  const image = decodeCriuImage(bytes, name);
  assert.equal(image.kind, 'mountpoints');
  return image as MountpointsImage;
}

/** Success or ExtmountError('parse'); anything else fails the test with the case that caused it. */
function decodeOrParseError(bytes: Uint8Array, what: string): CriuImage | ExtmountError {
  try {
    return decodeCriuImage(bytes, 'fuzzed.img');
  } catch (err) {
    assert.ok(err instanceof ExtmountError, `${what}: threw ${String(err)}`);
    assert.equal(err.code, 'parse', `${what}: code ${err.code}`);
    assert.match(err.message, /^fuzzed\.img: .*at byte offset \d+\)$/, what);
    return err;
  }
}

function assertParseError(bytes: Uint8Array, message: RegExp): void {
  assert.throws(
    () => decodeCriuImage(bytes, 'bad.img'),
    (err: unknown) => {
      assert.ok(err instanceof ExtmountError);
      assert.equal(err.code, 'parse');
      assert.match(err.message, message);
      return true;
    },
  );
}

// --- The seed dump.

/** mountinfo lines of the dumped tree, captured by make-fixtures.sh just before `criu dump`. */
async function seedMountinfo(): Promise<
  {
    id: number;
    parent: number;
    dev: string;
    root: string;
    mountpoint: string;
    shared: number | null;
    fstype: string;
    source: string;
  }[]
> {
  const text = await readFile(`${seedDir}mountinfo.txt`, 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [before, after] = line.split(' - ') as [string, string];
      const fields = before.split(' ');
      const [fstype, source] = after.split(' ') as [string, string];
      const shared = fields.slice(6).find((field) => field.startsWith('shared:'));
      return {
        id: Number(fields[0]),
        parent: Number(fields[1]),
        dev: fields[2] ?? '',
        root: fields[3] ?? '',
        mountpoint: fields[4] ?? '',
        shared: shared ? Number(shared.slice('shared:'.length)) : null,
        fstype,
        source,
      };
    });
}

describe('the seed dump (pivot_root into a bind mount, host folder at /bar, --external mnt[/bar]:barmount)', () => {
  it('shows /bar as the one external mount, with key barmount', async () => {
    const image = decodeMountpoints(await seedImage('mountpoints-10.img'), 'mountpoints-10.img');
    assert.deepEqual(image.magic, { name: 'MNTS', value: MNTS_MAGIC, head: 'common' });
    const external = image.entries.filter((entry) => entry.externalKey !== null);
    assert.deepEqual(
      external.map((entry) => [entry.mountpoint, entry.externalKey]),
      [['/bar', 'barmount']],
    );
    assert.match(external[0]?.root ?? '', /^\/tmp\/extmount-fixtures\.\w+\/foo$/);
  });

  it('decodes every mount entry, matching the mountinfo seen before the dump', async () => {
    const image = decodeMountpoints(await seedImage('mountpoints-10.img'));
    const mountinfo = await seedMountinfo();
    assert.equal(image.entries.length, mountinfo.length);
    for (const line of mountinfo) {
      const entry = image.entries.find((candidate) => candidate.mountId === line.id);
      assert.ok(entry, `mount ${line.id} is in the image`);
      assert.equal(entry.parentId, line.parent);
      assert.equal(entry.mountpoint, line.mountpoint);
      assert.equal(entry.root, line.root);
      assert.equal(entry.rootDev, line.dev);
      assert.equal(entry.sharedId, line.shared);
      assert.equal(entry.source, line.source);
      if (line.fstype === 'tmpfs' || line.fstype === 'proc') assert.equal(entry.fstype, line.fstype.toUpperCase());
      else assert.equal(entry.fstype, 'UNSUPPORTED'); // CRIU records bind mounts of ext4 so
    }
  });

  it('decodes all fields of an entry', async () => {
    const image = decodeMountpoints(await seedImage('mountpoints-10.img'));
    assert.deepEqual(
      image.entries.find((entry) => entry.mountpoint === '/peer'),
      {
        mountId: 66,
        parentId: 63,
        mountpoint: '/peer',
        root: '/',
        fstype: 'TMPFS',
        fstypeCode: 5,
        fsname: null,
        source: 'shared',
        options: 'size=1024k',
        rootDev: '0:39',
        flags: 0x300000, // MS_RELATIME | MS_SHARED
        sbFlags: 0,
        sharedId: 1,
        masterId: null,
        externalKey: null,
        withPlugin: false,
        internalSharing: false,
        deleted: false,
      },
    );
  });

  it('decodes the inventory', async () => {
    const image = decodeCriuImage(await seedImage('inventory.img'), 'inventory.img') as InventoryImage;
    assert.equal(image.kind, 'inventory');
    assert.deepEqual(image.magic, { name: 'INVENTORY', value: INVENTORY_MAGIC, head: 'none' });
    assert.equal(image.entries.length, 1);
    const [inventory] = image.entries;
    assert.match(inventory?.dumpCriuRunId ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(
      { ...inventory, dumpCriuRunId: 'checked above' },
      {
        imgVersion: 2,
        fdinfoPerId: true,
        rootIds: {
          vmId: 1,
          filesId: 1,
          fsId: 1,
          sighandId: 1,
          pidNsId: 1,
          netNsId: 2,
          ipcNsId: 3,
          utsNsId: 4,
          mntNsId: 6,
          userNsId: 7,
          cgroupNsId: 8,
          timeNsId: 5,
        },
        nsPerId: true,
        rootCgSet: 1,
        lsm: 'NO_LSM',
        dumpUptime: null,
        preDumpMode: null,
        tcpClose: false,
        networkLockMethod: 'IPTABLES',
        plugins: [],
        dumpCriuRunId: 'checked above',
        allowUprobes: false,
      },
    );
  });

  it('frames an image of another kind without decoding its payloads', async () => {
    const image = decodeCriuImage(await seedImage('pstree.img'), 'pstree.img');
    assert.equal(image.kind, 'other');
    assert.equal(image.magic.name, 'PSTREE');
    assert.deepEqual(image.entries, [
      { offset: 8, size: 10 },
      { offset: 22, size: 10 },
    ]);
  });
});

describe('damaged images give parse errors naming file, entry and offset', { timeout: 60_000 }, () => {
  it('refuses bad, unknown and missing magic', () => {
    assertParseError(Uint8Array.from([1, 2]), /^bad\.img: too short/);
    assertParseError(frameImage([0x12345678], []), /bad magic 0x12345678.*at byte offset 0/);
    assertParseError(
      frameImage([IMG_COMMON_MAGIC, 0x12345678], []),
      /unknown image magic 0x12345678 \(at byte offset 4\)/,
    );
    assertParseError(frameImage([IMG_COMMON_MAGIC], []), /truncated after the head magic/);
  });

  it('refuses a truncated size field and a size beyond the end', () => {
    const good = encodeMount({ mntId: 1, parentId: 0, mountpoint: './' });
    const image = mountpointsImage([good, good]);
    assertParseError(
      image.subarray(0, image.length - good.length - 2),
      /entry 1: truncated size field \(2 of 4 bytes\)/,
    );
    const secondEntryOffset = 8 + 4 + good.length;
    assertParseError(
      image.subarray(0, image.length - 1),
      new RegExp(
        `entry 1: declares ${good.length} bytes but only ${good.length - 1} remain \\(at byte offset ${secondEntryOffset}\\)`,
      ),
    );
    const huge = frameImage([IMG_COMMON_MAGIC, MNTS_MAGIC], []);
    assertParseError(
      Uint8Array.from([...huge, 0xff, 0xff, 0xff, 0xff]),
      /entry 0: declares 4294967295 bytes but only 0 remain/,
    );
  });

  it('refuses malformed protobuf, missing required fields and wrong wire types', () => {
    assertParseError(
      mountpointsImage([[0x32, 0x05, 0x01]]),
      /entry 0: length 5 runs past the end \(1 bytes left\) \(at byte offset 13\)/,
    );
    assertParseError(mountpointsImage([[]]), /entry 0: mnt_entry lacks required field fstype/);
    const withoutOptions = encodeMount({ mntId: 1, parentId: 0, mountpoint: './' }).slice(0, -10);
    assertParseError(mountpointsImage([withoutOptions]), /mnt_entry lacks required field options/);
    const rootAsVarint = [...encodeMount({ mntId: 1, parentId: 0, mountpoint: './' }), ...varintField(6, 1)];
    assertParseError(mountpointsImage([rootAsVarint]), /field 6 \(root\) has wire type 0, expected 2/);
  });

  it('survives every truncation of the real images with a decode or a parse error', async () => {
    for (const name of fixtureNames) {
      const bytes = await seedImage(name);
      let decoded = 0;
      for (let end = 0; end < bytes.length; end++) {
        if (!(decodeOrParseError(bytes.subarray(0, end), `${name} cut at ${end}`) instanceof ExtmountError)) decoded++;
      }
      // A cut exactly between entries is a valid shorter image.
      const entryCount = decodeCriuImage(bytes).entries.length;
      assert.ok(decoded <= entryCount, `${name}: ${decoded} truncations decoded`);
    }
  });

  it('survives every single-byte corruption of the real images', async () => {
    for (const name of fixtureNames) {
      const bytes = await seedImage(name);
      for (let at = 0; at < bytes.length; at++) {
        for (const change of [
          (b: number) => b ^ 0x01,
          (b: number) => b ^ 0x80,
          (b: number) => b ^ 0xff,
          () => 0x00,
          () => 0xff,
        ]) {
          const damaged = bytes.slice();
          damaged[at] = change(damaged[at] ?? 0);
          decodeOrParseError(damaged, `${name} byte ${at} changed`);
        }
      }
    }
  });

  it('survives random multi-byte damage, insertions and deletions', async () => {
    let state = 7;
    const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const originals = await Promise.all(fixtureNames.map(seedImage));
    for (let round = 0; round < 3000; round++) {
      const original = originals[round % originals.length] ?? new Uint8Array();
      const bytes = Array.from(original);
      for (let edit = 1 + Math.floor(random() * 4); edit > 0; edit--) {
        const at = Math.floor(random() * bytes.length);
        const kind = random();
        if (kind < 0.5) bytes[at] = Math.floor(random() * 256);
        else if (kind < 0.75) bytes.splice(at, 0, Math.floor(random() * 256));
        else bytes.splice(at, 1);
      }
      decodeOrParseError(Uint8Array.from(bytes), `round ${round}`);
    }
  });
});

describe('synthetic images', { timeout: 60_000 }, () => {
  it('decodes a 10,000-entry mountpoints image', () => {
    const count = 10_000;
    const payloads = Array.from({ length: count }, (_, index) =>
      encodeMount({
        mntId: 100 + index,
        parentId: index === 0 ? 1 : 100 + Math.floor((index - 1) / 4),
        mountpoint: index === 0 ? './' : `./m/${index}`,
        extKey: index % 100 === 0 ? `key-${index}` : undefined,
        sharedId: index % 7 === 0 ? index : undefined,
      }),
    );
    const image = decodeMountpoints(mountpointsImage(payloads));
    assert.equal(image.entries.length, count);
    assert.equal(image.entries[0]?.mountpoint, '/');
    const last = image.entries[count - 1];
    assert.equal(last?.mountId, 100 + count - 1);
    assert.equal(last?.mountpoint, `/m/${count - 1}`);
    assert.equal(last?.rootDev, '254:1');
    assert.equal(image.entries.filter((entry) => entry.externalKey !== null).length, count / 100);
    assert.equal(image.entries[700]?.externalKey, 'key-700');
    assert.equal(image.entries[700]?.sharedId, 700);
    assert.equal(image.entries[701]?.sharedId, null);
  });

  it('skips unknown fields of every wire type', () => {
    const unknown = [
      ...varintField(99, 2n ** 63n),
      0xa1,
      0x06,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // 100: fixed64
      ...stringField(101, 'future'),
      0xb3,
      0x06,
      0x08,
      0x01,
      0xb4,
      0x06, // 102: group { 1: 1 }
      0xbd,
      0x06,
      1,
      2,
      3,
      4, // 103: fixed32
    ];
    const [entry] = decodeMountpoints(
      mountpointsImage([encodeMount({ mntId: 5, parentId: 1, mountpoint: './x' }, unknown)]),
    ).entries;
    assert.equal(entry?.mountId, 5);
    assert.equal(entry?.mountpoint, '/x');
  });

  it('reads the pre-ext_key form (ext_mount with the key in root), AUTO fsname and unknown fstypes', () => {
    const image = decodeMountpoints(
      mountpointsImage([
        encodeMount({ mntId: 2, parentId: 1, mountpoint: './old', root: 'oldkey', extMount: true }),
        encodeMount({ mntId: 3, parentId: 1, mountpoint: './auto', fstype: 16, fsname: 'ext4' }),
        encodeMount({ mntId: 4, parentId: 1, mountpoint: './new', fstype: 42 }),
      ]),
    );
    assert.deepEqual(
      image.entries.map((entry) => [entry.externalKey, entry.fstype, entry.fsname]),
      [
        ['oldkey', 'TMPFS', null],
        [null, 'AUTO', 'ext4'],
        [null, 'FSTYPE_42', null],
      ],
    );
  });

  it('keeps a 64-bit dump_uptime beyond 2^53 as a bigint, and names enum values', () => {
    const inventory = [
      ...varintField(1, 2),
      ...bytesField(3, [...varintField(1, 1), ...varintField(2, 1), ...varintField(3, 1), ...varintField(4, 1)]),
      ...varintField(6, 2),
      ...varintField(8, 2n ** 60n),
      ...varintField(9, 2),
      ...varintField(10, true),
      ...varintField(11, 1),
      ...bytesField(12, stringField(12, 'amdgpu')),
      ...bytesField(12, stringField(12, 'cuda')),
    ];
    const image = decodeCriuImage(frameImage([INVENTORY_MAGIC], [inventory])) as InventoryImage;
    const [entry] = image.entries;
    assert.equal(entry?.dumpUptime, 2n ** 60n);
    assert.equal(entry?.lsm, 'APPARMOR');
    assert.equal(entry?.preDumpMode, 'READ');
    assert.equal(entry?.networkLockMethod, 'NFTABLES');
    assert.equal(entry?.tcpClose, true);
    assert.deepEqual(entry?.plugins, ['amdgpu', 'cuda']);
    assert.equal(entry?.rootIds?.mntNsId, null);
  });

  it('refuses an inventory whose root_ids lacks a required id', () => {
    const inventory = [...varintField(1, 2), ...bytesField(3, varintField(1, 1))];
    assertParseError(frameImage([INVENTORY_MAGIC], [inventory]), /task_kobj_ids_entry lacks required field files_id/);
  });

  it('frames other kinds, including empty entries, and leaves raw-data kinds unframed', () => {
    const stats = decodeCriuImage(frameImage([IMG_SERVICE_MAGIC, 0x57093306], [[], [], [0x08, 0x01]]));
    assert.deepEqual([stats.magic.name, stats.magic.head, stats.entries.length], ['STATS', 'service', 3]);
    const pipeData = decodeCriuImage(frameImage([IMG_COMMON_MAGIC, 0x56453709], [[0x08, 0x01]]));
    assert.deepEqual(
      [pipeData.kind, pipeData.entries.length, pipeData.kind === 'other' && pipeData.unframedBytes],
      ['other', 0, 6],
    );
  });
});

describe('show', () => {
  const captureIO = () => {
    const out: string[] = [];
    return { out, io: { out: (text: string) => out.push(text), err: () => {}, env: {} } };
  };

  it('renders the seed mounts as a table that marks /bar external with its key', async () => {
    const image = decodeMountpoints(await seedImage('mountpoints-10.img'));
    const lines = formatMountTable(image.entries);
    assert.match(lines[0] ?? '', /^mnt_id\s+parent\s+root\s+mountpoint\s+fstype\s+source\s+ext key\s+shared\/master$/);
    assert.match(
      lines.find((line) => line.includes(' /bar ')) ?? '',
      /^64\s+63\s+\S+\/foo\s+\/bar\s+unsupported\s+\/dev\/vda\s+barmount\s+-$/,
    );
    assert.match(lines.find((line) => line.includes(' /peer ')) ?? '', /shared:1$/);
    assert.equal(lines.at(-1), 'external: /bar (key barmount)');
  });

  it('escapes whitespace in paths so a row stays one row', () => {
    const image = decodeMountpoints(mountpointsImage([encodeMount({ mntId: 2, parentId: 1, mountpoint: './a b\nc' })]));
    const row = formatImage(image)[2] ?? '';
    assert.match(row, /\/a\\040b\\012c/);
  });

  it('decodes an images dir: inventory summary and mount table', async () => {
    const { out, io } = captureIO();
    await runShow({ path: seedDir, json: false }, io);
    const text = out.join('\n');
    assert.match(text, /inventory\.img: INVENTORY, 1 entry\ninventory: image version 2, lsm NO_LSM, root mnt ns 6/);
    assert.match(text, /mountpoints-10\.img: MNTS, 5 entries\nmnt_id/);
    assert.doesNotMatch(text, /pstree/);
  });

  it('prints JSON with the decoded entries and 64-bit values as strings', async () => {
    const { out, io } = captureIO();
    await runShow({ path: seedDir, json: true }, io);
    const parsed = JSON.parse(out.join('')) as {
      files: { file: string; magic: string; entries: Record<string, unknown>[] }[];
    };
    assert.deepEqual(
      parsed.files.map((file) => [file.file.replace(seedDir, ''), file.magic]),
      [
        ['inventory.img', 'INVENTORY'],
        ['mountpoints-10.img', 'MNTS'],
      ],
    );
    assert.ok(
      parsed.files[1]?.entries.some((entry) => entry.mountpoint === '/bar' && entry.externalKey === 'barmount'),
    );
  });

  it('decodes one file, and says what is wrong with a missing path or an empty dir', async () => {
    const { out, io } = captureIO();
    await runShow({ path: `${seedDir}pstree.img`, json: false }, io);
    assert.match(out.join(''), /pstree\.img: PSTREE, 2 entries \(sizes 10, 10\)/);
    await assert.rejects(
      runShow({ path: `${seedDir}nope`, json: false }, io),
      (err: unknown) =>
        err instanceof ExtmountError &&
        err.code === 'bad-input' &&
        /no such file/.test(err.message) &&
        err.hint !== undefined,
    );
    await assert.rejects(
      runShow({ path: fileURLToPath(new URL('.', import.meta.url)), json: false }, io),
      (err: unknown) =>
        err instanceof ExtmountError && err.code === 'bad-input' && /holds no inventory\.img/.test(err.message),
    );
  });
});
