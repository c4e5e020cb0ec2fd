// The page server's TLS files for one post-copy migration (LIVE_TLS_* in core/live/live-request.ts),
// made with openssl(1): a CA for this migration alone, whose key is deleted once it has signed one
// certificate for the page server's address, used by both ends (CRIU checks the peer's certificate
// against the CA and that address on both sides: criu/tls.c).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ExtmountError } from '../../core/errors.js';
import { isPageServerAddress } from '../../core/live/live-request.js';
import type { LiveTls } from './live-files.js';

const execFileAsync = promisify(execFile);
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Why openssl(1) cannot make the certificate here; undefined when it can. */
export async function opensslProblem(openssl = 'openssl'): Promise<string | undefined> {
  return execFileAsync(openssl, ['version'], { timeout: 10_000 }).then(
    () => undefined,
    (err: NodeJS.ErrnoException) =>
      `openssl(1), which makes the page server's TLS certificate, ${err.code === 'ENOENT' ? 'is not installed' : `fails (${err.message.split('\n')[0]})`}`,
  );
}

export async function makeLiveTls(stateDir: string, address: string, openssl = 'openssl'): Promise<LiveTls> {
  if (!isPageServerAddress(address))
    throw new ExtmountError('bad-input', `not an IPv4 address for the page server: ${JSON.stringify(address)}`);
  const parent = join(stateDir, 'live');
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(parent, '.tls-'));
  try {
    const run = (args: string[]) => execFileAsync(openssl, args, { cwd: dir, timeout: 30_000 });
    await run([
      'req',
      '-x509',
      ...KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=extmount live migration',
    ]);
    await run(['req', ...KEY, '-keyout', 'key.pem', '-out', 'req.csr', '-subj', `/CN=${address}`]);
    await writeFile(
      join(dir, 'ext.cnf'),
      `subjectAltName=IP:${address}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n`,
      { mode: 0o600 },
    );
    await run([
      'x509',
      '-req',
      '-in',
      'req.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
      '-out',
      'cert.pem',
    ]);
    const [ca, cert, key] = await Promise.all(
      ['ca.pem', 'cert.pem', 'key.pem'].map((f) => readFile(join(dir, f), 'utf8')),
    );
    return { ca: ca!, cert: cert!, key: key! };
  } catch (err) {
    throw new ExtmountError(
      'refused',
      `post-copy: making the page server's TLS certificate with openssl failed: ${(err as Error).message.split('\n')[0]}`,
      { hint: 'migrate with --live=off', cause: err },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
