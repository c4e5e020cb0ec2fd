import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BLOCK,
  decodeHeader,
  encodeEntry,
  entryPath,
  entryRefusal,
  parsePaxRecords,
  TarFormatError,
} from '../../../src/core/migrate/migrate-tar.js';

describe('tar headers', () => {
  it('round-trips a whiteout (0:0 character device)', () => {
    const block = encodeEntry({
      name: 'etc/group',
      type: 'char',
      mode: 0,
      uid: 0,
      gid: 0,
      mtime: 1700000000,
      devmajor: 0,
      devminor: 0,
    });
    assert.equal(block.length, BLOCK);
    assert.deepEqual(decodeHeader(block), {
      name: 'etc/group',
      type: 'char',
      mode: 0,
      uid: 0,
      gid: 0,
      size: 0,
      mtime: 1700000000,
      linkname: '',
      devmajor: 0,
      devminor: 0,
    });
  });

  it('a long name goes into a pax path record', () => {
    const name = `upper/${'d'.repeat(150)}/file`;
    const blocks = encodeEntry({ name, type: 'char', mode: 0, uid: 0, gid: 0, mtime: 0, devmajor: 0, devminor: 0 });
    const pax = decodeHeader(blocks.subarray(0, BLOCK))!;
    assert.equal(pax.type, 'pax');
    const records = parsePaxRecords(blocks.subarray(BLOCK, BLOCK + pax.size));
    assert.equal(records.get('path'), name);
    assert.equal(decodeHeader(blocks.subarray(2 * BLOCK, 3 * BLOCK))!.type, 'char');
  });

  it('a zero block ends the archive; a bad checksum or unknown type is refused', () => {
    assert.equal(decodeHeader(Buffer.alloc(BLOCK)), null);
    const block = encodeEntry({
      name: 'x',
      type: 'dir',
      mode: 0o755,
      uid: 0,
      gid: 0,
      mtime: 0,
      devmajor: 0,
      devminor: 0,
    });
    const corrupt = Buffer.from(block);
    corrupt[0] = 0x79;
    assert.throws(() => decodeHeader(corrupt), TarFormatError);
    const odd = Buffer.from(block);
    odd.write('Z', 156);
    odd.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of odd) sum += b;
    odd.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    assert.throws(() => decodeHeader(odd), /unsupported entry type/);
  });

  it('reads GNU base-256 numbers', () => {
    const block = Buffer.from(
      encodeEntry({ name: 'big', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, devmajor: 0, devminor: 0 }),
    );
    block.fill(0, 124, 136);
    block[124] = 0x80;
    block.writeUIntBE(2 ** 34, 130, 6);
    block.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of block) sum += b;
    block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    assert.equal(decodeHeader(block)!.size, 2 ** 34);
  });
});

describe('entries from the source are data', () => {
  it('entryPath normalises and refuses absolute names, "..", NUL and newlines', () => {
    assert.equal(entryPath('./cp/a/'), 'cp/a');
    for (const bad of ['/etc/passwd', 'cp/../../etc', '..', 'a\0b', 'a\nb', '.', '']) {
      assert.equal(typeof entryPath(bad), 'object', bad);
    }
  });

  const checkpoint = { root: 'cp1', allowLinks: false, allowDevices: false };
  const rootfs = { root: 'newdir', allowLinks: true, allowDevices: true };

  it('a checkpoint holds plain files and folders under its own name only', () => {
    const links = new Set<string>();
    assert.equal(entryRefusal({ path: 'cp1/pages-1.img', type: 'file', linkname: '' }, checkpoint, links), undefined);
    assert.match(entryRefusal({ path: 'cp2/x', type: 'file', linkname: '' }, checkpoint, links)!, /outside/);
    assert.match(entryRefusal({ path: 'cp1/x', type: 'symlink', linkname: '/etc' }, checkpoint, links)!, /symlink/);
    assert.match(entryRefusal({ path: 'cp1/x', type: 'hardlink', linkname: 'cp1/y' }, checkpoint, links)!, /hard link/);
    assert.match(entryRefusal({ path: 'cp1/x', type: 'char', linkname: '' }, checkpoint, links)!, /device/);
  });

  it('a container tree may hold links and devices, but nothing is written through a symlink', () => {
    const links = new Set<string>();
    assert.equal(entryRefusal({ path: 'newdir/link', type: 'symlink', linkname: '/etc' }, rootfs, links), undefined);
    assert.match(
      entryRefusal({ path: 'newdir/link/passwd', type: 'file', linkname: '' }, rootfs, links)!,
      /below the symlink/,
    );
    assert.equal(
      entryRefusal({ path: 'newdir/hard', type: 'hardlink', linkname: 'newdir/f' }, rootfs, links),
      undefined,
    );
    assert.match(
      entryRefusal({ path: 'newdir/hard', type: 'hardlink', linkname: '../etc/shadow' }, rootfs, links)!,
      /hard link/,
    );
    assert.match(
      entryRefusal({ path: 'newdir/hard', type: 'hardlink', linkname: 'etc/shadow' }, rootfs, links)!,
      /outside the archive/,
    );
    assert.equal(entryRefusal({ path: 'newdir/fifo', type: 'fifo', linkname: '' }, rootfs, links), undefined);
  });
});
