import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  BLOCK,
  END_OF_ARCHIVE,
  decodeHeader,
  encodeEntry,
  encodeFileEntry,
  pad,
  paddedSize,
  parsePaxRecords,
  TarFormatError,
  type EntryPolicy,
} from '../../../src/core/migrate/migrate-tar.js';
import { TarFilter, type Decide } from '../../../src/core/migrate/tar-filter.js';
import { FIXTURES } from '../../helpers/fixtures.js';

const newdir = readFileSync(`${FIXTURES}migrate/docker-newdir.tar`);
const etc = readFileSync(`${FIXTURES}migrate/docker-etc.tar`);
const rootfs = (root: string): EntryPolicy => ({ root, allowLinks: true, allowDevices: true });

/** Feeds the archive in odd-sized chunks (as a socket would), returns what the filter passed on. */
async function run(
  archive: Buffer,
  policy: EntryPolicy,
  decide?: Decide,
  chunk = 333,
  digestKey?: (path: string) => string | undefined,
): Promise<{ out: Buffer; filter: TarFilter; early: boolean }> {
  let early = false;
  const filter = new TarFilter(
    policy,
    decide,
    () => {
      early = true;
      filter.end();
    },
    undefined,
    digestKey,
  );
  const chunks: Buffer[] = [];
  filter.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    filter.on('end', resolve);
    filter.on('error', reject);
  });
  for (let at = 0; at < archive.length && !early; at += chunk) filter.write(archive.subarray(at, at + chunk));
  if (!early) filter.end();
  await done;
  return { out: Buffer.concat(chunks), filter, early };
}

/** Entry names of an archive, pax paths applied. */
function names(archive: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  let paxPath: string | undefined;
  for (;;) {
    const h = decodeHeader(archive.subarray(at, at + BLOCK));
    if (!h) return out;
    at += BLOCK;
    if (h.type === 'pax') paxPath = parsePaxRecords(archive.subarray(at, at + h.size)).get('path');
    else {
      out.push(paxPath ?? h.name);
      paxPath = undefined;
    }
    at += paddedSize(h.size);
  }
}

describe('TarFilter on archives dockerd wrote', () => {
  it('passes a whole tree through byte for byte (pax long name, fifo, symlink, hard link)', async () => {
    const { out, filter } = await run(newdir, rootfs('newdir'));
    const end = newdir.length - [...newdir].reverse().findIndex((b) => b !== 0);
    assert.deepEqual(out.subarray(0, paddedSize(end)), newdir.subarray(0, paddedSize(end)));
    assert.equal(filter.entries, 8);
    assert.ok(names(out).some((n) => n.endsWith('/file-with-a-long-path.txt') && n.length > 100));
  });

  it('drops the entries decide skips (with their pax headers), keeping the archive valid', async () => {
    const { out } = await run(newdir, rootfs('newdir'), (e) => (e.path.startsWith('newdir/000') ? 'skip' : 'keep'));
    assert.deepEqual(names(out), [
      'newdir/',
      'newdir/fifo',
      'newdir/hard',
      'newdir/link',
      'newdir/sub/',
      'newdir/sub/f',
    ]);
    assert.deepEqual(out.subarray(out.length - 2 * BLOCK), END_OF_ARCHIVE);
  });

  it("keep-last ends the archive after one entry: a folder's own metadata without its content", async () => {
    const { out, early } = await run(etc, rootfs('etc'), (e) => (e.type === 'dir' ? 'keep-last' : 'keep'), 700);
    assert.equal(early, true);
    assert.deepEqual(names(out), ['etc/']);
    assert.equal(out.length, BLOCK + 2 * BLOCK);
  });

  it('refuses an archive that is not the path asked for (a checkpoint must be plain files under its name)', async () => {
    await assert.rejects(run(newdir, rootfs('cp1')), TarFormatError);
    await assert.rejects(
      run(newdir, { root: 'newdir', allowLinks: false, allowDevices: false }),
      /refused a (device|symlink|hard link)/,
    );
  });
});

describe('TarFilter digests', () => {
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  it('digests the content of each kept file (not its padding), a hard link as its target, in any chunking', async () => {
    for (const chunk of [1, 7, 333, 512, 100_000]) {
      const { filter } = await run(
        newdir,
        rootfs('newdir'),
        (e) => (e.path === 'newdir/fifo' ? 'skip' : 'keep'),
        chunk,
        (p) => `/x/${p}`,
      );
      const long = `/x/newdir/${'0'.repeat(120)}/file-with-a-long-path.txt`;
      const content = (p: string) => {
        const d = filter.digests.get(p);
        return d && { size: d.size, sha256: d.sha256 };
      };
      assert.deepEqual(
        [...filter.digests.keys()].sort(),
        [long, '/x/newdir/hard', '/x/newdir/sub/f'].sort(),
        `chunk ${chunk}`,
      );
      assert.equal(content(long)!.size, 5);
      assert.deepEqual(content('/x/newdir/sub/f'), content('/x/newdir/hard'));
      assert.equal(content('/x/newdir/hard')!.size, 2);
      // The same content read out of the archive by tar's own layout: header, then size bytes.
      const at = newdir.indexOf(Buffer.from('newdir/hard\0'));
      const h = decodeHeader(newdir.subarray(at, at + BLOCK))!;
      assert.equal(
        content('/x/newdir/hard')!.sha256,
        createHash('sha256')
          .update(newdir.subarray(at + BLOCK, at + BLOCK + h.size))
          .digest('hex'),
      );
    }
  });

  it('digests nothing decide skips or digestKey leaves out, and an empty file as such', async () => {
    const archive = Buffer.concat([
      encodeEntry({ name: 'cp', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, devmajor: 0, devminor: 0 }),
      encodeFileEntry({ name: 'cp/pages-1.img', mode: 0o600, uid: 0, gid: 0, mtime: 0 }, Buffer.from('pages')),
      encodeFileEntry({ name: 'cp/skipped.img', mode: 0o600, uid: 0, gid: 0, mtime: 0 }, Buffer.from('x')),
      encodeFileEntry({ name: 'cp/empty.img', mode: 0o600, uid: 0, gid: 0, mtime: 0 }, Buffer.alloc(0)),
      END_OF_ARCHIVE,
    ]);
    const { filter } = await run(
      archive,
      { root: 'cp', allowLinks: false, allowDevices: false },
      (e) => (e.path === 'cp/skipped.img' ? 'skip' : 'keep'),
      100,
      (p) => (p.startsWith('cp/') ? p.slice(3) : undefined),
    );
    assert.deepEqual(Object.fromEntries(filter.digests), {
      'pages-1.img': { sha256: sha('pages'), size: 5 },
      'empty.img': { sha256: sha(''), size: 0 },
    });
  });
});

describe('TarFilter on hostile archives', () => {
  const entry = (name: string, type: 'file' | 'dir' | 'symlink', content = '', linkname = '') => {
    const header = Buffer.from(
      encodeEntry({ name, type, mode: 0o644, uid: 0, gid: 0, mtime: 0, devmajor: 0, devminor: 0, linkname }),
    );
    if (type !== 'file') return header;
    // encodeEntry writes size 0; set the size and fix the checksum for a file with content.
    const last = header.subarray(header.length - BLOCK);
    last.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
    last.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of last) sum += b;
    last.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return Buffer.concat([header, pad(Buffer.from(content))]);
  };
  const archive = (...entries: Buffer[]) => Buffer.concat([...entries, END_OF_ARCHIVE]);

  for (const [what, bad] of [
    ['an absolute name', archive(entry('data/', 'dir'), entry('/etc/cron.d/x', 'file', 'evil'))],
    ['a ".." name', archive(entry('data/', 'dir'), entry('data/../../etc/x', 'file', 'evil'))],
    [
      'a long ".." name in a pax record',
      archive(
        entry('data/', 'dir'),
        entry(
          `data/${'a/'.repeat(60)}../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../x`,
          'file',
          'evil',
        ),
      ),
    ],
    [
      'a file written through a symlink',
      archive(entry('data/', 'dir'), entry('data/l', 'symlink', '', '/etc'), entry('data/l/passwd', 'file', 'evil')),
    ],
  ] as const) {
    it(`refuses ${what}`, async () => {
      await assert.rejects(run(bad, rootfs('data')), TarFormatError);
    });
  }

  it('refuses an archive cut in the middle of an entry', async () => {
    const whole = archive(entry('data/', 'dir'), entry('data/f', 'file', 'x'.repeat(2000)));
    await assert.rejects(run(whole.subarray(0, 3 * BLOCK), rootfs('data')), /ends in the middle/);
  });
});
