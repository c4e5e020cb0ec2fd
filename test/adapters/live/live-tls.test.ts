// The page server's TLS files for one post-copy migration, made with the real openssl(1).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { execa } from 'execa';
import { liveDir, missingLiveTls, writeLiveTls } from '../../../src/adapters/live/live-files.js';
import { makeLiveTls, opensslProblem } from '../../../src/adapters/live/live-tls.js';

describe("the page server's TLS files", () => {
  const dirs: string[] = [];
  after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('one certificate for the address, signed by a CA of its own whose key is gone; written root-only; each migration a new CA', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'extmount-tls-'));
    dirs.push(stateDir);
    assert.equal(await opensslProblem(), undefined);
    const tls = await makeLiveTls(stateDir, '127.0.0.1');
    const ca = new X509Certificate(tls.ca);
    const cert = new X509Certificate(tls.cert);
    assert.ok(ca.ca && !cert.ca);
    assert.ok(cert.verify(ca.publicKey), 'signed by the CA');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('127.0.0.2'), undefined);
    assert.match(tls.key, /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(tls.key)));
    // Nothing left behind where it was made: the CA's key is gone.
    assert.deepEqual(await readdir(join(stateDir, 'live')), []);
    assert.equal(await missingLiveTls(stateDir, 'c1'), join(liveDir(stateDir, 'c1'), 'tls-ca.pem'));
    await writeLiveTls(stateDir, 'c1', tls);
    assert.equal(await missingLiveTls(stateDir, 'c1'), undefined);
    for (const f of await readdir(liveDir(stateDir, 'c1')))
      assert.equal((await stat(join(liveDir(stateDir, 'c1'), f))).mode & 0o777, 0o600, f);
    // openssl's own check: the chain and the address, as CRIU's GnuTLS checks them.
    const dir = liveDir(stateDir, 'c1');
    const verified = await execa(
      'openssl',
      ['verify', '-CAfile', join(dir, 'tls-ca.pem'), '-verify_ip', '127.0.0.1', join(dir, 'tls-cert.pem')],
      { reject: false },
    );
    assert.equal(verified.exitCode, 0, verified.stderr);
    const other = await makeLiveTls(stateDir, '127.0.0.1');
    assert.ok(
      !new X509Certificate(other.cert).verify(ca.publicKey),
      "another migration's certificate is not trusted by this one's CA",
    );
  });

  it('refuses an address that is not an IPv4 literal', async () => {
    await assert.rejects(makeLiveTls(tmpdir(), '127.0.0.1/CN=x'), /not an IPv4 address/);
  });

  it('names openssl when it is missing', async () => {
    assert.match((await opensslProblem('/nonexistent/openssl')) ?? '', /openssl\(1\).* is not installed/);
  });
});
