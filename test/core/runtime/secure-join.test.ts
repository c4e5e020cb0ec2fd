import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanPath, secureJoin } from '../../../src/core/runtime/secure-join.js';

/** A rootfs given as its symlinks: path → target. */
const rootfs = (links: Record<string, string>) => (path: string) => links[path];

describe('secureJoin (filepath-securejoin v0.2.3 semantics)', () => {
  it("follows an absolute link from the rootfs, as runc's own checkpoint test sets it up", () => {
    assert.equal(secureJoin('/conf', rootfs({ '/conf': '/real/conf' })), '/real/conf');
    assert.equal(secureJoin('/conf/sub/', rootfs({ '/conf': '/real/conf' })), '/real/conf/sub');
  });

  it('follows relative links from their folder, and links to links', () => {
    assert.equal(secureJoin('/a/b/c', rootfs({ '/a/b': '../x', '/x': 'y', '/y': '/z/w' })), '/z/w/c');
  });

  it('never leaves the rootfs: ".." and links above "/" stay at "/"', () => {
    assert.equal(secureJoin('/etc', rootfs({ '/etc': '../../../../host/etc' })), '/host/etc');
    assert.equal(secureJoin('/../../x', rootfs({})), '/x');
    assert.equal(secureJoin('/a/../../b', rootfs({ '/a': '/deep/er' })), '/b');
  });

  it('takes missing components as plain folders, and cleans the result', () => {
    assert.equal(secureJoin('//data/./new//', rootfs({})), '/data/new');
    assert.equal(secureJoin('', rootfs({})), '/');
  });

  it('gives up after 255 links, as securejoin does (ELOOP)', () => {
    assert.equal(secureJoin('/loop', rootfs({ '/loop': '/loop' })), undefined);
    assert.equal(secureJoin('/a', rootfs({ '/a': 'b', '/b': 'a' })), undefined);
  });

  it('asks the rootfs only about paths whose folders are no symlinks', () => {
    const asked: string[] = [];
    secureJoin('/l/x/y', (p) => {
      asked.push(p);
      return p === '/l' ? '/real' : undefined;
    });
    assert.deepEqual(asked, ['/l', '/real', '/real/x', '/real/x/y']);
  });
});

describe('cleanPath', () => {
  it("is Go's filepath.Clean for absolute paths", () => {
    assert.equal(cleanPath('/'), '/');
    assert.equal(cleanPath('/a/../..'), '/');
    assert.equal(cleanPath('/a//b/./c/..'), '/a/b');
  });
});
