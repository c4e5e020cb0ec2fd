import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtmountError } from '../../../src/core/errors.js';
import {
  LAZY_PIPE_BYTES,
  chooseLiveMode,
  daemonEnd,
  lazyPagesArgv,
  parseLivePages,
  parseLiveReady,
  parseLiveRequest,
  tlsCriuArgs,
  tlsCriuOptions,
  transferredPages,
  withVerbFlags,
  type LiveFacts,
} from '../../../src/core/live/live-request.js';

const can: LiveFacts = {
  uffd: true,
  dirtyTracking: false,
  pipeMaxSize: LAZY_PIPE_BYTES,
  runtimeProblem: undefined,
  localProblem: undefined,
  tlsProblem: undefined,
};

function refused(fn: () => unknown, message: RegExp, hint: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ExtmountError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, message);
    assert.match(err.hint ?? '', hint);
    return true;
  });
}

describe("the page server's TLS options", () => {
  it('name the three files of the live dir, as config lines and as arguments', () => {
    assert.deepEqual(tlsCriuOptions('/run/extmount/live/abc'), [
      ['tls'],
      ['tls-cacert', '/run/extmount/live/abc/tls-ca.pem'],
      ['tls-cert', '/run/extmount/live/abc/tls-cert.pem'],
      ['tls-key', '/run/extmount/live/abc/tls-key.pem'],
    ]);
    assert.deepEqual(tlsCriuArgs('/d'), [
      '--tls',
      '--tls-cacert',
      '/d/tls-ca.pem',
      '--tls-cert',
      '/d/tls-cert.pem',
      '--tls-key',
      '/d/tls-key.pem',
    ]);
  });
});

describe('--live: which mode runs, and why', () => {
  it('bare --live picks post-copy where userfaultfd, the pipe size, the runtime and local data allow it', () => {
    assert.deepEqual(chooseLiveMode('auto', can).mode, 'postcopy');
    assert.match(chooseLiveMode('auto', can).why, /post-copy/);
    assert.deepEqual(chooseLiveMode('postcopy', can), { mode: 'postcopy', why: '--live=postcopy' });
  });

  it('falls back to stop-and-copy, naming what keeps post-copy and pre-copy from running (this kernel: no dirty tracking)', () => {
    const small = chooseLiveMode('auto', { ...can, pipeMaxSize: 1048576 });
    assert.equal(small.mode, 'off');
    assert.match(
      small.why,
      /^stop-and-copy: post-copy cannot run \(fs\.pipe-max-size is 1048576, below the 4194304 bytes/,
    );
    assert.match(small.why, /pre-copy cannot run \(this kernel has no soft-dirty page tracking/);
    assert.match(chooseLiveMode('auto', { ...can, uffd: false }).why, /no non-cooperative userfaultfd/);
    assert.equal(chooseLiveMode('off', can).mode, 'off');
  });

  it('refuses an explicit mode these hosts cannot run (exit 2), with what to do', () => {
    refused(
      () => chooseLiveMode('postcopy', { ...can, pipeMaxSize: 65536 }),
      /^--live=postcopy cannot run: fs\.pipe-max-size is 65536/,
      /sysctl -w fs\.pipe-max-size=4194304/,
    );
    refused(
      () =>
        chooseLiveMode('postcopy', {
          ...can,
          runtimeProblem: 'c runs under the runtime "runc", which on B is /usr/bin/runc, not the extmount runtime',
        }),
      /not the extmount runtime/,
      /extmount install-runtime/,
    );
    refused(
      () =>
        chooseLiveMode('postcopy', {
          ...can,
          tlsProblem: "openssl(1), which makes the page server's TLS certificate, is not installed",
        }),
      /openssl\(1\).* is not installed/,
      /apt-get install openssl/,
    );
    assert.match(
      chooseLiveMode('auto', { ...can, tlsProblem: 'openssl(1) … is not installed' }).why,
      /^stop-and-copy: post-copy cannot run \(openssl/,
    );
    refused(
      () => chooseLiveMode('precopy', can),
      /^--live=precopy cannot run: this kernel has no soft-dirty page tracking/,
      /--live=off/,
    );
    refused(
      () => chooseLiveMode('precopy', { ...can, dirtyTracking: true }),
      /pre-copy is not built yet/,
      /--live=off/,
    );
    // A problem both modes share is named for either.
    refused(
      () => chooseLiveMode('precopy', { ...can, localProblem: "B's data (/x) is not on this host" }),
      /not on this host/,
      /--live=off/,
    );
  });
});

describe('live migration files', () => {
  const request = {
    role: 'dump',
    address: '127.0.0.1',
    port: 27100,
    expiresAt: 1,
    connectWithinMs: 300000,
    peer: 'b'.repeat(64),
  };

  it('reads a request, and refuses anything else (a host name, a port out of range, a role it does not know, no bound)', () => {
    assert.deepEqual(parseLiveRequest(JSON.stringify(request), 'r.json'), request);
    for (const bad of [
      { ...request, address: 'localhost' },
      { ...request, address: '256.0.0.1' },
      { ...request, port: 0 },
      { ...request, port: 70000 },
      { ...request, role: 'both' },
      { ...request, connectWithinMs: 10 },
      { ...request, expiresAt: 'soon' },
      null,
      [],
    ]) {
      assert.throws(
        () => parseLiveRequest(JSON.stringify(bad), 'r.json'),
        /r\.json: not a live migration request/,
        JSON.stringify(bad),
      );
    }
    // A dump names where its pages go (its wrapper ends the source only once that one has them all); a restore needs no peer.
    assert.throws(
      () => parseLiveRequest(JSON.stringify({ ...request, peer: undefined }), 'r.json'),
      /names the container its pages go to/,
    );
    assert.throws(
      () => parseLiveRequest(JSON.stringify({ ...request, peer: '../x' }), 'r.json'),
      /names the container its pages go to/,
    );
    const { peer: _peer, ...restore } = { ...request, role: 'restore' };
    assert.deepEqual(parseLiveRequest(JSON.stringify({ ...restore, peer: 'ignored' }), 'r.json'), restore);
    assert.throws(() => parseLiveRequest('{', 'r.json'), /r\.json: not JSON/);
  });

  it('reads ready and pages records, and nothing that is not one', () => {
    const ready = { imagePath: '/i', workPath: '/w', pid: 4, address: '127.0.0.1', port: 27100 };
    assert.deepEqual(parseLiveReady(JSON.stringify(ready)), ready);
    assert.equal(parseLiveReady(JSON.stringify({ ...ready, imagePath: 'rel' })), undefined);
    assert.equal(parseLiveReady(JSON.stringify({ ...ready, address: 'example.org' })), undefined);
    assert.equal(parseLiveReady('nope'), undefined);
    assert.equal(parseLivePages('{"ok":true,"exitCode":0,"signal":null,"transferred":3,"total":3}')?.ok, true);
    assert.equal(parseLivePages('{"exitCode":0}'), undefined);
  });

  it('takes the last page count of a lazy-pages log (criu/uffd.c)', () => {
    const log =
      '(00.1) uffd: 1-12: #PF at 0xf061000\n(00.2) UFFD transferred pages: (100/16392)\n(00.9) UFFD transferred pages: (16392/16392)\n';
    assert.deepEqual(transferredPages(log), { transferred: 16392, total: 16392 });
    assert.equal(
      transferredPages('Error (criu/page-xfer.c:1651): page-xfer: Remote side closed connection'),
      undefined,
    );
  });

  it("puts runc's flags right after the verb, the globals and the container ID where they were", () => {
    assert.deepEqual(withVerbFlags(['--root', '/r', 'checkpoint', '--image-path', '/i', 'id'], 2, ['--lazy-pages']), [
      '--root',
      '/r',
      'checkpoint',
      '--lazy-pages',
      '--image-path',
      '/i',
      'id',
    ]);
    assert.deepEqual(withVerbFlags(['restore', 'id'], 0, ['--lazy-pages']), ['restore', '--lazy-pages', 'id']);
  });
});

describe("the lazy-pages daemon's start and end", () => {
  const job = {
    criu: '/opt/extmount/criu',
    address: '10.0.0.2',
    port: 41000,
    images: '/img',
    work: '/work',
    log: '/live/lazy-pages.log',
    runc: 'runc',
    runcGlobals: [],
    id: 'c1',
    stateDir: '/var/lib/extmount',
    tlsDir: '/live',
  };

  it('runs criu lazy-pages against the page server, over TLS, logging to the live dir', () => {
    const argv = lazyPagesArgv(job);
    assert.deepEqual(argv.slice(0, 11), [
      '/opt/extmount/criu',
      'lazy-pages',
      '--page-server',
      '--address',
      '10.0.0.2',
      '--port',
      '41000',
      '--images-dir',
      '/img',
      '--work-dir',
      '/work',
    ]);
    assert.deepEqual(argv.slice(11, -3), tlsCriuArgs('/live'));
    assert.deepEqual(argv.slice(-3), ['-o', '/live/lazy-pages.log', '-v4']);
  });

  it("reads the shell's status line: an exit code, a death by signal (128+N), nothing until the line is whole", () => {
    assert.deepEqual(daemonEnd('0\n'), { exitCode: 0, signal: null });
    assert.deepEqual(daemonEnd('1\n'), { exitCode: 1, signal: null });
    assert.deepEqual(daemonEnd('127\n'), { exitCode: 127, signal: null });
    assert.deepEqual(daemonEnd('137\n'), { exitCode: null, signal: 'SIGKILL' });
    assert.deepEqual(daemonEnd('143\n'), { exitCode: null, signal: 'SIGTERM' });
    for (const partial of ['', '1', '13', 'x\n', '1\n2\n', '-1\n', '1000\n'])
      assert.equal(daemonEnd(partial), undefined, partial);
  });
});
