// extmount installed as a user installs a CLI: `npm pack`, then `npm install -g` of the tarball into a
// temporary prefix, then the installed `extmount` run from that prefix's bin (README "Install").
//
// No traffic leaves loopback. `npm install --offline` cannot install a tarball here: npm ci caches the
// dependencies' tarballs but not the registry documents (packuments) npm needs to resolve the tarball's
// version ranges (ENOTCACHED). So a registry on 127.0.0.1 serves packuments made from package-lock.json
// (one version each, the locked one) and nothing else; npm takes every tarball from its cache by the
// lockfile's integrity. A dependency missing from the cache is then a 404 from that registry: the test
// is skipped loudly, or fails under EXTMOUNT_E2E=required.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { skipE2E } from './helpers/e2e.js';
import { FIXTURES } from './helpers/fixtures.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string };

interface LockEntry {
  name?: string;
  version?: string;
  integrity?: string;
  link?: boolean;
  [field: string]: unknown;
}

/** Registry documents for every package of package-lock.json, with tarball URLs on `base` (served by nobody: npm's cache has them). */
function packuments(
  base: string,
): Map<string, { name: string; versions: Record<string, unknown>; 'dist-tags': { latest: string } }> {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const docs = new Map<string, { name: string; versions: Record<string, unknown>; 'dist-tags': { latest: string } }>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.link || !entry.version || !entry.integrity) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    // What a registry's manifest holds of it; the lockfile's own flags (dev, optional, resolved …) are not manifest fields.
    const {
      resolved: _r,
      integrity,
      dev: _d,
      optional: _o,
      peer: _p,
      devOptional: _do,
      license: _l,
      hasInstallScript: _h,
      ...manifest
    } = entry;
    const doc = docs.get(name) ?? { name, versions: {}, 'dist-tags': { latest: entry.version } };
    doc.versions[entry.version] = {
      ...manifest,
      name,
      version: entry.version,
      dist: { integrity, tarball: `${base}${name}/-/${name.split('/').pop()}-${entry.version}.tgz` },
    };
    docs.set(name, doc);
  }
  return docs;
}

/** The environment for npm: this one without what an outer `npm test` sets (npm_config_*, npm_lifecycle_* …). */
function npmEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^npm_/i.test(e[0])),
  );
}

interface PackReport {
  filename: string;
  files: Array<{ path: string }>;
}

describe('npm pack + npm install -g of the tarball: a working extmount on PATH', () => {
  let dir = '';
  let server: Server | undefined;
  let registry = '';
  let docs: ReturnType<typeof packuments> | undefined;
  const requests: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-install-'));
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      docs ??= packuments(registry);
      const doc = docs.get(decodeURIComponent((req.url ?? '/').slice(1)));
      res.writeHead(doc ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc ?? { error: 'not found' }));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs from the packed tarball; --version, detect --mountinfo and install-runtime work from the prefix', async (t) => {
    const packed = await execa('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: REPO,
      env: npmEnv(),
      extendEnv: false,
      reject: false,
    });
    assert.equal(packed.exitCode, 0, `npm pack failed: ${packed.stderr}`);
    // npm 11 prints [{filename, files}]; npm 12 (Debian sid) prints {"<name>": {filename, files}}.
    const packReport = JSON.parse(String(packed.stdout)) as PackReport[] | Record<string, PackReport>;
    const { filename, files } =
      (Array.isArray(packReport) ? packReport[0] : Object.values(packReport)[0]) ??
      assert.fail(`npm pack printed no package: ${String(packed.stdout)}`);
    const paths = new Set(files.map((f) => f.path));
    for (const needed of [
      'build/src/cli/extmount.cjs',
      'build/src/cli-bundle/cli.cjs',
      'build/src/cli-bundle/cli.cjs.cache',
      'build/src/runtime/handler.cjs',
      'build/src/runtime/handler.bundle.cjs',
      'build/src/runtime/handler.bundle.cjs.cache',
      'build/src/runtime/lazy-supervisor.mjs',
      'hooks/extmount-runc',
      'hooks/docker-extmount',
      'config.json',
    ]) {
      assert.ok(paths.has(needed), `the tarball lacks ${needed} (package.json "files"; or run npm run build first)`);
    }

    const prefix = join(dir, 'prefix');
    // --ignore-scripts: optional native builds (cpu-features under ssh2) would fetch Node's headers.
    const install = await execa(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--registry',
        registry,
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--no-update-notifier',
        join(dir, filename),
      ],
      { cwd: dir, env: npmEnv(), extendEnv: false, reject: false },
    );
    if (install.exitCode !== 0) {
      const unresolved = /E404|ENOTCACHED|ETARGET/.test(String(install.stderr));
      if (unresolved)
        return skipE2E(
          t,
          `npm could not install the tarball's dependencies offline (run npm ci first to fill npm's cache): ${
            String(install.stderr)
              .split('\n')
              .find((l) => /error/.test(l)) ?? install.stderr
          }`,
        );
      assert.fail(`npm install -g failed: ${install.stderr}`);
    }
    // Nothing but registry documents was asked for: every tarball came from npm's cache.
    assert.deepEqual(
      requests.filter((r) => r.includes('/-/')),
      [],
    );

    const bin = join(prefix, 'bin', 'extmount');
    const installed = join(prefix, 'lib', 'node_modules', PACKAGE.name);
    assert.equal(realpathSync(bin), join(installed, 'build/src/cli/extmount.cjs'));
    const env = { ...npmEnv(), EXTMOUNT_CONFIG: join(dir, 'no-config.json') };

    const version = await execa(bin, ['--version'], { env, extendEnv: false, reject: false });
    assert.equal(version.exitCode, 0, version.stderr);
    assert.equal(String(version.stdout).trim(), PACKAGE.version);

    const detect = await execa(
      bin,
      ['detect', '--mountinfo', join(FIXTURES, 'mountinfo/seed.mountinfo'), '--key', '/bar=barmount', '--json'],
      { env, extendEnv: false, reject: false },
    );
    assert.equal(detect.exitCode, 0, detect.stderr);
    const report = JSON.parse(String(detect.stdout)) as {
      external: Array<{ mountpoint: string; key: string }>;
      criu: { dump: string[] };
    };
    assert.deepEqual(
      report.external.map((e) => [e.mountpoint, e.key]),
      [['/bar', 'barmount']],
    );
    assert.deepEqual(report.criu.dump.slice(0, 2), ['--external', 'mnt[/bar]:barmount']);

    const daemonJson = join(dir, 'daemon.json');
    await writeFile(daemonJson, '{"live-restore": true}\n');
    const apply = await execa(bin, ['install-runtime', '--apply', '--daemon-json', daemonJson, '--json'], {
      env,
      extendEnv: false,
      reject: false,
    });
    assert.equal(apply.exitCode, 0, apply.stderr);
    const written = JSON.parse(await readFile(daemonJson, 'utf8')) as {
      'live-restore': boolean;
      runtimes: Record<string, { path: string }>;
    };
    assert.equal(written['live-restore'], true, 'the merge keeps what daemon.json held');
    const hook = written.runtimes.extmount?.path;
    assert.equal(hook, join(installed, 'hooks/extmount-runc'), "the runtime is the installed package's hook");
    assert.ok(existsSync(hook) && (statSync(hook).mode & 0o111) !== 0, `${hook} is not an executable file`);

    // The hook hands every verb but checkpoint and restore to runc: `--version` answers as runc does.
    const runc = await execa('runc', ['--version'], { env, extendEnv: false, reject: false }).catch(() => undefined);
    if (!runc || runc.exitCode !== 0)
      return skipE2E(t, 'runc is not installed, so the installed hook cannot be run (run scripts/provision.sh)');
    const wrapped = await execa(hook, ['--version'], { env, extendEnv: false, reject: false });
    assert.equal(wrapped.exitCode, 0, wrapped.stderr);
    assert.equal(String(wrapped.stdout), String(runc.stdout));
  });
});
